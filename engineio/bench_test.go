package engineio

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
