package engineio

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/testenv"
	"github.com/tether-rt/tether/websocket"
)

// wsSession opens a WebSocket session on srv and returns the client side after the open packet.
func wsSession(b *testing.B, srv *Server) *websocket.Conn {
	hs := httptest.NewServer(srv)
	b.Cleanup(hs.Close)
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/engine.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.CloseNow()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	if _, _, err := c.Read(ctx); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkReceive measures the server's inbound path over WebSocket: frame read, packet decode,
// delivery to OnMessage. The client reuses its buffers, so allocations are the server's.
func BenchmarkReceive(b *testing.B) {
	got := make(chan struct{}, 1)
	srv := NewServer(&ServerOptions{PingInterval: time.Hour, OnMessage: func(s *Session, m Message) { got <- struct{}{} }})
	c := wsSession(b, srv)
	ctx := context.Background()
	msg := []byte("4" + strings.Repeat("x", 63))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}

// BenchmarkSend measures the server's outbound path over WebSocket for a message prepared once,
// as a broadcast sends it: queue, writer, prepared frame.
func BenchmarkSend(b *testing.B) {
	sessions := make(chan *Session, 1)
	srv := NewServer(&ServerOptions{PingInterval: time.Hour, OnOpen: func(s *Session) { sessions <- s }})
	c := wsSession(b, srv)
	s := <-sessions
	m := NewPreparedMessage([]byte(strings.Repeat("x", 64)), false)
	ctx := context.Background()
	buf := make([]byte, 128)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(m); err != nil {
			b.Fatal(err)
		}
		_, r, err := c.Reader(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf[:65]); err != nil {
			b.Fatal(err)
		}
	}
}

// rawWebSocketRequest is a browser's WebSocket upgrade to the Engine.IO endpoint.
var rawWebSocketRequest = testenv.BrowserUpgradeRequest("/engine.io/?EIO=4&transport=websocket")

// rawOpen dials addr, sends rawWebSocketRequest and reads the answer up to the end of the
// open packet's frame (a 101 response and one short text frame), into buf.
func rawOpen(b *testing.B, addr string, buf []byte) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.WriteString(c, rawWebSocketRequest); err != nil {
		b.Fatal(err)
	}
	rawReadUntil(b, c, buf, "}")
	return c
}

// rawReadUntil reads from c into buf until what was read ends with suffix.
func rawReadUntil(b *testing.B, c net.Conn, buf []byte, suffix string) {
	n := 0
	for !strings.HasSuffix(string(buf[:n]), suffix) {
		m, err := c.Read(buf[n:])
		if err != nil {
			b.Fatalf("after %q: %v", buf[:n], err)
		}
		n += m
	}
}

// BenchmarkHandshake measures a WebSocket session's life without traffic: the upgrade
// request, the open packet, the client's close and the session's end (OnClose). The client
// is raw bytes on a TCP connection, so nearly all allocations are the server's (net/http's
// included).
func BenchmarkHandshake(b *testing.B) {
	closed := make(chan struct{}, 1)
	srv := NewServer(&ServerOptions{PingInterval: time.Hour, OnClose: func(*Session, CloseReason, error) { closed <- struct{}{} }})
	hs := httptest.NewServer(srv)
	b.Cleanup(hs.Close)
	addr := strings.TrimPrefix(hs.URL, "http://")
	buf := make([]byte, 4096)
	// A masked close frame with no payload, the mask key zero.
	closeFrame := []byte{0x88, 0x80, 0, 0, 0, 0}
	b.ReportAllocs()
	for b.Loop() {
		c := rawOpen(b, addr, buf)
		if _, err := c.Write(closeFrame); err != nil {
			b.Fatal(err)
		}
		<-closed
		c.Close()
	}
}

// BenchmarkRequestInfo measures what a handshake pays to keep its request: a browser's
// twelve header fields copied into one string.
func BenchmarkRequestInfo(b *testing.B) {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(rawWebSocketRequest)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		NewRequestInfo(r)
	}
}
