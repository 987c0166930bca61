package redis_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"sort"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
)

// adapterKinds are the package's adapters, each tested as a cluster of nodes.
var adapterKinds = map[string]func(goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter{
	"pubsub": func(c goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter {
		return redis.NewAdapter(c, &redis.Options{RequestsTimeout: 3 * time.Second})
	},
	"sharded": func(c goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter {
		return redis.NewShardedAdapter(c, &redis.ShardedOptions{RequestsTimeout: 3 * time.Second})
	},
	"streams": func(c goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter {
		return redis.NewStreamsAdapter(c, &redis.StreamsOptions{RequestsTimeout: 3 * time.Second})
	},
}

// node is one server of a test cluster.
type node struct {
	name string
	srv  *socketio.Server
	http *httptest.Server
	rdb  *goredis.Client
}

func newNode(t *testing.T, r *redistest.Server, name string, kind func(goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter, recovery bool) *node {
	t.Helper()
	return newNodeWith(t, r, name, kind, recovery, &goredis.Options{})
}

// newNodeWith is newNode with a Redis client made from copts (its Addr set to r's).
func newNodeWith(t *testing.T, r *redistest.Server, name string, kind func(goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter, recovery bool, copts *goredis.Options) *node {
	t.Helper()
	co := *copts
	co.Addr = r.Addr()
	rdb := goredis.NewClient(&co)
	opts := &socketio.ServerOptions{Adapter: kind(rdb)}
	if recovery {
		opts.Recovery = &socketio.RecoveryOptions{MaxDisconnectionDuration: 30 * time.Second}
	}
	srv := socketio.NewServer(opts)
	n := &node{name: name, srv: srv, rdb: rdb}
	srv.On("join", func(s *socketio.Socket, room string) { s.Join(room) })
	srv.Of("/").OnServerSideEmit("whoami", func() string { return name })
	n.http = httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		n.http.Close()
		_ = rdb.Close()
	})
	return n
}

// inbox collects the events a client receives.
type inbox chan []any

func dial(t *testing.T, n *node, events ...string) (*socketio.Client, inbox) {
	t.Helper()
	c, err := socketio.NewClient(n.http.URL, &socketio.ClientOptions{Transports: []string{"websocket"}})
	if err != nil {
		t.Fatal(err)
	}
	in := make(inbox, 100)
	for _, e := range events {
		c.On(e, func(args ...any) { in <- append([]any{e}, args...) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, in
}

func (in inbox) expect(t *testing.T, want ...any) {
	t.Helper()
	select {
	case got := <-in:
		if len(got) < len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i, w := range want {
			if b, ok := w.([]byte); ok {
				if gb, ok := got[i].([]byte); !ok || string(gb) != string(b) {
					t.Fatalf("got %v, want %v", got, want)
				}
			} else if got[i] != w {
				t.Fatalf("got %v, want %v", got, want)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing received, want %v", want)
	}
}

func (in inbox) none(t *testing.T) {
	t.Helper()
	select {
	case got := <-in:
		t.Fatalf("unexpected %v", got)
	case <-time.After(200 * time.Millisecond):
	}
}

// waitNodes waits until n sees count nodes (subscriptions are asynchronous).
func waitNodes(t *testing.T, n *node, count int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		got, err := n.srv.Of("/").Adapter().ServerCount(ctx)
		if err == nil && got == count {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s sees %d nodes (%v), want %d", n.name, got, err, count)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestCluster(t *testing.T) {
	r := redistest.Start(t)
	for kindName, kind := range adapterKinds {
		t.Run(kindName, func(t *testing.T) {
			a := newNode(t, r, "a", kind, false)
			b := newNode(t, r, "b", kind, false)
			ca, ina := dial(t, a, "news", "room-news")
			cb, inb := dial(t, b, "news", "room-news")
			waitNodes(t, a, 2)
			waitNodes(t, b, 2)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			t.Run("broadcast", func(t *testing.T) {
				if err := a.srv.Emit("news", "hello", []byte{1, 2, 3}); err != nil {
					t.Fatal(err)
				}
				ina.expect(t, "news", "hello", []byte{1, 2, 3})
				inb.expect(t, "news", "hello", []byte{1, 2, 3})
				ina.none(t)
				inb.none(t)
			})
			t.Run("rooms", func(t *testing.T) {
				if err := cb.Emit("join", "blue"); err != nil {
					t.Fatal(err)
				}
				// join has no ack: wait until a sees the room through allRooms.
				waitRoom(t, a, "blue")
				if err := a.srv.To("blue").Emit("room-news", 1); err != nil {
					t.Fatal(err)
				}
				inb.expect(t, "room-news", float64(1))
				ina.none(t)
			})
			t.Run("fetch sockets", func(t *testing.T) {
				got, err := a.srv.FetchSockets(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, s := range got {
					ids = append(ids, s.ID)
				}
				sort.Strings(ids)
				want := []string{ca.ID(), cb.ID()}
				sort.Strings(want)
				if !slices.Equal(ids, want) {
					t.Fatalf("fetched %v, want %v", ids, want)
				}
			})
			t.Run("sockets join and remote emit", func(t *testing.T) {
				if err := a.srv.In(cb.ID()).SocketsJoin("green"); err != nil {
					t.Fatal(err)
				}
				waitRoom(t, a, "green")
				socks, err := a.srv.In("green").FetchSockets(ctx)
				if err != nil || len(socks) != 1 || socks[0].ID != cb.ID() || !slices.Contains(socks[0].Rooms, "green") {
					t.Fatalf("fetched %+v, %v", socks, err)
				}
				if err := socks[0].Emit("news", "direct"); err != nil {
					t.Fatal(err)
				}
				inb.expect(t, "news", "direct")
			})
			t.Run("server-side emit", func(t *testing.T) {
				answers, err := a.srv.Of("/").ServerSideEmitWithAck(ctx, "whoami")
				if err != nil || len(answers) != 1 {
					t.Fatalf("answers %v, %v", answers, err)
				}
				var name string
				if err := answers[0].Decode(&name); err != nil || name != "b" {
					t.Fatalf("answer %q, %v", name, err)
				}
			})
			t.Run("broadcast with acks", func(t *testing.T) {
				ca.On("ask", func(x int) int { return x + 1 })
				cb.On("ask", func(x int) int { return x + 2 })
				answers, err := a.srv.Of("/").EmitWithAck(ctx, "ask", 10)
				if err != nil || len(answers) != 2 {
					t.Fatalf("answers %v, %v", answers, err)
				}
				var got []int
				for _, a := range answers {
					var x int
					_ = a.Decode(&x)
					got = append(got, x)
				}
				sort.Ints(got)
				if !slices.Equal(got, []int{11, 12}) {
					t.Fatalf("answers %v", got)
				}
			})
			if kindName != "pubsub" {
				return // the emitter and allRooms exist in the classic format only
			}
			t.Run("all rooms", func(t *testing.T) {
				rooms, err := redis.AllRooms(ctx, a.srv.Of("/"))
				if err != nil || !slices.Contains(rooms, "blue") || !slices.Contains(rooms, cb.ID()) || !slices.Contains(rooms, ca.ID()) {
					t.Fatalf("all rooms %v, %v", rooms, err)
				}
			})
			t.Run("emitter", func(t *testing.T) {
				e := redis.NewEmitter(a.rdb, nil)
				if err := e.Emit(ctx, "news", "from emitter", []byte{9}); err != nil {
					t.Fatal(err)
				}
				ina.expect(t, "news", "from emitter", []byte{9})
				inb.expect(t, "news", "from emitter", []byte{9})
				if err := e.To("blue").Emit(ctx, "room-news", "emitted"); err != nil {
					t.Fatal(err)
				}
				inb.expect(t, "room-news", "emitted")
				ina.none(t)
			})
		})
	}
}

func waitRoom(t *testing.T, n *node, room string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		socks, err := n.srv.In(room).FetchSockets(ctx)
		if err == nil && len(socks) > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("room %s not seen by %s: %v", room, n.name, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
