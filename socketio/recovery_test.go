package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookAdapter is the memory adapter with hooks at the steps of a restoration, so that a test
// can act at an exact moment of it, and a record of what it did.
type hookAdapter struct {
	*MemoryAdapter

	mu           sync.Mutex
	afterTake    func()            // after a session is taken, before the join
	beforeMissed func()            // after the join, before the missed packets are read
	missed       []*Packet         // what MissedPackets last returned
	socketEmits  int               // SocketEmit calls
	persisted    chan SessionState // every session persisted
}

func (a *hookAdapter) TakeSession(ctx context.Context, pid, offset string) (*SessionState, error) {
	state, err := a.MemoryAdapter.TakeSession(ctx, pid, offset)
	a.mu.Lock()
	f := a.afterTake
	a.afterTake = nil // once
	a.mu.Unlock()
	if f != nil && state != nil {
		f()
	}
	return state, err
}

func (a *hookAdapter) MissedPackets(ctx context.Context, offset string, rooms []string) ([]*Packet, error) {
	a.mu.Lock()
	f := a.beforeMissed
	a.beforeMissed = nil
	a.mu.Unlock()
	if f != nil {
		f()
	}
	missed, err := a.MemoryAdapter.MissedPackets(ctx, offset, rooms)
	a.mu.Lock()
	a.missed = missed
	a.mu.Unlock()
	return missed, err
}

func (a *hookAdapter) SocketEmit(p *Packet, id string, flags BroadcastFlags) error {
	a.mu.Lock()
	a.socketEmits++
	a.mu.Unlock()
	return a.MemoryAdapter.SocketEmit(p, id, flags)
}

func (a *hookAdapter) PersistSession(s *SessionState) error {
	err := a.MemoryAdapter.PersistSession(s)
	a.persisted <- *s
	return err
}

func (a *hookAdapter) set(f func(a *hookAdapter)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

// recoveryServer starts a server with recovery on whose sockets join "room" and are sent
// "hello" (a direct emit) when they first connect; it returns the main namespace's adapter.
func recoveryServer(t *testing.T, opts *ServerOptions, setup func(*Server)) (*Server, string, *hookAdapter) {
	t.Helper()
	if opts.Recovery == nil {
		opts.Recovery = &RecoveryOptions{}
	}
	var root *hookAdapter
	opts.Adapter = func(host AdapterHost) Adapter {
		a := &hookAdapter{MemoryAdapter: NewMemoryAdapter(host), persisted: make(chan SessionState, 16)}
		if host.Namespace() == "/" {
			root = a
		}
		return a
	}
	var srv *Server
	url := startServer(t, opts, func(s *Server) {
		srv = s
		s.OnConnect(func(s *Socket) {
			if !s.Recovered() {
				s.Join("room")
				s.Emit("hello")
			}
		})
		if setup != nil {
			setup(s)
		}
	})
	return srv, url, root
}

// session is what a client needs to resume.
type session struct{ sid, pid, offset string }

// connectFirst connects a raw client, reads its CONNECT and its "hello" (the offset to resume
// from), cuts its connection and waits until its session is kept.
func connectFirst(t *testing.T, url string, a *hookAdapter) session {
	t.Helper()
	c := dialRaw(t, url, "websocket")
	c.send(`40`)
	got := c.expect(`40{"sid":*`)
	var ids struct{ SID, PID string }
	if err := json.Unmarshal([]byte(got[2:]), &ids); err != nil || ids.PID == "" {
		t.Fatalf("CONNECT answer %q", got)
	}
	s := session{sid: ids.SID, pid: ids.PID, offset: offsetOf(t, c.expect(`42["hello","*`))}
	c.c.Close()
	select {
	case <-a.persisted:
	case <-testContext(t).Done():
		t.Fatal("session not kept")
	}
	return s
}

// offsetOf returns the offset an event carries as its last argument.
func offsetOf(t *testing.T, msg string) string {
	t.Helper()
	var args []any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(msg, "42")), &args); err != nil || len(args) < 2 {
		t.Fatalf("event %q", msg)
	}
	o, ok := args[len(args)-1].(string)
	if !ok {
		t.Fatalf("no offset in %q", msg)
	}
	return o
}

// resume connects a raw client that asks for session s.
func resume(t *testing.T, url string, s session) *rawClient {
	t.Helper()
	c := dialRaw(t, url, "websocket")
	c.send(fmt.Sprintf(`40{"pid":%q,"offset":%q}`, s.pid, s.offset))
	return c
}

// expectRestored reads the CONNECT of a restored session.
func (r *rawClient) expectRestored(s session) {
	r.t.Helper()
	r.expect(fmt.Sprintf(`40{"sid":%q,"pid":%q}`, s.sid, s.pid))
}

// expectEnd reads until the connection ends and returns what came before.
func (r *rawClient) expectEnd() []string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for {
		m, err := r.c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				r.t.Fatal("the connection was not closed")
			}
			return got
		}
		got = append(got, "4"+string(m.Data))
	}
}

// A broadcast sent while a session is being restored reaches the client once, whether it is
// sent before the socket is back in its rooms (it is among the missed packets) or after (it
// is delivered to the socket as well, and held until the missed packets are out).
func TestRecoveryBroadcastDuringRestore(t *testing.T) {
	for _, moment := range []string{"after take", "before missed"} {
		t.Run(moment, func(t *testing.T) {
			srv, url, a := recoveryServer(t, &ServerOptions{}, nil)
			s := connectFirst(t, url, a)
			emit := func() {
				if err := srv.To("room").Emit("during", moment); err != nil {
					t.Error(err)
				}
			}
			a.set(func(a *hookAdapter) {
				if moment == "after take" {
					a.afterTake = emit
				} else {
					a.beforeMissed = emit
				}
			})
			c := resume(t, url, s)
			c.expectRestored(s)
			c.expect(`42["during","` + moment + `","*`)
			srv.To("room").Emit("after")
			c.expect(`42["after","*`)
		})
	}
}

// A packet the restoration sent that reaches the socket late, once it is connected (its
// broadcaster numbered it before the missed packets were read but delivered it after), is
// not sent again.
func TestRecoveryLateDelivery(t *testing.T) {
	srv, url, a := recoveryServer(t, &ServerOptions{}, nil)
	s := connectFirst(t, url, a)
	srv.To("room").Emit("missed")
	c := resume(t, url, s)
	c.expectRestored(s)
	c.expect(`42["missed","*`)
	a.mu.Lock()
	missed := a.missed
	a.mu.Unlock()
	if len(missed) != 1 {
		t.Fatalf("%d missed packets", len(missed))
	}
	a.deliver(missed[0], BroadcastOptions{Rooms: []string{"room"}})
	srv.To("room").Emit("after")
	c.expect(`42["after","*`)
}

// A socket that is sent more than it may hold while it is restored has its connection closed,
// and its session kept: the client, reconnecting, gets everything.
func TestRecoveryHoldLimit(t *testing.T) {
	// The client takes the backlog at once when it comes back.
	srv, url, a := recoveryServer(t, &ServerOptions{SendQueueSize: 4 * maxHeldPackets}, nil)
	s := connectFirst(t, url, a)
	flood := maxHeldPackets + 1
	a.set(func(a *hookAdapter) {
		a.beforeMissed = func() {
			for i := range flood {
				srv.To("room").Emit("flood", i)
			}
		}
	})
	c := resume(t, url, s)
	if got := c.expectEnd(); len(got) > 0 {
		t.Fatalf("before the close: %q", got)
	}
	select {
	case kept := <-a.persisted:
		if kept.SID != s.sid || kept.PID != s.pid {
			t.Fatalf("kept %+v, want %+v", kept, s)
		}
	case <-testContext(t).Done():
		t.Fatal("session not kept again")
	}

	c = resume(t, url, s)
	c.expectRestored(s)
	for i := range flood {
		c.expect(fmt.Sprintf(`42["flood",%d,"*`, i))
	}
	srv.To("room").Emit("after")
	c.expect(`42["after","*`)
}

// A restoration interrupted by the end of the connection keeps the session, so that the
// client's next attempt restores it.
func TestRecoveryInterrupted(t *testing.T) {
	t.Run("during the middleware", func(t *testing.T) {
		inMiddleware := make(chan *Socket, 1)
		srv, url, a := recoveryServer(t, &ServerOptions{Recovery: &RecoveryOptions{RunMiddlewares: true}}, func(srv *Server) {
			first := true
			srv.Use(func(s *Socket) error {
				if s.Recovered() && first {
					first = false
					inMiddleware <- s
					<-s.Context().Done() // the connection closed
				}
				return nil
			})
		})
		s := connectFirst(t, url, a)
		srv.To("room").Emit("missed")
		c := resume(t, url, s)
		if got := <-inMiddleware; got.ID() != s.sid {
			t.Fatalf("middleware saw socket %q, want %q", got.ID(), s.sid)
		}
		c.c.Close()
		select {
		case <-a.persisted:
		case <-testContext(t).Done():
			t.Fatal("session not kept again")
		}
		c = resume(t, url, s)
		c.expectRestored(s)
		c.expect(`42["missed","*`)
	})
	t.Run("connect timeout during the restoration", func(t *testing.T) {
		srv, url, a := recoveryServer(t, &ServerOptions{ConnectTimeout: 200 * time.Millisecond}, nil)
		s := connectFirst(t, url, a)
		srv.To("room").Emit("missed")
		a.set(func(a *hookAdapter) {
			a.beforeMissed = func() {
				<-srv.Of("/").Socket(s.sid).Context().Done() // until the connect timer closes the connection
			}
		})
		c := resume(t, url, s)
		if got := c.expectEnd(); len(got) > 0 {
			t.Fatalf("before the close: %q", got)
		}
		select {
		case <-a.persisted:
		case <-testContext(t).Done():
			t.Fatal("session not kept again")
		}
		c = resume(t, url, s)
		c.expectRestored(s)
		c.expect(`42["missed","*`)
	})
}

// A middleware that refuses a recovered socket ends its session, as in Node: the client's next
// attempt connects anew.
func TestRecoveryMiddlewareRefusal(t *testing.T) {
	_, url, a := recoveryServer(t, &ServerOptions{Recovery: &RecoveryOptions{RunMiddlewares: true}}, func(srv *Server) {
		srv.Use(func(s *Socket) error {
			if s.Recovered() {
				return errors.New("not again")
			}
			return nil
		})
	})
	s := connectFirst(t, url, a)
	resume(t, url, s).expect(`44{"message":"not again"}`)
	c := resume(t, url, s)
	got := c.expect(`40{"sid":*`)
	if strings.Contains(got, s.sid) {
		t.Fatalf("restored after a refusal: %q", got)
	}
	select {
	case kept := <-a.persisted:
		t.Fatalf("session kept after a refusal: %+v", kept)
	default:
	}
}

// A socket being restored is in its namespace for the operations on sockets: disconnecting
// it tells the client, and ends its session.
func TestRecoveryDisconnectWhileRestoring(t *testing.T) {
	srv, url, a := recoveryServer(t, &ServerOptions{}, nil)
	s := connectFirst(t, url, a)
	var fetched []SocketInfo
	a.set(func(a *hookAdapter) {
		a.beforeMissed = func() {
			var err error
			if fetched, err = srv.In("room").FetchSockets(context.Background()); err != nil {
				t.Error(err)
			}
			if err := srv.In("room").DisconnectSockets(false); err != nil {
				t.Error(err)
			}
		}
	})
	c := resume(t, url, s)
	c.expect(`41`)
	if len(fetched) != 1 || fetched[0].ID != s.sid {
		t.Fatalf("fetched %+v while restoring, want %s", fetched, s.sid)
	}
	c2 := resume(t, url, s)
	if got := c2.expect(`40{"sid":*`); strings.Contains(got, s.sid) {
		t.Fatalf("restored after a server disconnect: %q", got)
	}
}

// With recovery on, Socket.Emit goes through the adapter, whose offset the client can resume
// from: the last event of the client here is a direct emit.
func TestRecoveryFromDirectEmit(t *testing.T) {
	srv, url, a := recoveryServer(t, &ServerOptions{}, nil)
	s := connectFirst(t, url, a) // resumes from "hello", sent with Socket.Emit
	a.mu.Lock()
	emits := a.socketEmits
	a.mu.Unlock()
	if emits != 1 {
		t.Fatalf("%d emits through the adapter, want 1", emits)
	}
	srv.To("room").Emit("missed")
	c := resume(t, url, s)
	c.expectRestored(s)
	c.expect(`42["missed","*`)
}

func TestCompareOffsets(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		c    int
		ok   bool
	}{
		{"1-0", "1-0", 0, true},
		{"1-1", "1-0", 1, true},
		{"9-5", "10-0", -1, true}, // numbers, not text
		{"1796228831412-10", "1796228831412-9", 1, true},
		{"1-0", "x", 0, false},
		{"1-", "1-0", 0, false},
		{"dnadz8ilylo0-3", "1-0", 0, false},
		{"m1796228831412-2", "m1796228831412-1", 1, true},
		{"m1-2", "1-1", 0, false}, // another sequence
		{"m-1", "m-1", 0, false},
	} {
		c, ok := compareOffsets(tc.a, tc.b)
		if c != tc.c || ok != tc.ok {
			t.Errorf("compareOffsets(%q, %q) = %d, %v; want %d, %v", tc.a, tc.b, c, ok, tc.c, tc.ok)
		}
	}
}
