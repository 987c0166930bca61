package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// rawClient speaks Socket.IO packet by packet over an Engine.IO client, to pin the server's
// wire behaviour exactly.
type rawClient struct {
	t  *testing.T
	c  *engineio.Client
	mu sync.Mutex
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startServer(t *testing.T, opts *ServerOptions, setup func(*Server)) string {
	t.Helper()
	if opts == nil {
		opts = &ServerOptions{}
	}
	srv := NewServer(opts)
	if setup != nil {
		setup(srv)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	return hs.URL + "/socket.io/"
}

func dialRaw(t *testing.T, url string, transports ...string) *rawClient {
	t.Helper()
	c, err := engineio.Dial(testContext(t), url, &engineio.DialOptions{Transports: transports})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c}
}

func (r *rawClient) send(text string, attachments ...[]byte) {
	r.t.Helper()
	ctx := testContext(r.t)
	// Tests write packets as they look in an Engine.IO message packet: "4" + the Socket.IO packet.
	if err := r.c.Send(ctx, []byte(strings.TrimPrefix(text, "4")), false); err != nil {
		r.t.Fatalf("send %q: %v", text, err)
	}
	for _, a := range attachments {
		if err := r.c.Send(ctx, a, true); err != nil {
			r.t.Fatalf("send attachment: %v", err)
		}
	}
}

// read returns the next message: text as is, binary as "<bin:...>".
func (r *rawClient) read() string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := r.c.Read(ctx)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	if m.Binary {
		return "<bin:" + string(m.Data) + ">"
	}
	return "4" + string(m.Data)
}

// expect reads the next message and checks it; a pattern ending in * matches a prefix.
func (r *rawClient) expect(want string) string {
	r.t.Helper()
	got := r.read()
	if prefix, ok := strings.CutSuffix(want, "*"); ok {
		if !strings.HasPrefix(got, prefix) {
			r.t.Fatalf("got %q, want %q", got, want)
		}
	} else if got != want {
		r.t.Fatalf("got %q, want %q", got, want)
	}
	return got
}

// expectClosed reads until the connection ends and returns its error.
func (r *rawClient) expectClosed() error {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, err := r.c.Read(ctx); err != nil {
			if ctx.Err() != nil {
				r.t.Fatal("the connection was not closed")
			}
			return err
		}
	}
}

// connect joins nsp and returns the socket id the server answered.
func (r *rawClient) connect(nsp string) string {
	r.t.Helper()
	prefix := "4" + "0"
	if nsp != "/" {
		prefix += nsp + ","
	}
	r.send(prefix)
	got := r.expect(prefix + "{*")
	var body struct{ SID string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(got, prefix)), &body); err != nil || body.SID == "" {
		r.t.Fatalf("CONNECT answer %q", got)
	}
	return body.SID
}

func TestConnectAndEvents(t *testing.T) {
	for _, transport := range []string{"polling", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			url := startServer(t, nil, func(s *Server) {
				s.Of("/").On("echo", func(s *Socket, args ...any) { s.Emit("echo-back", args...) })
				s.Of("/").On("sum", func(a, b int) int { return a + b })
				s.Of("/").On("relay", func(s *Socket, ack Ack, first string, rest Args) {
					s.Emit("relayed", rest)
					ack(first, rest)
				})
				s.Of("/").On("upload", func(ack Ack, name string, data []byte) {
					ack(name, len(data), data)
				})
			})
			c := dialRaw(t, url, transport)
			id := c.connect("/")
			if id == c.c.ID() {
				t.Fatal("the socket id is the Engine.IO id")
			}
			c.send(`42["echo",1,"two",{"three":[3]},null]`)
			c.expect(`42["echo-back",1,"two",{"three":[3]},null]`)
			c.send(`427["sum",2,40]`)
			c.expect(`437[42]`)
			c.send(`451-9["upload","f",{"_placeholder":true,"num":0}]`, []byte("abc"))
			c.expect(`461-9["f",3,{"_placeholder":true,"num":0}]`)
			c.expect(`<bin:abc>`)
			// Args pass arguments on exactly as received, lone surrogates and binary included.
			c.send(`451-5["relay","a","\ud800",{"_placeholder":true,"num":0}]`, []byte("bin"))
			c.expect(`451-["relayed","\ud800",{"_placeholder":true,"num":0}]`)
			c.expect(`<bin:bin>`)
			c.expect(`461-5["a","\ud800",{"_placeholder":true,"num":0}]`)
			c.expect(`<bin:bin>`)
			// A mismatch is reported and the handler not called: the next event still works.
			c.send(`423["sum","x",1]`)
			c.send(`424["sum",1,1]`)
			c.expect(`434[2]`)
		})
	}
}

func TestNamespaces(t *testing.T) {
	url := startServer(t, nil, func(s *Server) {
		s.Of("/admin").Use(func(s *Socket) error {
			var auth struct{ Token string }
			s.Handshake().DecodeAuth(&auth)
			if auth.Token != "secret" {
				return &ConnectError{Message: "not authorized", Data: map[string]any{"code": 401}}
			}
			return nil
		})
		s.Of("/admin").OnConnect(func(s *Socket) { s.Emit("welcome", s.Namespace().Name()) })
		dyn := s.OfMatch(func(name string) bool { return strings.HasPrefix(name, "/dyn-") })
		dyn.On("whoami", func(s *Socket) string { return s.Namespace().Name() })
	})
	c := dialRaw(t, url)
	c.send(`40/nope,`)
	c.expect(`44/nope,{"message":"Invalid namespace"}`)
	c.send(`40/admin,{"token":"wrong"}`)
	c.expect(`44/admin,{"message":"not authorized","data":{"code":401}}`)
	c.send(`40/admin,{"token":"secret"}`)
	c.expect(`40/admin,{"sid":*`)
	c.expect(`42/admin,["welcome","/admin"]`)
	c.connect("/dyn-7")
	c.send(`42/dyn-7,1["whoami"]`)
	c.expect(`43/dyn-7,1["/dyn-7"]`)
	c.connect("/")
	// Leaving one namespace leaves the others.
	c.send(`41/admin,`)
	c.send(`42/dyn-7,2["whoami"]`)
	c.expect(`43/dyn-7,2["/dyn-7"]`)
}

func TestRoomsAndBroadcast(t *testing.T) {
	var srv *Server
	url := startServer(t, nil, func(s *Server) {
		srv = s
		s.Of("/").On("join", func(s *Socket, room string) { s.Join(room) })
		s.Of("/").On("say", func(s *Socket, room, text string) { s.To(room).Emit("said", text) })
		s.Of("/").On("all", func(s *Socket, text string) { s.Broadcast().Emit("all", text) })
	})
	a, b, c := dialRaw(t, url), dialRaw(t, url, "websocket"), dialRaw(t, url)
	for _, cl := range []*rawClient{a, b, c} {
		cl.connect("/")
	}
	a.send(`421["join","r"]`) // with an ack id: no handler result, so no ack
	b.send(`42["join","r"]`)
	// Wait until both joined, through the server.
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Of("/").Adapter().(*MemoryAdapter).roomMembers("r")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("sockets did not join")
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.send(`42["say","r","hi"]`)
	b.expect(`42["said","hi"]`)
	c.send(`42["all","x"]`)
	a.expect(`42["all","x"]`)
	b.expect(`42["all","x"]`)

	if err := srv.To("r").Except(mustSID(t, srv, 0)).Emit("ping"); err != nil {
		t.Fatal(err)
	}
	infos, err := srv.Of("/").In("r").FetchSockets(testContext(t))
	if err != nil || len(infos) != 2 {
		t.Fatalf("FetchSockets: %v %v", infos, err)
	}
	ctx, cancel := context.WithTimeout(testContext(t), 5*time.Second)
	defer cancel()
	done := make(chan []Args, 1)
	go func() {
		got, err := srv.To("r").EmitWithAck(ctx, "question", 1)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	for _, cl := range []*rawClient{a, b} {
		got := cl.read()
		for strings.HasPrefix(got, `42["ping"]`) {
			got = cl.read()
		}
		var id int
		if _, err := fmt.Sscanf(got, `42%d["question",1]`, &id); err != nil {
			t.Fatalf("%q: %v", got, err)
		}
		cl.send(fmt.Sprintf(`43%d["yes"]`, id))
	}
	if got := <-done; len(got) != 2 {
		t.Fatalf("%d answers", len(got))
	}
}

func mustSID(t *testing.T, srv *Server, i int) string {
	socks := srv.Of("/").Sockets()
	if len(socks) <= i {
		t.Fatal("no socket")
	}
	return socks[i].ID()
}

func (a *MemoryAdapter) roomMembers(room string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []string
	for id := range a.rooms[room].all {
		out = append(out, id)
	}
	return out
}

func TestServerEmitWithAck(t *testing.T) {
	got := make(chan string, 1)
	url := startServer(t, nil, func(s *Server) {
		s.Of("/").OnConnect(func(s *Socket) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			a, err := s.EmitWithAck(ctx, "q", "?")
			if err != nil {
				got <- err.Error()
				return
			}
			var answer string
			var n int
			if err := a.Decode(&answer, &n); err != nil {
				got <- err.Error()
				return
			}
			got <- fmt.Sprint(answer, n)
		})
	})
	c := dialRaw(t, url)
	c.connect("/")
	c.expect(`420["q","?"]`)
	c.send(`430["yes",7]`)
	if g := <-got; g != "yes7" {
		t.Fatal(g)
	}
}

func TestInvalidPacketsCloseTheConnection(t *testing.T) {
	for _, bad := range []string{`9`, `42["connect"]`, `42{}`, `4`, `44{"message":"x"}`} {
		t.Run(bad, func(t *testing.T) {
			url := startServer(t, nil, nil)
			c := dialRaw(t, url, "websocket")
			c.connect("/")
			c.send(bad)
			c.expectClosed()
		})
	}
}

func TestConnectTimeout(t *testing.T) {
	url := startServer(t, &ServerOptions{ConnectTimeout: 100 * time.Millisecond}, nil)
	c := dialRaw(t, url)
	if err := c.expectClosed(); !errors.Is(err, engineio.CloseTransportClose) {
		t.Fatalf("closed with %v", err)
	}
}

func TestDisconnect(t *testing.T) {
	reasons := make(chan DisconnectReason, 4)
	url := startServer(t, nil, func(s *Server) {
		s.Of("/").On("bye", func(s *Socket) { s.Disconnect(false) })
		s.Of("/").OnDisconnect(func(s *Socket, r DisconnectReason) { reasons <- r })
	})
	c := dialRaw(t, url)
	c.connect("/")
	c.send(`42["bye"]`)
	c.expect(`41`)
	if r := <-reasons; r != ReasonServerDisconnect {
		t.Fatal(r)
	}
	c.connect("/")
	c.send(`41`)
	if r := <-reasons; r != ReasonClientDisconnect {
		t.Fatal(r)
	}
	c.connect("/")
	c.c.Close()
	if r := <-reasons; r != ReasonTransportClose {
		t.Fatal(r)
	}
}

func TestRecovery(t *testing.T) {
	var srv *Server
	var middlewareRuns atomic.Int32
	url := startServer(t, &ServerOptions{Recovery: &RecoveryOptions{}}, func(s *Server) {
		srv = s
		// Not run again for a recovered socket, by default, as in Node.
		s.Use(func(*Socket) error { middlewareRuns.Add(1); return nil })
		s.Of("/").OnConnect(func(s *Socket) {
			if !s.Recovered() {
				s.Join("room")
				s.SetData("kept")
			}
			s.Emit("hello", s.Recovered(), s.Data())
		})
	})
	c := dialRaw(t, url)
	c.send(`40`)
	got := c.expect(`40{"sid":*`)
	var ids struct{ SID, PID string }
	json.Unmarshal([]byte(got[2:]), &ids)
	if ids.PID == "" {
		t.Fatalf("no pid in %q", got)
	}
	hello := c.expect(`42["hello",false,"kept","*`)
	offset := hello[strings.LastIndex(hello, `,"`)+2 : len(hello)-2]
	c.c.Close()
	// Wait for the socket to leave, then send to its room while it is away.
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Of("/").Sockets()) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("socket still there")
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.To("room").Emit("missed", 1)

	c2 := dialRaw(t, url)
	c2.send(fmt.Sprintf(`40{"pid":%q,"offset":%q}`, ids.PID, offset))
	c2.expect(fmt.Sprintf(`40{"sid":%q,"pid":%q}`, ids.SID, ids.PID))
	c2.expect(`42["missed",1,"*`)
	c2.expect(`42["hello",true,"kept","*`)
	if n := middlewareRuns.Load(); n != 1 {
		t.Fatalf("middleware ran %d times, want once", n)
	}
}

// TestShutdownFinishesReceivedEvents: an event received before Shutdown is handled while its
// socket can still answer, as a JavaScript server (which handles events on receipt) does.
func TestShutdownFinishesReceivedEvents(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	disconnected := make(chan struct{})
	srv := NewServer(nil)
	srv.OnConnect(func(s *Socket) {
		s.On("work", func(s *Socket) {
			close(started)
			<-release
			_ = s.Emit("done")
		})
		s.OnDisconnect(func(DisconnectReason) { close(disconnected) })
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c := dialRaw(t, hs.URL+"/socket.io/", engineio.TransportWebSocket)
	c.connect("/")
	c.send(`42["work"]`)
	<-started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// Without the drain, Shutdown disconnects the socket at once, and the handler's answer is
	// lost; with it, the socket stays until the handler is done.
	select {
	case <-disconnected:
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	c.expect(`42["done"]`)
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}
