//go:build linux

package adversary

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// frameCase is a sequence of WebSocket frames (or raw bytes) and the close codes the server
// may answer it with.
type frameCase struct {
	name   string
	frames []Frame
	raw    []byte // written after frames, if any
	want   []int
}

func text(fin bool, s string) Frame {
	return Frame{Fin: fin, Op: OpText, Masked: true, Payload: []byte(s)}
}

func closeWith(code int, reason string) Frame {
	return Frame{Fin: true, Op: OpClose, Masked: true, Payload: ClosePayload(code, reason)}
}

// hugeLength is a masked frame's header (with its mask key, no payload) announcing 2^63 + 5
// bytes: the length's most significant bit is set, which RFC 6455 5.2 forbids.
var hugeLength = append(binary.BigEndian.AppendUint64([]byte{0x81, 0xFF}, 1<<63|5), 1, 2, 3, 4)

var malformedFrames = []frameCase{
	{"reserved data opcode 0x3", []Frame{{Fin: true, Op: 0x3, Masked: true, Payload: []byte("4x")}}, nil, []int{1002}},
	{"reserved control opcode 0xB", []Frame{{Fin: true, Op: 0xB, Masked: true}}, nil, []int{1002}},
	{"unmasked client frame", []Frame{{Fin: true, Op: OpText, Payload: []byte("4x")}}, nil, []int{1002}},
	{"RSV1 without an extension", []Frame{{Fin: true, RSV: 4, Op: OpText, Masked: true, Payload: []byte("4x")}}, nil, []int{1002}},
	{"RSV2", []Frame{{Fin: true, RSV: 2, Op: OpText, Masked: true, Payload: []byte("4x")}}, nil, []int{1002}},
	{"RSV3", []Frame{{Fin: true, RSV: 1, Op: OpText, Masked: true, Payload: []byte("4x")}}, nil, []int{1002}},
	{"ping of 126 bytes", []Frame{{Fin: true, Op: OpPing, Masked: true, Payload: make([]byte, 126)}}, nil, []int{1002}},
	{"close frame of 126 bytes", []Frame{{Fin: true, Op: OpClose, Masked: true, Payload: ClosePayload(1000, strings.Repeat("r", 124))}}, nil, []int{1002}},
	{"fragmented ping", []Frame{{Fin: false, Op: OpPing, Masked: true, Payload: []byte("a")}}, nil, []int{1002}},
	{"continuation with nothing to continue", []Frame{{Fin: true, Op: OpContinuation, Masked: true, Payload: []byte("4x")}}, nil, []int{1002}},
	{"new message inside a fragmented one", []Frame{text(false, "4a"), text(true, "4b")}, nil, []int{1002}},
	{"close code 999", []Frame{closeWith(999, "")}, nil, []int{1002}},
	{"close code 1004", []Frame{closeWith(1004, "")}, nil, []int{1002}},
	{"close code 1005", []Frame{closeWith(1005, "")}, nil, []int{1002}},
	{"close code 1006", []Frame{closeWith(1006, "")}, nil, []int{1002}},
	{"close code 1015", []Frame{closeWith(1015, "")}, nil, []int{1002}},
	{"close code 2999", []Frame{closeWith(2999, "")}, nil, []int{1002}},
	{"close code 5000", []Frame{closeWith(5000, "")}, nil, []int{1002}},
	{"close frame with a 1-byte payload", []Frame{{Fin: true, Op: OpClose, Masked: true, Payload: []byte{3}}}, nil, []int{1002}},
	{"close reason not UTF-8", []Frame{closeWith(1000, "\xff\xfe")}, nil, []int{1007}},
	{"text frame not UTF-8", []Frame{text(true, "4\xff")}, nil, []int{1007}},
	{"text cut inside a character", []Frame{text(true, "4\xe2\x82")}, nil, []int{1007}},
	{"overlong encoding", []Frame{text(true, "4\xc0\xaf")}, nil, []int{1007}},
	{"UTF-16 surrogate", []Frame{text(true, "4\xed\xa0\x80")}, nil, []int{1007}},
	{"invalid UTF-8 across fragments", []Frame{text(false, "4\xe2\x82"), {Fin: true, Op: OpContinuation, Masked: true, Payload: []byte("(")}}, nil, []int{1007}},
	{"length with the top bit set", nil, hugeLength, []int{1002, 1009}},
	{"valid close 1000 (echoed)", []Frame{closeWith(1000, "bye")}, nil, []int{1000}},
	{"valid close 4000 (echoed, or 1000)", []Frame{closeWith(4000, "")}, nil, []int{4000, 1000}},
}

// malformedFramesAttack opens a WebSocket per case on the Socket.IO endpoint, sends the case's
// frames after the open packet, and checks the server's close code.
func malformedFramesAttack(ctx context.Context, tg *Target) (string, error) {
	var errs []error
	for _, fc := range malformedFrames {
		code, err := frameExchange(ctx, tg, sioPath, fc.frames, fc.raw)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", fc.name, err))
		case !slices.Contains(fc.want, code):
			errs = append(errs, fmt.Errorf("%s: closed with %d, want %v", fc.name, code, fc.want))
		}
	}
	out := fmt.Sprintf("%d of %d answered with the right close code", len(malformedFrames)-len(errs), len(malformedFrames))
	return out, errors.Join(errs...)
}

// frameExchange opens a WebSocket on path, reads the open packet, writes frames and raw, and
// returns the code of the server's close frame (1006 if it just closed), reading while it
// writes, within 10 s. The connection is closed after.
func frameExchange(ctx context.Context, tg *Target, path string, frames []Frame, raw []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, err := tg.DialWS(ctx, path)
	if err != nil {
		return 0, err
	}
	defer ws.Conn.Close()
	if f, err := ws.ReadFrame(64 << 10); err != nil || f.Op != OpText || f.Payload[0] != '0' {
		return 0, fmt.Errorf("no open packet: %q %v", f.Payload, err)
	}
	ws.SetWriteTimeout(10 * time.Second)
	go func() {
		// The server may close before it has read everything: write errors are expected.
		for _, f := range frames {
			if ws.WriteFrame(f) != nil {
				return
			}
		}
		if raw != nil {
			_ = ws.WriteRaw(raw)
		}
	}()
	code, _, err := ws.ReadUntilClose(ctx)
	return code, err
}

// oversize sends messages and POST bodies over the 1,000,000-byte limit: 1009 for the
// WebSocket ones, 413 for the POSTs.
func oversize(ctx context.Context, tg *Target) (string, error) {
	big := "4" + strings.Repeat("x", 1_100_000)
	frag := make([]Frame, 0, 12)
	for i := range 11 {
		op := byte(OpContinuation)
		if i == 0 {
			op = OpText
		}
		frag = append(frag, Frame{Fin: i == 10, Op: op, Masked: true, Payload: []byte(big[:100_000])})
	}
	announce := append(binary.BigEndian.AppendUint64([]byte{0x81, 0xFF}, 1<<40), 1, 2, 3, 4) // and no payload
	var errs []error
	for _, c := range []struct {
		name   string
		path   string
		frames []Frame
		raw    []byte
	}{
		{"1,100,001-byte text frame on /socket.io/", sioPath, []Frame{text(true, big)}, nil},
		{"1,100,001-byte text frame on /engine.io/", "/engine.io/?EIO=4&transport=websocket", []Frame{text(true, big)}, nil},
		{"11 fragments of 100,000 bytes", sioPath, frag, nil},
		{"a header announcing 2^40 bytes", sioPath, nil, announce},
	} {
		code, err := frameExchange(ctx, tg, c.path, c.frames, c.raw)
		if err == nil && code != 1009 {
			err = fmt.Errorf("closed with %d, want 1009", code)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
		}
	}
	hc := tg.HTTPClient(2)
	for _, c := range []struct {
		name     string
		declared int
	}{
		{"POST of 1,100,000 bytes", 1_100_000},
		{"POST declaring 50,000,000 bytes", 50_000_000},
	} {
		if err := oversizePost(ctx, tg, hc, c.declared); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
		}
	}
	return fmt.Sprintf("%d of 6 refused as expected", 6-len(errs)), errors.Join(errs...)
}

// oversizePost opens a polling session and POSTs 1,100,000 bytes to it with Content-Length
// declared, reading while writing; the answer must be 413.
func oversizePost(ctx context.Context, tg *Target, hc *http.Client, declared int) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	p, err := OpenPoll(ctx, tg, hc)
	if err != nil {
		return err
	}
	c, err := tg.Dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	head := fmt.Sprintf("POST %s&sid=%s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n\r\n",
		pollPath, p.SID, tg.Addr, declared)
	go func() {
		if _, err := io.WriteString(c, head); err == nil {
			_, _ = io.WriteString(c, "4"+strings.Repeat("x", 1_099_999))
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		return fmt.Errorf("answered %s, want 413", resp.Status)
	}
	return nil
}
