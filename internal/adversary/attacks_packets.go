//go:build linux

package adversary

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// What the server must do with a malformed packet.
type expect int

const (
	mustClose expect = iota // end the session
	mustKeep                // ignore it (or answer it) and keep serving the session
	mayEither               // either, as long as it does not hang or leak
)

func (e expect) String() string {
	return [...]string{"close the session", "keep the session", "close or keep"}[e]
}

// packetCase is one malformed packet: the text of an Engine.IO packet (or, when binary, the
// bytes of a binary message: a binary frame, or "b" and base64 over polling).
type packetCase struct {
	name   string
	data   string
	binary bool
	only   string // "websocket" or "polling" when the case makes sense on one transport only
	want   expect
}

var malformedPackets = []packetCase{
	// Engine.IO
	{name: "empty packet", data: "", want: mustClose},
	{name: "unknown packet type 7", data: "7", want: mustClose},
	{name: "packet type x", data: "x", want: mustClose},
	{name: "unknown type 9 with data", data: "9hello", want: mustClose},
	{name: "open packet from the client", data: "0", want: mustKeep},
	{name: "ping from the client", data: "2", want: mustKeep},
	{name: "unsolicited pong", data: "3", want: mustKeep},
	{name: "upgrade packet outside an upgrade", data: "5", want: mustKeep},
	{name: "noop", data: "6", want: mustKeep},
	{name: "client close packet", data: "1", want: mustClose},
	{name: "invalid base64 binary", data: "b!!!", only: "polling", want: mustClose},
	{name: "lone record separator", data: "\x1e", only: "polling", want: mustClose},
	{name: "trailing record separator", data: "42[\"message\",1]\x1e", only: "polling", want: mustClose},
	// Socket.IO
	{name: "empty Socket.IO packet", data: "4", want: mustClose},
	{name: "Socket.IO type 7", data: "47", want: mustClose},
	{name: "Socket.IO type x", data: "4x", want: mustClose},
	{name: "event without payload", data: "42", want: mustClose},
	{name: "event payload an object", data: `42{}`, want: mustClose},
	{name: "event payload an empty array", data: `42[]`, want: mustClose},
	{name: "event name null", data: `42[null]`, want: mustClose},
	{name: "event name an object", data: `42[{}]`, want: mustClose},
	{name: "truncated JSON", data: `42["message"`, want: mustClose},
	{name: "trailing comma", data: `42["message",]`, want: mustClose},
	{name: "garbage after the array", data: `42["message"]x`, want: mustClose},
	{name: "control character in a string", data: "42[\"message\",\"a\x01b\"]", want: mustClose},
	{name: "namespace without its comma or slash", data: `42admin,["x"]`, want: mustClose},
	{name: "ack id of 19 digits", data: `421234567890123456789["message-with-ack"]`, want: mustClose},
	{name: "binary event without a count", data: `45-["message"]`, want: mustClose},
	{name: "a million attachments announced", data: `451000000-["message",{"_placeholder":true,"num":0}]`, want: mustClose},
	{name: "CONNECT_ERROR from the client", data: `44{"message":"x"}`, want: mustClose},
	{name: "CONNECT with invalid JSON", data: `40{"token":`, want: mustClose},
	{name: "reserved event name", data: `42["disconnect"]`, want: mustClose},
	{name: "20,000 nested arrays", data: `42["message",` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `]`, want: mustClose},
	{name: "binary message with no binary event pending", data: "\x01\x02\x03", binary: true, want: mustClose},
	{name: "CONNECT to an unknown namespace", data: `40/admin,`, want: mustKeep},
	{name: "event for a namespace not joined", data: `42/custom,["message"]`, want: mustKeep},
	{name: "DISCONNECT from a namespace not joined", data: `41/custom,`, want: mustKeep},
	{name: "placeholder in a plain event", data: `42["message",{"_placeholder":true,"num":0}]`, want: mayEither},
	{name: "ack without an id", data: `43["x"]`, want: mayEither},
}

// The probe sent after each malformed packet: acked if the session still works.
const (
	probe    = `42999["message-with-ack",999]`
	probeAck = `43999[999]`
)

// What became of a session after a malformed packet and the probe.
type fate int

const (
	fateClosed fate = iota
	fateKept
	fateHung // neither closed nor answered the probe within the bound
)

// malformedPacketsAttack sends each malformed packet on a session of its own, joined to "/",
// over each transport, followed by the probe, and checks whether the session was closed or
// kept as the case expects.
func malformedPacketsAttack(ctx context.Context, tg *Target) (string, error) {
	hc := tg.HTTPClient(4)
	var errs []error
	runs := 0
	for _, pc := range malformedPackets {
		for _, transport := range []string{"websocket", "polling"} {
			if pc.only != "" && pc.only != transport {
				continue
			}
			runs++
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			var f fate
			var err error
			if transport == "websocket" {
				f, err = packetOverWebSocket(cctx, tg, pc)
			} else {
				f, err = packetOverPolling(cctx, tg, hc, pc)
			}
			cancel()
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s over %s: %w", pc.name, transport, err))
			case f == fateHung:
				errs = append(errs, fmt.Errorf("%s over %s: the session neither closed nor answered the next packet within 5s", pc.name, transport))
			case pc.want == mustClose && f != fateClosed:
				errs = append(errs, fmt.Errorf("%s over %s: the session was kept, want the server to %v", pc.name, transport, pc.want))
			case pc.want == mustKeep && f != fateKept:
				errs = append(errs, fmt.Errorf("%s over %s: the session was closed, want the server to %v", pc.name, transport, pc.want))
			}
		}
	}
	return fmt.Sprintf("%d of %d packet/transport pairs handled as expected", runs-len(errs), runs), errors.Join(errs...)
}

// packetOverWebSocket joins "/" over a WebSocket, sends the packet and the probe, and waits
// (answering pings) for the probe's ack or the end of the session.
func packetOverWebSocket(ctx context.Context, tg *Target, pc packetCase) (fate, error) {
	conn, err := tg.Dial(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	sc, err := DialSIO(ctx, "malformed", conn)
	if err != nil {
		return 0, err
	}
	ws := sc.ws
	op := byte(OpText)
	if pc.binary {
		op = OpBinary
	}
	if err := ws.WriteFrame(Frame{Fin: true, Op: op, Masked: true, Payload: []byte(pc.data)}); err != nil {
		return fateClosed, nil
	}
	if err := ws.WriteText(probe); err != nil {
		return fateClosed, nil
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := ws.ReadFrame(1 << 20)
		switch {
		case err != nil && isTimeout(err):
			return fateHung, nil
		case err != nil, f.Op == OpClose:
			return fateClosed, nil
		case f.Op != OpText:
		case string(f.Payload) == "2":
			_ = ws.WriteText("3")
		case string(f.Payload) == "1":
			return fateClosed, nil
		case string(f.Payload) == probeAck:
			return fateKept, nil
		}
	}
}

// packetOverPolling joins "/" over polling, POSTs the packet and the probe, and polls
// (answering pings) until the probe's ack or the end of the session.
func packetOverPolling(ctx context.Context, tg *Target, hc *http.Client, pc packetCase) (fate, error) {
	p, err := OpenPoll(ctx, tg, hc)
	if err != nil {
		return 0, err
	}
	if status, body, err := p.Post(ctx, []byte("40")); err != nil || status != 200 {
		return 0, fmt.Errorf("POST 40: %d %q %v", status, body, err)
	}
	body := []byte(pc.data)
	if pc.binary {
		body = []byte("b" + base64.StdEncoding.EncodeToString(body))
	}
	for _, b := range [][]byte{body, []byte(probe)} {
		status, _, err := p.Post(ctx, b)
		if err != nil {
			return 0, fmt.Errorf("POST: %w", err)
		}
		if status == 400 {
			return fateClosed, nil
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		gctx, cancel := context.WithDeadline(ctx, deadline)
		status, packets, err := p.Get(gctx)
		cancel()
		if err != nil {
			if gctx.Err() != nil {
				break
			}
			return 0, fmt.Errorf("GET: %w", err)
		}
		if status == 400 {
			return fateClosed, nil
		}
		for _, pk := range packets {
			switch {
			case bytes.Equal(pk, []byte("1")):
				return fateClosed, nil
			case bytes.Equal(pk, []byte(probeAck)):
				return fateKept, nil
			case bytes.Equal(pk, []byte("2")):
				if status, _, err := p.Post(ctx, []byte("3")); err != nil || status == 400 {
					return fateClosed, nil
				}
			}
		}
	}
	return fateHung, nil
}

// isTimeout reports whether err is a deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
