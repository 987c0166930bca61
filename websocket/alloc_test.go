//go:build !race

// The race detector changes what allocates (sync.Pool drops items at random under it), so
// these guards run without it: "make test" runs them in a separate, race-free pass.

package websocket

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"
)

// TestFramePathsAllocateNothing guards the frame read and write paths: once a connection is
// running, reading a message into the caller's buffer and writing a message (plain or prepared)
// allocate nothing.
func TestFramePathsAllocateNothing(t *testing.T) {
	ctx := context.Background()
	const size = 1024
	frame := clientFrame(0x80|byte(MessageBinary), make([]byte, size))
	reader := newConn(&pipeConn{r: &loopReader{data: frame}}, nil, connConfig{})
	buf := make([]byte, size)
	writer := newConn(discardConn(), nil, connConfig{})
	msg := make([]byte, size)
	pm, err := NewPreparedMessage(MessageText, []byte("hello, subscribers"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    func() error
	}{
		{"Reader", func() error {
			_, r, err := reader.Reader(ctx)
			if err == nil {
				_, err = io.ReadFull(r, buf)
			}
			return err
		}},
		{"Write", func() error { return writer.Write(ctx, MessageBinary, msg) }},
		{"WritePrepared", func() error { return writer.WritePrepared(ctx, pm) }},
	} {
		var err error
		if n := testing.AllocsPerRun(100, func() { err = tc.f() }); n != 0 || err != nil {
			t.Errorf("%s: %.1f allocations per message (%v)", tc.name, n, err)
		}
	}
}

// TestTryWritePreparedAllocatesNothing guards the broadcast path on a real socket: TryWritePrepared
// writes straight to the socket without allocating, and the peer receives every message.
func TestTryWritePreparedAllocatesNothing(t *testing.T) {
	server, client := tcpPair(t)
	c := newConn(server, nil, connConfig{})
	defer c.CloseNow()
	pm, err := NewPreparedMessage(MessageText, []byte("tick"))
	if err != nil {
		t.Fatal(err)
	}
	const runs = 100
	written := 0
	if n := testing.AllocsPerRun(runs, func() {
		if ok, err := c.TryWritePrepared(pm); ok && err == nil {
			written++
		}
	}); n != 0 {
		t.Errorf("TryWritePrepared: %.1f allocations per message", n)
	}
	if written != runs+1 { // AllocsPerRun runs the function once more to warm up
		t.Fatalf("%d of %d messages written at once to an empty socket", written, runs+1)
	}
	want := []byte{0x81, 4, 't', 'i', 'c', 'k'}
	got := make([]byte, len(want))
	for i := range written {
		if _, err := io.ReadFull(client, got); err != nil || string(got) != string(want) {
			t.Fatalf("message %d: %q, %v", i, got, err)
		}
	}
}

// TestHandshakeChecksDoNotAllocate pins the allocations of the server's checks of an upgrade
// request, run once per connection: none, and one for the accept key's string.
func TestHandshakeChecksDoNotAllocate(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Connection", "keep-alive, Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Sec-WebSocket-Protocol", "chat.v0, chat.v2")
	supported := []string{"chat.v1", "chat.v2"}
	if err := checkUpgradeRequest(r); err != nil {
		t.Fatal(err)
	}
	if got := selectSubprotocol(r.Header, supported); got != "chat.v2" {
		t.Fatalf("subprotocol %q", got)
	}
	if n := testing.AllocsPerRun(100, func() {
		_ = checkUpgradeRequest(r)
		_ = selectSubprotocol(r.Header, supported)
	}); n != 0 {
		t.Errorf("checking a request: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = acceptKey("dGhlIHNhbXBsZSBub25jZQ==") }); n != 1 {
		t.Errorf("acceptKey: %v allocations, want 1 (its result)", n)
	}
}
