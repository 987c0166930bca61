package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
)

// hookedAdapter is an adapter with hooks at the steps of a restoration, so that a test can
// broadcast at an exact moment of it.
type hookedAdapter struct {
	socketio.Adapter

	mu           sync.Mutex
	afterTake    func() // once, after a session is taken and before the socket joins its rooms
	beforeMissed func() // once, after the join and before the missed packets are read
}

func (h *hookedAdapter) TakeSession(ctx context.Context, pid, offset string) (*socketio.SessionState, error) {
	state, err := h.Adapter.TakeSession(ctx, pid, offset)
	if f := h.take(&h.afterTake); f != nil && state != nil {
		f()
	}
	return state, err
}

func (h *hookedAdapter) MissedPackets(ctx context.Context, offset string, rooms []string) ([]*socketio.Packet, error) {
	if f := h.take(&h.beforeMissed); f != nil {
		f()
	}
	return h.Adapter.MissedPackets(ctx, offset, rooms)
}

func (h *hookedAdapter) take(f *func()) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	g := *f
	*f = nil
	return g
}

// recoveryNode is a server of a streams cluster with recovery on; its sockets join "room"
// and are sent "hello" with Socket.Emit when they first connect.
type recoveryNode struct {
	srv  *socketio.Server
	url  string
	rdb  *goredis.Client
	hook *hookedAdapter // of namespace "/"
}

func newRecoveryNode(t *testing.T, r *redistest.Server) *recoveryNode {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	// Four delivery workers taking one recipient at a time: the recovery tests' broadcasts
	// (a socket or two) are delivered as a large room's would be.
	o := &redis.StreamsOptions{RequestsTimeout: 3 * time.Second, DeliveryWorkers: 4}
	o.SetMinShare(1)
	streams := redis.NewStreamsAdapter(rdb, o)
	n := &recoveryNode{rdb: rdb}
	n.srv = socketio.NewServer(&socketio.ServerOptions{
		Recovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: 30 * time.Second},
		Adapter: func(host socketio.AdapterHost) socketio.Adapter {
			h := &hookedAdapter{Adapter: streams(host)}
			if host.Namespace() == "/" {
				n.hook = h
			}
			return h
		},
	})
	n.srv.OnConnect(func(s *socketio.Socket) {
		if !s.Recovered() {
			s.Join("room")
			_ = s.Emit("hello")
		}
	})
	hs := httptest.NewServer(n.srv)
	n.url = hs.URL + "/socket.io/"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.srv.Shutdown(ctx)
		hs.Close()
		_ = rdb.Close()
	})
	return n
}

// rawSIO speaks Socket.IO packet by packet, to see exactly what a client receives.
type rawSIO struct {
	t *testing.T
	c *engineio.Client
}

func dialRawSIO(t *testing.T, url string) *rawSIO {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := engineio.Dial(ctx, url, &engineio.DialOptions{Transports: []string{"websocket"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawSIO{t: t, c: c}
}

func (r *rawSIO) send(text string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.c.Send(ctx, []byte(text), false); err != nil {
		r.t.Fatal(err)
	}
}

// expect reads the next packet and checks it against a pattern ending in * for a prefix.
func (r *rawSIO) expect(want string) string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := r.c.Read(ctx)
	if err != nil {
		r.t.Fatalf("read: %v, want %q", err, want)
	}
	got := string(m.Data)
	if prefix, ok := strings.CutSuffix(want, "*"); ok && strings.HasPrefix(got, prefix) || got == want {
		return got
	}
	r.t.Fatalf("got %q, want %q", got, want)
	return ""
}

type sioSession struct{ sid, pid, offset string }

var streamID = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// connectFirst connects a client to n, reads its "hello" (a direct emit: the offset it will
// resume from) and, with lastBroadcast, a broadcast to its room after it (the offset then),
// cuts it and waits until its session is in Redis.
func connectFirst(t *testing.T, n *recoveryNode, lastBroadcast bool) sioSession {
	t.Helper()
	c, s := connectHello(t, n)
	var args []string
	if lastBroadcast {
		if err := n.srv.To("room").Emit("last"); err != nil {
			t.Fatal(err)
		}
		last := c.expect(`2["last","*`)
		if err := json.Unmarshal([]byte(last[1:]), &args); err != nil || len(args) != 2 {
			t.Fatalf("last %q", last)
		}
		s.offset = args[1]
	} else if !streamID.MatchString(s.offset) {
		t.Errorf("Socket.Emit's offset %q is not a stream id: no other node can resume from it", s.offset)
	}
	_ = c.c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if k, err := n.rdb.Exists(ctx, "sio:session:"+s.pid).Result(); err == nil && k == 1 {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatal("session not persisted")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// connectHello connects a client to n and reads its CONNECT answer and "hello": the session
// to resume, from the offset of that direct emit.
func connectHello(t *testing.T, n *recoveryNode) (*rawSIO, sioSession) {
	t.Helper()
	c := dialRawSIO(t, n.url)
	c.send("0")
	got := c.expect(`0{"sid":*`)
	var ids struct{ SID, PID string }
	if err := json.Unmarshal([]byte(got[1:]), &ids); err != nil || ids.PID == "" {
		t.Fatalf("CONNECT answer %q", got)
	}
	hello := c.expect(`2["hello","*`)
	var args []string
	if err := json.Unmarshal([]byte(hello[1:]), &args); err != nil || len(args) != 2 {
		t.Fatalf("hello %q", hello)
	}
	return c, sioSession{sid: ids.SID, pid: ids.PID, offset: args[1]}
}

// resume connects a client to n asking for session s, and reads its CONNECT.
func resume(t *testing.T, n *recoveryNode, s sioSession) *rawSIO {
	t.Helper()
	c := dialRawSIO(t, n.url)
	c.send(fmt.Sprintf(`0{"pid":%q,"offset":%q}`, s.pid, s.offset))
	c.expect(fmt.Sprintf(`0{"sid":%q,"pid":%q}`, s.sid, s.pid))
	return c
}

// A client whose last event was a direct emit comes back on another node: the offset of that
// emit is a stream id, from which the other node restores the session and the events missed,
// each once. An event that is not in the stream carries no offset.
func TestStreamsRecoveryFromDirectEmit(t *testing.T) {
	r := redistest.Start(t)
	a, b := newRecoveryNode(t, r), newRecoveryNode(t, r)
	s := connectFirst(t, a, false)
	if err := b.srv.To("room").Emit("missed", 1); err != nil {
		t.Fatal(err)
	}
	if err := a.srv.To("room").Emit("missed", 2); err != nil {
		t.Fatal(err)
	}
	c := resume(t, b, s)
	c.expect(`2["missed",1,"*`)
	c.expect(`2["missed",2,"*`)
	if err := a.srv.To("room").Emit("after"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["after","*`)
	// A broadcast to b's sockets only is not in the stream: no offset, as in Node.
	if err := b.srv.Local().To("room").Emit("local"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["local"]`)
}

// A broadcast sent while a session is restored, from the restoring node or another, before
// the socket is back in its rooms or after, reaches the client once.
func TestStreamsRecoveryBroadcastDuringRestore(t *testing.T) {
	r := redistest.Start(t)
	a, b := newRecoveryNode(t, r), newRecoveryNode(t, r)
	for _, moment := range []string{"after take", "before missed"} {
		for _, sender := range []string{"same node", "other node"} {
			t.Run(moment+" from "+sender, func(t *testing.T) {
				// The client resumes from a broadcast, which recovers on any node even
				// without the fix for direct emits.
				s := connectFirst(t, a, true)
				from := a
				if sender == "same node" {
					from = b // the client comes back to b
				}
				emit := func() {
					if err := from.srv.To("room").Emit("during", moment, sender); err != nil {
						t.Error(err)
					}
				}
				b.hook.mu.Lock()
				if moment == "after take" {
					b.hook.afterTake = emit
				} else {
					b.hook.beforeMissed = emit
				}
				b.hook.mu.Unlock()
				c := resume(t, b, s)
				c.expect(fmt.Sprintf(`2["during",%q,%q,"*`, moment, sender))
				if err := from.srv.To("room").Emit("after"); err != nil {
					t.Fatal(err)
				}
				c.expect(`2["after","*`)
			})
		}
	}
}

// Every event a socket receives carries a larger offset than the one before it: a client
// resumes from the last offset it got, so one smaller than an event it already has would get
// that event sent again. Here broadcasts of the socket's own node race those of another node,
// to a room of two sockets, which the delivery workers deliver at once (newRecoveryNode).
func TestStreamsOffsetsInOrder(t *testing.T) {
	r := redistest.Start(t)
	a, b := newRecoveryNode(t, r), newRecoveryNode(t, r)
	clients := []*rawSIO{dialRawSIO(t, a.url), dialRawSIO(t, a.url)}
	for _, c := range clients {
		c.send("0")
		c.expect(`0{"sid":*`)
		c.expect(`2["hello","*`)
	}
	const each = 300
	var wg sync.WaitGroup
	for _, n := range []*recoveryNode{a, b} {
		wg.Go(func() {
			for i := range each {
				if err := n.srv.To("room").Emit("seq", i); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	defer wg.Wait()
	parse := func(offset string) [2]uint64 {
		ms, seq, _ := strings.Cut(offset, "-")
		x, err1 := strconv.ParseUint(ms, 10, 64)
		y, err2 := strconv.ParseUint(seq, 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("offset %q is not a stream id", offset)
		}
		return [2]uint64{x, y}
	}
	for i, c := range clients {
		var last [2]uint64
		inversions := 0
		for range 2 * each {
			got := c.expect(`2["seq",*`)
			var args []any
			if err := json.Unmarshal([]byte(got[1:]), &args); err != nil || len(args) != 3 {
				t.Fatalf("event %q", got)
			}
			offset, _ := args[2].(string)
			id := parse(offset)
			if id[0] < last[0] || id[0] == last[0] && id[1] <= last[1] {
				inversions++
			}
			last = id
		}
		if inversions > 0 {
			t.Fatalf("client %d: %d of %d events came with an offset not after the one before", i, inversions, 2*each)
		}
	}
}
