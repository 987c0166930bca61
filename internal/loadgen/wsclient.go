package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The handshake sends RFC 6455's example key, so the accept value to expect is
// a constant and a connection costs no hashing.
const (
	handshakeKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	handshakeAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// ErrServerClosed is returned by reads once the server has closed the connection.
var ErrServerClosed = errors.New("the server closed the connection")

// wsConn is a minimal WebSocket client connection: one goroutine reads, any
// goroutine writes. It answers pings itself and hands data messages back in a
// buffer that is reused by the next read.
type wsConn struct {
	nc  net.Conn
	br  *bufio.Reader
	in  []byte // the last message read
	wmu sync.Mutex
	out []byte // frame being written, reused
	key [4]byte
}

// dialer opens TCP connections from a set of loopback source addresses, so
// that a run can hold more connections than one address has ephemeral ports.
type dialer struct {
	addr    string // host:port
	sources int    // 127.0.0.1 .. 127.0.0.sources; 0 or 1: let the system choose
}

func (d dialer) dial(ctx context.Context, i int) (net.Conn, error) {
	var nd net.Dialer
	if d.sources > 1 {
		nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%d.sources))}
	}
	c, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		// Close with a reset: runs open and close thousands of connections, and
		// TIME_WAIT would keep their source ports from the next ones.
		_ = tc.SetLinger(0)
	}
	return c, nil
}

// dialWebSocket opens connection i to host (host:port) and path and performs
// the opening handshake, then, if then is not nil, the steps of the protocol
// above (the Engine.IO and Socket.IO handshakes), all within timeout and ctx.
func dialWebSocket(ctx context.Context, d dialer, i int, host, path string, bufSize int, timeout time.Duration, then func(*wsConn) error) (*wsConn, error) {
	nc, err := d.dial(ctx, i)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	c := &wsConn{nc: nc, key: [4]byte{byte(i), byte(i >> 8), 0x5a, 0xa5}}
	err = c.handshake(host, path, bufSize)
	if err == nil && then != nil {
		err = then(c)
	}
	if !stop() && err != nil {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *wsConn) handshake(host, path string, bufSize int) error {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + handshakeKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c.nc, req); err != nil {
		return err
	}
	c.br = bufio.NewReaderSize(c.nc, bufSize)
	return c.readHandshake()
}

func (c *wsConn) readHandshake() error {
	status, err := c.br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 101 ")) {
		return fmt.Errorf("handshake: the server answered %q", bytes.TrimSpace(status))
	}
	accepted := false
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		if bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")) {
			accepted = string(bytes.TrimSpace(value)) == handshakeAccept
		}
	}
	if !accepted {
		return errors.New("handshake: missing or wrong Sec-WebSocket-Accept")
	}
	return nil
}

// write sends payload as one masked frame.
func (c *wsConn) write(opcode byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := append(c.out[:0], 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, c.key[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range payload {
		b[start+i] ^= c.key[i&3]
	}
	c.out = b
	_, err := c.nc.Write(b)
	return err
}

// read returns the next data message (text or binary). The payload is valid
// until the next call.
func (c *wsConn) read() (opcode byte, payload []byte, err error) {
	c.in = c.in[:0]
	var msgOp byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return 0, nil, c.readErr(err)
		}
		fin, op, n := h[0]&0x80 != 0, h[0]&0x0f, uint64(h[1]&0x7f)
		if h[1]&0x80 != 0 {
			return 0, nil, errors.New("the server sent a masked frame")
		}
		switch n {
		case 126:
			var e [2]byte
			if _, err := io.ReadFull(c.br, e[:]); err != nil {
				return 0, nil, c.readErr(err)
			}
			n = uint64(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			if _, err := io.ReadFull(c.br, e[:]); err != nil {
				return 0, nil, c.readErr(err)
			}
			n = binary.BigEndian.Uint64(e[:])
		}
		if n > 64<<20 {
			return 0, nil, fmt.Errorf("frame of %d bytes is beyond the load generator's 64 MiB limit", n)
		}
		if op >= opClose { // control frames may come between fragments
			var ctl [125]byte
			if n > uint64(len(ctl)) {
				return 0, nil, errors.New("control frame too long")
			}
			if _, err := io.ReadFull(c.br, ctl[:n]); err != nil {
				return 0, nil, c.readErr(err)
			}
			switch op {
			case opPing:
				if err := c.write(opPong, ctl[:n]); err != nil {
					return 0, nil, err
				}
			case opClose:
				code := 1005
				if n >= 2 {
					code = int(binary.BigEndian.Uint16(ctl[:2]))
				}
				_ = c.write(opClose, ctl[:min(n, 2)])
				return 0, nil, fmt.Errorf("%w (close code %d)", ErrServerClosed, code)
			}
			continue
		}
		if op != opContinuation {
			msgOp = op
		}
		start := len(c.in)
		c.in = append(c.in, make([]byte, n)...)
		if _, err := io.ReadFull(c.br, c.in[start:]); err != nil {
			return 0, nil, c.readErr(err)
		}
		if fin {
			return msgOp, c.in, nil
		}
	}
}

func (c *wsConn) readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrServerClosed
	}
	return err
}

func (c *wsConn) close() error { return c.nc.Close() }
