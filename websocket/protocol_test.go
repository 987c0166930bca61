package websocket

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestProtocolViolations sends frames that break RFC 6455 and checks the close code the server
// answers with, the error its reader sees, and that it then drops the connection.
func TestProtocolViolations(t *testing.T) {
	long := func(n int) []byte { return bytes.Repeat([]byte{'a'}, n) }
	cases := []struct {
		name   string
		frames [][]byte
		code   StatusCode
	}{
		{"rsv1 without extension", [][]byte{clientFrame(0x80|0x40|byte(opText), []byte("x"))}, StatusProtocolError},
		{"rsv2", [][]byte{clientFrame(0x80|0x20|byte(opText), []byte("x"))}, StatusProtocolError},
		{"rsv3", [][]byte{clientFrame(0x80|0x10|byte(opText), []byte("x"))}, StatusProtocolError},
		{"reserved data opcode 3", [][]byte{clientFrame(0x80|0x3, nil)}, StatusProtocolError},
		{"reserved control opcode 11", [][]byte{clientFrame(0x80|0xB, nil)}, StatusProtocolError},
		{"fragmented ping", [][]byte{clientFrame(byte(opPing), []byte("p"))}, StatusProtocolError},
		{"ping over 125 bytes", [][]byte{clientFrame(0x80|byte(opPing), long(126))}, StatusProtocolError},
		{"close over 125 bytes", [][]byte{clientFrame(0x80|byte(opClose), append(closePayload(1000, ""), long(124)...))}, StatusProtocolError},
		{"continuation without start", [][]byte{clientFrame(0x80|byte(opContinuation), []byte("x"))}, StatusProtocolError},
		{"new message inside fragmented one", [][]byte{clientFrame(byte(opText), []byte("a")), clientFrame(0x80|byte(opText), []byte("b"))}, StatusProtocolError},
		{"invalid utf-8", [][]byte{clientFrame(0x80|byte(opText), []byte{0xff})}, StatusInvalidFramePayloadData},
		{"truncated utf-8 at end", [][]byte{clientFrame(0x80|byte(opText), []byte{0xe2, 0x82})}, StatusInvalidFramePayloadData},
		{"invalid utf-8 across fragments", [][]byte{clientFrame(byte(opText), []byte{0xce}), clientFrame(0x80|byte(opContinuation), []byte{0x41})}, StatusInvalidFramePayloadData},
		{"surrogate", [][]byte{clientFrame(0x80|byte(opText), []byte{0xed, 0xa0, 0x80})}, StatusInvalidFramePayloadData},
		{"close with one byte", [][]byte{clientFrame(0x80|byte(opClose), []byte{3})}, StatusProtocolError},
		{"close code 1005", [][]byte{clientFrame(0x80|byte(opClose), closePayload(1005, ""))}, StatusProtocolError},
		{"close code 999", [][]byte{clientFrame(0x80|byte(opClose), closePayload(999, ""))}, StatusProtocolError},
		{"close code 1016", [][]byte{clientFrame(0x80|byte(opClose), closePayload(1016, ""))}, StatusProtocolError},
		{"close code 5000", [][]byte{clientFrame(0x80|byte(opClose), closePayload(5000, ""))}, StatusProtocolError},
		{"close reason not utf-8", [][]byte{clientFrame(0x80|byte(opClose), append(closePayload(1000, ""), 0xff))}, StatusInvalidFramePayloadData},
		{"message over read limit", [][]byte{clientFrame(0x80|byte(opBinary), long(2049))}, StatusMessageTooBig},
		{"fragments over read limit", [][]byte{clientFrame(byte(opBinary), long(2000)), clientFrame(0x80|byte(opContinuation), long(100))}, StatusMessageTooBig},
		{"unmasked frame", [][]byte{{0x81, 0x01, 'x'}}, StatusProtocolError},
		{"non-minimal 16-bit length", [][]byte{{0x81, 0x80 | 126, 0, 5, 0, 0, 0, 0, 'a', 'b', 'c', 'd', 'e'}}, StatusProtocolError},
		{"non-minimal 64-bit length", [][]byte{{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 'a', 'b', 'c', 'd', 'e'}}, StatusProtocolError},
		{"64-bit length with top bit", [][]byte{{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}, StatusProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, errs := echoServer(t, &AcceptOptions{ReadLimit: 2048})
			rc := dialRaw(t, url, "")
			for _, f := range tc.frames {
				rc.send(f)
			}
			if got := rc.expectClose(); got != tc.code {
				t.Fatalf("close code %d, want %d", got, tc.code)
			}
			rc.expectEOF()
			err := <-errs
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Code != tc.code || !ce.Local {
				t.Fatalf("server error %v, want a local CloseError with code %d", err, tc.code)
			}
		})
	}
}

// TestFailFastUTF8 checks that invalid UTF-8 closes the connection before the message ends.
func TestFailFastUTF8(t *testing.T) {
	url, errs := echoServer(t, nil)
	rc := dialRaw(t, url, "")
	rc.send(clientFrame(byte(opText), []byte("valid start ")))
	rc.send(clientFrame(byte(opContinuation), []byte{0xf4, 0x90})) // beyond U+10FFFF: cannot become valid
	// The final fragment is never sent: the server must not wait for it.
	if got := rc.expectClose(); got != StatusInvalidFramePayloadData {
		t.Fatalf("close code %d, want 1007", got)
	}
	if CloseStatus(<-errs) != StatusInvalidFramePayloadData {
		t.Fatal("server reader did not see 1007")
	}
}

// TestControlFramesBetweenFragments checks that pings inside a fragmented message are answered
// and that the message arrives whole.
func TestControlFramesBetweenFragments(t *testing.T) {
	url, _ := echoServer(t, nil)
	rc := dialRaw(t, url, "")
	rc.send(clientFrame(byte(opText), []byte("Hello, ")))
	rc.send(clientFrame(0x80|byte(opPing), []byte("mid")))
	rc.send(clientFrame(byte(opContinuation), []byte("wor")))
	rc.send(clientFrame(0x80|byte(opContinuation), []byte("ld")))
	h, p, err := rc.readFrame()
	if err != nil || h.opcode != opPong || string(p) != "mid" {
		t.Fatalf("want pong \"mid\", got %v %q %v", h.opcode, p, err)
	}
	h, p, err = rc.readFrame()
	if err != nil || h.opcode != opText || !h.fin || string(p) != "Hello, world" {
		t.Fatalf("want echo, got %v %q %v", h.opcode, p, err)
	}
	if h.masked {
		t.Fatal("server frames must not be masked")
	}
}

// TestCloseEcho checks that the server answers a close with the same code and then drops the
// connection, and that its reader sees the peer's code and reason.
func TestCloseEcho(t *testing.T) {
	for _, tc := range []struct {
		payload []byte
		code    StatusCode
	}{
		{closePayload(StatusNormalClosure, "bye"), StatusNormalClosure},
		{closePayload(4001, "custom"), 4001},
		{[]byte{}, StatusNoStatusRcvd},
	} {
		url, errs := echoServer(t, nil)
		rc := dialRaw(t, url, "")
		rc.send(clientFrame(0x80|byte(opClose), tc.payload))
		if got := rc.expectClose(); got != tc.code {
			t.Fatalf("close answered with %d, want %d", got, tc.code)
		}
		rc.expectEOF()
		err := <-errs
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Code != tc.code || ce.Local {
			t.Fatalf("server reader got %v, want peer CloseError %d", err, tc.code)
		}
		if tc.code == 4001 && ce.Reason != "custom" {
			t.Fatalf("reason %q", ce.Reason)
		}
	}
}

// TestAbruptDisconnect checks that a vanished peer is reported as 1006.
func TestAbruptDisconnect(t *testing.T) {
	url, errs := echoServer(t, nil)
	rc := dialRaw(t, url, "")
	rc.send(clientFrame(byte(opText), []byte("half a mess")))
	rc.nc.Close()
	err := <-errs
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusAbnormalClosure || !ce.Local {
		t.Fatalf("got %v, want local 1006", err)
	}
	if !strings.Contains(ce.Reason, "without a close frame") {
		t.Fatalf("reason %q", ce.Reason)
	}
}
