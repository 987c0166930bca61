package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clientTransports are the ways a client connects: polling only, WebSocket only, and polling
// upgraded to WebSocket (the default).
var clientTransports = map[string][]string{
	"polling":   {"polling"},
	"websocket": {"websocket"},
	"upgrade":   nil,
}

// clientTestServer is a Socket.IO server on a loopback port whose HTTP side can be cut or made to
// refuse new requests, to drive a client's reconnection.
type clientTestServer struct {
	io   *Server
	http *httptest.Server
	url  string
	down atomic.Bool // refuse every request with 503
	ln   *trackingListener
}

// cut closes every TCP connection the server accepted, WebSocket ones included (which
// httptest.Server.CloseClientConnections does not see once hijacked): a network failure.
func (ts *clientTestServer) cut() { ts.ln.closeAll() }

// trackingListener remembers the connections it accepted.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func startClientServer(t *testing.T, opts *ServerOptions, setup func(io *Server)) *clientTestServer {
	t.Helper()
	ts := &clientTestServer{io: NewServer(opts)}
	if setup != nil {
		setup(ts.io)
	}
	ts.http = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ts.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		ts.io.ServeHTTP(w, r)
	}))
	ts.ln = &trackingListener{Listener: ts.http.Listener}
	ts.http.Listener = ts.ln
	ts.http.Start()
	ts.url = ts.http.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ts.io.Shutdown(ctx)
		ts.http.Close()
	})
	return ts
}

// clientEchoApp is a small version of the test app of docs/TEST-SERVERS.md section 1.
func clientEchoApp(io *Server) {
	io.OnConnect(func(s *Socket) {
		auth := json.RawMessage("{}")
		if len(s.Handshake().Auth) > 0 {
			auth = s.Handshake().Auth
		}
		s.Emit("auth", auth)
	})
	io.On("message", func(s *Socket, args ...any) { s.Emit("message-back", args...) })
	io.On("message-with-ack", func(ack Ack, args ...any) { ack(args...) })
	io.On("join", func(s *Socket, room string) string { s.Join(room); return room })
	io.On("to-room", func(s *Socket, room string, args ...any) { s.To(room).Emit("room-message", args...) })
	io.On("request-ack", func(s *Socket, args ...any) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if a, err := s.EmitWithAck(ctx, "ack-me", args...); err == nil {
				s.Emit("ack-result", a.Values()...)
			}
		}()
	})
	io.On("disconnect-me", func(s *Socket) { s.Disconnect(false) })
	io.Of("/custom").OnConnect(func(s *Socket) { s.Emit("auth", s.Handshake().Auth) })
	io.Of("/private").Use(func(s *Socket) error {
		return &ConnectError{Message: "not allowed", Data: map[string]any{"code": 42}}
	})
}

// clientEvents records what a socket receives, as "event arg1 arg2" lines with JSON arguments.
type clientEvents chan string

func recordEvents(s *ClientSocket) clientEvents {
	ch := make(clientEvents, 256)
	s.OnAny(func(event string, args []any) { ch <- eventLine(event, args) })
	return ch
}

func eventLine(event string, args []any) string {
	parts := []string{event}
	for _, a := range args {
		b, _ := json.Marshal(a)
		parts = append(parts, string(b))
	}
	return strings.Join(parts, " ")
}

func (e clientEvents) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-e:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return ""
	}
}

func (e clientEvents) expect(t *testing.T, want string) {
	t.Helper()
	if got := e.next(t); got != want {
		t.Fatalf("got event %q, want %q", got, want)
	}
}

func clientCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect makes a client, lets setup register handlers, and connects it.
func dialTest(t *testing.T, url string, opts *ClientOptions, setup func(c *Client)) *Client {
	t.Helper()
	c, err := NewClient(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if setup != nil {
		setup(c)
	}
	if err := c.Connect(clientCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return c
}

func TestClientEvents(t *testing.T) {
	ts := startClientServer(t, nil, clientEchoApp)
	for name, transports := range clientTransports {
		t.Run(name, func(t *testing.T) {
			var got clientEvents
			c := dialTest(t, ts.url, &ClientOptions{Transports: transports, Auth: map[string]any{"token": "abc"}}, func(c *Client) {
				got = recordEvents(c.ClientSocket)
				c.On("ack-me", func(ack Ack, args ...any) { ack(append(args, "from client")...) })
			})
			if c.ID() == "" || !c.Connected() || c.Recovered() {
				t.Fatalf("id %q connected %v recovered %v", c.ID(), c.Connected(), c.Recovered())
			}
			got.expect(t, `auth {"token":"abc"}`)

			if err := c.Emit("message", "hello", 1, map[string]any{"a": []byte{1, 2, 3}}, []byte("raw")); err != nil {
				t.Fatal(err)
			}
			got.expect(t, `message-back "hello" 1 {"a":"AQID"} "cmF3"`)

			a, err := c.EmitWithAck(clientCtx(t), "message-with-ack", "x", []byte{0xff}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var s string
			var b []byte
			var n any
			if err := a.Decode(&s, &b, &n); err != nil || s != "x" || !bytes.Equal(b, []byte{0xff}) || n != nil || a.Len() != 3 {
				t.Fatalf("ack %v: %q %v %v (%v)", a.Values(), s, b, n, err)
			}

			if err := c.Emit("request-ack", 7, []byte{9}); err != nil {
				t.Fatal(err)
			}
			got.expect(t, `ack-me 7 "CQ=="`)
			got.expect(t, `ack-result 7 "CQ==" "from client"`)

			if _, err := c.Volatile().EmitWithAck(clientCtx(t), "message-with-ack", true); err != nil {
				t.Fatal(err)
			}
			if err := c.Emit("connect"); !errors.Is(err, ErrReservedEvent) {
				t.Fatalf("Emit(connect) = %v", err)
			}
		})
	}
}

func TestClientTypedHandlers(t *testing.T) {
	ts := startClientServer(t, nil, func(io *Server) {
		io.OnConnect(func(s *Socket) {
			s.Emit("point", map[string]int{"x": 1, "y": 2}, "label", []byte("png"))
			if a, err := s.EmitWithAck(context.Background(), "sum", 2, 3); err == nil {
				s.Emit("total", a.Values()...)
			}
		})
	})
	type point struct{ X, Y int }
	got := make(chan string, 4)
	dialTest(t, ts.url, nil, func(c *Client) {
		c.On("point", func(p point, label string, img []byte) { got <- fmt.Sprintf("%v %s %s", p, label, img) })
		c.On("sum", func(a, b int) int { return a + b })
		c.On("total", func(n float64) { got <- fmt.Sprint("total ", n) })
	})
	for _, want := range []string{"{1 2} label png", "total 5"} {
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("got %q, want %q", g, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q", want)
		}
	}
}

func TestClientOutgoingAndAckTimeout(t *testing.T) {
	ts := startClientServer(t, nil, clientEchoApp)
	var out []string
	var mu sync.Mutex
	c := dialTest(t, ts.url, &ClientOptions{AckTimeout: 50 * time.Millisecond}, func(c *Client) {
		c.OnAnyOutgoing(func(event string, args []any) {
			mu.Lock()
			out = append(out, eventLine(event, args))
			mu.Unlock()
		})
	})
	// The server ignores this event: the ack never comes.
	_, err := c.EmitWithAck(context.Background(), "ignored", []byte{1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("EmitWithAck = %v, want a deadline error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(out) != 1 || out[0] != `ignored "AQ=="` {
		t.Fatalf("outgoing = %q", out)
	}
}

func TestClientNamespaces(t *testing.T) {
	ts := startClientServer(t, nil, clientEchoApp)
	for name, transports := range clientTransports {
		t.Run(name, func(t *testing.T) {
			var main clientEvents
			c := dialTest(t, ts.url, &ClientOptions{Transports: transports}, func(c *Client) { main = recordEvents(c.ClientSocket) })
			main.expect(t, "auth {}")

			custom := c.Of("/custom", map[string]string{"who": "me"})
			cust := recordEvents(custom)
			if err := custom.Connect(clientCtx(t)); err != nil {
				t.Fatal(err)
			}
			cust.expect(t, `auth {"who":"me"}`)
			if c.Of("custom", nil) != custom {
				t.Fatal("Of returned another socket for the same namespace")
			}

			refused := make(chan error, 1)
			bad := c.Of("/nope", nil)
			bad.OnConnectError(func(err error) { refused <- err })
			var ce *ConnectError
			if err := bad.Connect(clientCtx(t)); !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
				t.Fatalf("Connect(/nope) = %v", err)
			}
			if err := <-refused; !errors.As(err, &ce) {
				t.Fatalf("OnConnectError got %v", err)
			}
			err := c.Of("/private", nil).Connect(clientCtx(t))
			if !errors.As(err, &ce) || ce.Message != "not allowed" || fmt.Sprint(ce.Data) != "map[code:42]" {
				t.Fatalf("Connect(/private) = %#v", err)
			}

			// Leaving one namespace leaves the others be.
			custom.Disconnect()
			if err := c.Emit("message", "still"); err != nil {
				t.Fatal(err)
			}
			main.expect(t, `message-back "still"`)
			if err := custom.Emit("x"); !errors.Is(err, ErrDisconnected) {
				t.Fatalf("Emit after Close = %v", err)
			}
		})
	}
}

func TestClientConnectErrors(t *testing.T) {
	ts := startClientServer(t, nil, clientEchoApp)
	_, err := Dial(clientCtx(t), ts.url, &ClientOptions{Namespace: "/private"})
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Message != "not allowed" {
		t.Fatalf("Dial = %v", err)
	}
	// The URL's path is the namespace, as in the JavaScript client.
	c, err := Dial(clientCtx(t), ts.url+"/custom", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Namespace() != "/custom" {
		t.Fatalf("namespace %q", c.Namespace())
	}
	c.Close()
	for _, u := range []string{"ftp://x", "http://", "://"} {
		if _, err := NewClient(u, nil); err == nil {
			t.Errorf("NewClient(%q) succeeded", u)
		}
	}
	if _, err := NewClient(ts.url, &ClientOptions{Auth: "not an object"}); err == nil {
		t.Error("a string auth was accepted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Dial(ctx, "http://127.0.0.1:1", nil); err == nil {
		t.Error("Dial to a closed port succeeded")
	}
}

func TestClientServerDisconnect(t *testing.T) {
	ts := startClientServer(t, nil, clientEchoApp)
	reasons := make(chan DisconnectReason, 2)
	var got clientEvents
	c := dialTest(t, ts.url, &ClientOptions{ReconnectionDelay: time.Millisecond}, func(c *Client) {
		got = recordEvents(c.ClientSocket)
		c.OnDisconnect(func(r DisconnectReason) { reasons <- r })
	})
	got.expect(t, "auth {}")
	c.Emit("disconnect-me")
	if r := <-reasons; r != ReasonIOServerDisconnect {
		t.Fatalf("reason %q", r)
	}
	if c.Connected() {
		t.Fatal("still connected")
	}
	if err := c.Emit("message"); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Emit = %v", err)
	}
	// A server-side disconnect does not reconnect by itself, but Connect joins again.
	if err := c.Connect(clientCtx(t)); err != nil {
		t.Fatal(err)
	}
	got.expect(t, "auth {}")
	c.Close()
	if r := <-reasons; r != ReasonIOClientDisconnect {
		t.Fatalf("reason %q", r)
	}
	if err := c.Emit("x"); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("Emit after Close = %v", err)
	}
	c.Close()
	<-c.Done()
}

func TestClientConcurrentUse(t *testing.T) {
	ts := startClientServer(t, nil, clientEchoApp)
	c := dialTest(t, ts.url, nil, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				a, err := c.EmitWithAck(clientCtx(t), "message-with-ack", g, i, []byte{byte(i)})
				var gg, ii int
				var b []byte
				if err != nil || a.Decode(&gg, &ii, &b) != nil || gg != g || ii != i || len(b) != 1 || b[0] != byte(i) {
					t.Errorf("ack %v: %v", a.Values(), err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			c.Volatile().Emit("message", "v")
		}
	})
	wg.Wait()
	var closers sync.WaitGroup
	for range 4 {
		closers.Go(func() { c.Close() })
	}
	closers.Wait()
}

func TestClientEmitWithAckFunc(t *testing.T) {
	ts := startClientServer(t, nil, clientEchoApp)
	var mu sync.Mutex
	var order []string
	add := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	done := make(chan struct{}, 2)
	c := dialTest(t, ts.url, nil, func(c *Client) {
		c.OnAny(func(event string, args []any) { add(eventLine(event, args)) })
	})
	// The server emits message-back before it acknowledges the next event: the callback runs
	// after the handler of the event that came first.
	c.Emit("message", 1)
	err := c.EmitWithAckFunc(t.Context(), func(a Args, err error) {
		add(fmt.Sprint("ack ", a.Values(), err))
		done <- struct{}{}
	}, "message-with-ack", 2)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	// No answer: the callback gets the deadline error.
	short, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err = c.EmitWithAckFunc(short, func(a Args, err error) {
		add(fmt.Sprint("timeout ", errors.Is(err, context.DeadlineExceeded)))
		done <- struct{}{}
	}, "ignored")
	if err != nil {
		t.Fatal(err)
	}
	<-done
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"auth {}", "message-back 1", "ack [2] <nil>", "timeout true"}; fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("order %q, want %q", order, want)
	}
}
