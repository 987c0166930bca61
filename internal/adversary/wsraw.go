//go:build linux

package adversary

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// Frame is one WebSocket frame, as written or read, with nothing checked: an attack may set
// reserved bits, leave a client frame unmasked or give a control frame 200 bytes.
type Frame struct {
	Fin     bool
	RSV     byte // the three reserved bits, 0..7
	Op      byte // 0..15
	Masked  bool
	Payload []byte
}

// AppendFrame appends f's wire form to dst, masking the payload with a random key when
// f.Masked. The length always uses the shortest form.
func AppendFrame(dst []byte, f Frame) []byte {
	b0 := f.Op & 0x0F
	b0 |= (f.RSV & 7) << 4
	if f.Fin {
		b0 |= 0x80
	}
	var maskBit byte
	if f.Masked {
		maskBit = 0x80
	}
	n := len(f.Payload)
	switch {
	case n <= 125:
		dst = append(dst, b0, maskBit|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, b0, maskBit|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, maskBit|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if !f.Masked {
		return append(dst, f.Payload...)
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, f.Payload...)
	mask(dst[start:], key)
	return dst
}

// mask XORs b with key, eight bytes at a time: megabyte frames are masked quickly even under
// the race detector, which instruments every access.
func mask(b []byte, key [4]byte) {
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	k |= k << 32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k)
	}
	for ; i < len(b); i++ {
		b[i] ^= key[i&3]
	}
}

// HandshakeError is an opening handshake the server answered with something else than 101.
type HandshakeError struct {
	Status int
	Body   string
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("websocket handshake answered %d %s: %q", e.Status, http.StatusText(e.Status), e.Body)
}

// WS is a raw WebSocket client connection: frames in, frames out, no checks and no automatic
// answers. Writes are safe from several goroutines; one goroutine reads.
type WS struct {
	Conn net.Conn

	br      *bufio.Reader
	wmu     sync.Mutex
	timeout time.Duration // bounds every write when set; see SetWriteTimeout
}

// SetWriteTimeout makes every later write fail if it is still blocked after d (0: never).
func (w *WS) SetWriteTimeout(d time.Duration) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.timeout = d
}

// handshakeKey is RFC 6455's example key; the suite does not check the accept value.
const handshakeKey = "dGhlIHNhbXBsZSBub25jZQ=="

// UpgradeRequest returns an opening handshake request for path on host, with extra header
// lines (each ending in \r\n) before the blank line.
func UpgradeRequest(host, path, extra string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + handshakeKey + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// Handshake performs the opening handshake for path on conn within ctx and returns the
// WebSocket. A refusal is a *HandshakeError.
func Handshake(ctx context.Context, conn net.Conn, path string) (*WS, error) {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, UpgradeRequest(conn.RemoteAddr().String(), path, "")); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	if err := ReadUpgradeResponse(br); err != nil {
		return nil, err
	}
	if !stop() {
		return nil, ctx.Err()
	}
	return &WS{Conn: conn, br: br}, nil
}

// ReadUpgradeResponse reads an HTTP response from br and returns nil if it is 101 Switching
// Protocols, a *HandshakeError otherwise.
func ReadUpgradeResponse(br *bufio.Reader) error {
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return &HandshakeError{Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
}

// WriteFrame writes one frame as is. The frame is put together before the write lock is
// taken, so that a pong is not held up by the masking of a megabyte message.
func (w *WS) WriteFrame(f Frame) error {
	return w.WriteRaw(AppendFrame(nil, f))
}

// WriteRaw writes bytes as they are, between whole frames.
func (w *WS) WriteRaw(b []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.deadline()
	_, err := w.Conn.Write(b)
	return err
}

// deadline sets the write deadline when a write timeout is set; w.wmu is held.
func (w *WS) deadline() {
	if w.timeout > 0 {
		_ = w.Conn.SetWriteDeadline(time.Now().Add(w.timeout))
	}
}

// WriteText writes one masked, final text frame: what a well-behaved client sends.
func (w *WS) WriteText(s string) error {
	return w.WriteFrame(Frame{Fin: true, Op: OpText, Masked: true, Payload: []byte(s)})
}

// errFrameTooLarge is a frame longer than ReadFrame's limit.
var errFrameTooLarge = errors.New("frame longer than the reader's limit")

// ReadFrame reads one frame of at most limit payload bytes, unmasking it if masked.
func (w *WS) ReadFrame(limit int) (Frame, error) {
	var f Frame
	var h [14]byte
	if _, err := io.ReadFull(w.br, h[:2]); err != nil {
		return f, err
	}
	f.Fin = h[0]&0x80 != 0
	f.RSV = (h[0] >> 4) & 7
	f.Op = h[0] & 0x0F
	f.Masked = h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		if _, err := io.ReadFull(w.br, h[:2]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if _, err := io.ReadFull(w.br, h[:8]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(h[:8])
	}
	if n > uint64(limit) {
		return f, fmt.Errorf("%w: %d bytes", errFrameTooLarge, n)
	}
	var key [4]byte
	if f.Masked {
		if _, err := io.ReadFull(w.br, key[:]); err != nil {
			return f, err
		}
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(w.br, f.Payload); err != nil {
		return f, err
	}
	if f.Masked {
		mask(f.Payload, key)
	}
	return f, nil
}

// CloseFrame is the code and reason of a close frame's payload; Code is 1005 when it has none.
func CloseFrame(payload []byte) (code int, reason string) {
	if len(payload) < 2 {
		return 1005, ""
	}
	return int(binary.BigEndian.Uint16(payload)), string(payload[2:])
}

// ClosePayload returns a close frame's payload for code and reason.
func ClosePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// ReadUntilClose reads frames until the server's close frame, and returns its code, or until
// the connection ends (code 1006) or ctx is done. Data frames on the way are skipped.
func (w *WS) ReadUntilClose(ctx context.Context) (code int, reason string, err error) {
	stop := context.AfterFunc(ctx, func() { _ = w.Conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		f, err := w.ReadFrame(4 << 20)
		if err != nil {
			if ctx.Err() != nil {
				return 0, "", fmt.Errorf("no close frame: %w", ctx.Err())
			}
			return 1006, "", nil
		}
		if f.Op == OpClose {
			code, reason := CloseFrame(f.Payload)
			return code, reason, nil
		}
	}
}
