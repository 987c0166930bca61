package socketio

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/testenv"
)

// BenchmarkBroadcastRoom measures a broadcast to 10,000 sockets in one room: the event is
// encoded once, and delivery should cost no allocation per recipient.
func BenchmarkBroadcastRoom(b *testing.B) {
	b.Run("NoObserver", func(b *testing.B) { benchBroadcastRoom(b, nil) })
	// With an Observer counting with atomics, to show what the calls themselves cost.
	b.Run("Observer", func(b *testing.B) { benchBroadcastRoom(b, &ServerOptions{Observer: &countingObserver{}}) })
}

func benchBroadcastRoom(b *testing.B, opts *ServerOptions) {
	srv := NewServer(opts)
	conns := fakeConnect(b, srv, 10_000)
	defer closeFakes(conns)
	for _, s := range srv.Of("/").Sockets() {
		s.Join("room")
	}
	op := srv.To("room")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := op.Emit("price", "ACME", 101.25); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/recipient")
}

// BenchmarkDispatch measures an incoming event through the parser and a typed handler.
func BenchmarkDispatch(b *testing.B) {
	b.Run("NoObserver", func(b *testing.B) { benchDispatch(b, nil) })
	// With an Observer counting with atomics, to show what the calls themselves cost.
	b.Run("Observer", func(b *testing.B) { benchDispatch(b, &ServerOptions{Observer: &countingObserver{}}) })
}

func benchDispatch(b *testing.B, opts *ServerOptions) {
	type order struct {
		Symbol string  `json:"symbol"`
		Qty    int     `json:"qty"`
		Price  float64 `json:"price"`
	}
	done := make(chan struct{}, 1)
	srv := NewServer(opts)
	srv.Of("/").On("order", func(s *Socket, o order, note string) {
		done <- struct{}{}
	})
	conns := fakeConnect(b, srv, 1)
	defer closeFakes(conns)
	msg := engineio.Message{Data: []byte(`2["order",{"symbol":"ACME","qty":10,"price":101.25},"rush"]`)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		conns[0].receive(msg)
		<-done
	}
}

// BenchmarkParse measures the parser alone on the packets a server receives most: a
// text event, an event with a binary attachment, and an acknowledgement.
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, packet string }{
		{"Event", `2["order",{"symbol":"ACME","qty":10,"price":101.25},"rush"]`},
		{"BinaryEvent", `51-["upload",{"name":"a.png","size":3,"file":{"_placeholder":true,"num":0}}]`},
		{"Ack", `3/chat,17["ok",{"id":42,"at":"2024-05-01T10:00:00Z"}]`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := []byte(bc.packet)
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, _, err := decodeText(data, 10, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEmit measures an event emitted to one socket.
func BenchmarkEmit(b *testing.B) {
	b.Run("NoObserver", func(b *testing.B) { benchEmit(b, nil) })
	// With an Observer counting with atomics, to show what the calls themselves cost.
	b.Run("Observer", func(b *testing.B) { benchEmit(b, &ServerOptions{Observer: &countingObserver{}}) })
}

func benchEmit(b *testing.B, opts *ServerOptions) {
	srv := NewServer(opts)
	conns := fakeConnect(b, srv, 1)
	defer closeFakes(conns)
	s := srv.Of("/").Sockets()[0]
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Emit("message-back", "hello", 42); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEcho measures what bench/cmd/sioserver does for each message of the sio-echo and
// sio-ack scenarios, short of the network: an event parsed from its Engine.IO message, handed
// to a handler taking Args, which emits it back (Echo) or returns it as the acknowledgement
// (Ack), encoded into the Engine.IO messages a session is given. Each iteration waits for the
// reply, as the benchmark's clients do, so the hand-off to the handler is in the figure.
func BenchmarkEcho(b *testing.B) {
	payload := `"` + strings.Repeat("x", 64) + `"`
	b.Run("Echo", func(b *testing.B) {
		benchEcho(b, `2["message",`+payload+`]`, func(srv *Server) {
			srv.On("message", func(s *Socket, args Args) { _ = s.Emit("message-back", args) })
		})
	})
	b.Run("Ack", func(b *testing.B) {
		benchEcho(b, `21["message-with-ack",`+payload+`]`, func(srv *Server) {
			srv.On("message-with-ack", func(s *Socket, args Args) Args { return args })
		})
	})
}

func benchEcho(b *testing.B, msg string, register func(*Server)) {
	srv := NewServer(nil)
	register(srv)
	sent := make(chan struct{}, 1)
	c, fs := fakeConnectOne(b, srv)
	defer closeFakes([]*conn{c})
	fs.onSend = func([]*engineio.PreparedMessage) { sent <- struct{}{} }
	data := []byte(msg)
	b.ReportAllocs()
	for b.Loop() {
		c.receive(engineio.Message{Data: data})
		<-sent
	}
}

// TestConcurrentRoomsAndBroadcasts runs many sockets joining, leaving and broadcasting at once,
// for the race detector, and checks that every broadcast reached the room's members.
func TestConcurrentRoomsAndBroadcasts(t *testing.T) {
	const sockets, rounds = 200, 20
	srv := NewServer(nil)
	srv.Of("/").On("join", func(s *Socket, room string) { s.Join(room) })
	srv.Of("/").On("leave", func(s *Socket, room string) { s.Leave(room) })
	srv.Of("/").On("shout", func(s *Socket, room string) { s.To(room).Emit("shout", s.ID()) })
	conns := fakeConnect(t, srv, sockets)
	defer closeFakes(conns)

	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			room, _ := json.Marshal(fmt.Sprintf("room-%d", i%7))
			for r := range rounds {
				c.receive(engineio.Message{Data: fmt.Appendf(nil, `2["join",%s]`, room)})
				c.receive(engineio.Message{Data: fmt.Appendf(nil, `2["shout",%s]`, room)})
				if r%3 == 0 {
					c.receive(engineio.Message{Data: fmt.Appendf(nil, `2["leave",%s]`, room)})
				}
				srv.To("room-1", "room-2").Except("room-2").Emit("tick", r)
			}
		})
	}
	wg.Wait()
	// Handlers run on their own goroutines: wait for the queues to drain.
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range srv.Of("/").Sockets() {
		for {
			s.exec.mu.Lock()
			busy := s.exec.running
			s.exec.mu.Unlock()
			if !busy {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("handlers still running")
			}
			time.Sleep(time.Millisecond)
		}
	}
	rooms := srv.Of("/").Adapter().Rooms()
	if len(rooms) < sockets {
		t.Fatalf("%d rooms, want at least one per socket", len(rooms))
	}
	var total int64
	for _, c := range conns {
		total += c.es.(*fakeSession).sent.Load()
	}
	if total == 0 {
		t.Fatal("nothing was delivered")
	}
}

// BenchmarkConnect measures a Socket.IO connection's life without events: the WebSocket
// upgrade, the open packet, CONNECT to "/" and its answer, the client's close and the
// socket's disconnect. The client is raw bytes on a TCP connection, so nearly all
// allocations are the server's (net/http's included).
func BenchmarkConnect(b *testing.B) {
	gone := make(chan struct{}, 1)
	srv := NewServer(&ServerOptions{PingInterval: time.Hour})
	srv.OnDisconnect(func(*Socket, DisconnectReason) { gone <- struct{}{} })
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	addr := strings.TrimPrefix(hs.URL, "http://")
	request := testenv.BrowserUpgradeRequest("/socket.io/?EIO=4&transport=websocket")
	// Masked client frames with a zero mask key: the text "40" (CONNECT to "/") and a close.
	connect := []byte{0x81, 0x82, 0, 0, 0, 0, '4', '0'}
	closeFrame := []byte{0x88, 0x80, 0, 0, 0, 0}
	buf := make([]byte, 4096)
	readUntil := func(c net.Conn, suffix string) {
		n := 0
		for !strings.HasSuffix(string(buf[:n]), suffix) {
			m, err := c.Read(buf[n:])
			if err != nil {
				b.Fatalf("after %q: %v", buf[:n], err)
			}
			n += m
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.WriteString(c, request); err != nil {
			b.Fatal(err)
		}
		readUntil(c, "}") // the open packet
		if _, err := c.Write(connect); err != nil {
			b.Fatal(err)
		}
		readUntil(c, "}") // 40{"sid":"…"}
		if _, err := c.Write(closeFrame); err != nil {
			b.Fatal(err)
		}
		<-gone
		c.Close()
	}
}
