package interop

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
)

// Go nodes and Node nodes in one Socket.IO cluster over Redis: tether testserver --redis next
// to node/sio-reference-server.mjs --redis, which runs the official Node adapters. What one
// node publishes the others must understand, whichever wrote it: this pins Tether's Redis
// adapters to the wire format of the real Node packages, not to our reading of them.

// clusterKinds are the adapters both test servers take as --redis-adapter: Node's
// createAdapter (classic pub/sub), createShardedAdapter (sharded pub/sub) and the Redis
// Streams adapter.
var clusterKinds = []string{"pubsub", "sharded", "streams"}

// clusterNode is one server of a test cluster.
type clusterNode struct {
	name string
	node bool // Node's socket.io, not tether testserver
	proc *serverProcess
}

func (n *clusterNode) url() string  { return n.proc.url }
func (n *clusterNode) addr() string { return strings.TrimPrefix(n.proc.url, "http://") }

// startClusterNode starts one server of the cluster on r, with adapter kind and flags
// (e.g. --recovery); node picks sio-reference-server.mjs instead of tether testserver.
func startClusterNode(t *testing.T, r *redistest.Server, kind, name string, node bool, flags ...string) *clusterNode {
	t.Helper()
	cluster := append([]string{"--redis", r.URL(), "--redis-adapter", kind, "--name", name}, flags...)
	var argv []string
	prefix := testServerListening
	if node {
		argv = append([]string{"node", "node/sio-reference-server.mjs", "0"}, cluster...)
		prefix = "listening on "
	} else {
		argv = append([]string{tetherPath(t), "testserver", "--addr", "127.0.0.1:0"}, cluster...)
	}
	label := name + ": " + strings.Join(argv[1:], " ")
	return &clusterNode{name: name, node: node, proc: startServerProcess(t, label, argv, prefix)}
}

// startCluster starts two Tether nodes and one Node node on r.
func startCluster(t *testing.T, r *redistest.Server, kind string, flags ...string) []*clusterNode {
	t.Helper()
	return []*clusterNode{
		startClusterNode(t, r, kind, "tether-a", false, flags...),
		startClusterNode(t, r, kind, "tether-b", false, flags...),
		startClusterNode(t, r, kind, "node-c", true, flags...),
	}
}

// clusterClient is a Go client of one node that records every event it receives.
type clusterClient struct {
	*socketio.Client
	node *clusterNode

	mu      sync.Mutex
	events  []gotEvent
	changed chan struct{} // closed and replaced on every event
}

// dialNode connects a client to n (or to url instead of n's own, for a proxy), in a
// transport mode of goClientTransports.
func dialNode(t *testing.T, n *clusterNode, url, mode string, opts *socketio.ClientOptions) *clusterClient {
	t.Helper()
	if url == "" {
		url = n.url()
	}
	c := &clusterClient{node: n, changed: make(chan struct{})}
	c.Client = newGoClient(t, url, goClientTransports[mode], opts, func(sc *socketio.Client) {
		sc.OnAny(c.record)
	})
	return c
}

func (c *clusterClient) record(event string, args []any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, gotEvent{event, args})
	close(c.changed)
	c.changed = make(chan struct{})
}

// count returns how many events called name with arguments matching match it received.
func (c *clusterClient) count(name string, match func(args []any) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.events {
		if e.name == name && match(e.args) {
			n++
		}
	}
	return n
}

// await waits until c received an event called name with arguments matching match, and
// returns the arguments of the first.
func (c *clusterClient) await(ctx context.Context, name string, match func(args []any) bool) ([]any, error) {
	for {
		c.mu.Lock()
		for _, e := range c.events {
			if e.name == name && match(e.args) {
				c.mu.Unlock()
				return e.args, nil
			}
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("client %s of %s: no %q event: %w", c.ID(), c.node.name, name, ctx.Err())
		}
	}
}

// firstArg matches events whose first argument is v.
func firstArg(v any) func(args []any) bool {
	return func(args []any) bool { return len(args) > 0 && args[0] == v }
}

// converge repeats attempt every 100 ms until done reports true, for at most 15 s: it waits
// for what Redis does asynchronously (subscriptions, the stream readers' first XREAD) before
// the assertions that allow no retry.
func converge(t *testing.T, what string, attempt func(round int), done func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for round := 0; ; round++ {
		attempt(round)
		time.Sleep(100 * time.Millisecond)
		if done() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s", what)
		}
	}
}

// formCluster waits until a broadcast tagged tag from every client reaches every other
// client.
func formCluster(t *testing.T, tag string, clients []*clusterClient) {
	t.Helper()
	converge(t, "cluster formation (broadcasts between all clients)", func(round int) {
		for i, c := range clients {
			_ = c.Emit("broadcast", tag, i, round)
		}
	}, func() bool {
		for j, c := range clients {
			for i := range clients {
				from := func(args []any) bool { return len(args) > 1 && args[0] == tag && args[1] == float64(i) }
				if i != j && c.count("broadcast-back", from) == 0 {
					return false
				}
			}
		}
		return true
	})
}

// settle is how long the tests wait after the last expected delivery for duplicates.
const settle = 500 * time.Millisecond

// TestSIOCluster runs two Tether nodes and one Node node per adapter kind, two clients on each
// node, and checks that broadcasts, rooms, fetchSockets and serverSideEmit span the cluster
// whichever node they start from; with the classic adapter, that the Node and the Go
// emitters reach every node too.
func TestSIOCluster(t *testing.T) {
	requireNode(t)
	// Not parallel with the other tests: several server processes per cluster would starve
	// the tests that hold peers to the test servers' 300 ms / 200 ms heartbeat.
	for _, kind := range clusterKinds {
		t.Run(kind, func(t *testing.T) {
			r := redistest.Start(t)
			testCluster(t, r, kind, startCluster(t, r, kind))
		})
	}
}

// testCluster connects two clients to each node (one over WebSocket, one over long-polling)
// and runs every check.
func testCluster(t *testing.T, r *redistest.Server, kind string, nodes []*clusterNode) {
	var clients []*clusterClient
	for _, n := range nodes {
		clients = append(clients, dialNode(t, n, "", "websocket", nil), dialNode(t, n, "", "polling", nil))
	}
	formCluster(t, "warmup", clients)
	t.Run("broadcast", func(t *testing.T) { testClusterBroadcast(t, clients) })
	t.Run("rooms", func(t *testing.T) { testClusterRooms(t, clients) })
	t.Run("fetch-sockets", func(t *testing.T) { testClusterFetchSockets(t, clients) })
	t.Run("server-side-emit", func(t *testing.T) { testClusterServerSideEmit(t, clients) })
	if kind == "pubsub" {
		t.Run("emitters", func(t *testing.T) { testClusterEmitters(t, r, clients) })
	}
}

// binaryArgs returns arguments with binary values at the top and nested, tagged by token.
func binaryArgs(token string) []any {
	return []any{token, 1.5, []byte{1, 2, 3}, map[string]any{"nested": []byte{0xff, 0}, "n": nil}}
}

// expectOnce waits until each client in want received the event of token, then, after
// settle, checks every client got it exactly as often as want says (absent: never), with
// the arguments wantArgs.
func expectOnce(t *testing.T, clients []*clusterClient, want map[*clusterClient]bool, name, token string, wantArgs []any) {
	t.Helper()
	ctx := testContext(t, 20*time.Second)
	for c := range want {
		args, err := c.await(ctx, name, firstArg(token))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(args, wantArgs) {
			t.Errorf("%s on %s's client: got %#v, want %#v", name, c.node.name, args, wantArgs)
		}
	}
	time.Sleep(settle)
	for _, c := range clients {
		wantN := 0
		if want[c] {
			wantN = 1
		}
		if n := c.count(name, firstArg(token)); n != wantN {
			t.Errorf("%s %q: client %s of %s got it %d times, want %d", name, token, c.ID(), c.node.name, n, wantN)
		}
	}
}

// others returns every client but except, as a set.
func others(clients []*clusterClient, except ...*clusterClient) map[*clusterClient]bool {
	set := map[*clusterClient]bool{}
	for _, c := range clients {
		if !slices.Contains(except, c) {
			set[c] = true
		}
	}
	return set
}

func testClusterBroadcast(t *testing.T, clients []*clusterClient) {
	// All broadcasts at once, then one settle for all: the wait for duplicates is paid once.
	var wg sync.WaitGroup
	for i, sender := range clients {
		token := fmt.Sprintf("broadcast-%d-from-%s", i, sender.node.name)
		if err := sender.Emit("broadcast", binaryArgs(token)...); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			t.Run(token, func(t *testing.T) {
				expectOnce(t, clients, others(clients, sender), "broadcast-back", token, binaryArgs(token))
			})
		})
	}
	wg.Wait()
}

func testClusterRooms(t *testing.T, clients []*clusterClient) {
	const room = "cluster-room"
	// The first client of each node joins; the second stays out.
	var members, outsiders []*clusterClient
	for i, c := range clients {
		if i%2 == 0 {
			members = append(members, c)
			a, err := c.EmitWithAck(goCtx(t), "join", room)
			if err != nil {
				t.Fatal(err)
			}
			sameArgs(t, "join ack", a.Values(), []any{room})
		} else {
			outsiders = append(outsiders, c)
		}
	}
	// The sharded adapter subscribes to a room's channel once a local socket joins it; the
	// subscription is not awaited by join.
	converge(t, "room subscriptions", func(round int) {
		_ = outsiders[0].Emit("to-room", room, "room-warmup", round)
	}, func() bool {
		for _, m := range members {
			if m.count("room-message", firstArg("room-warmup")) == 0 {
				return false
			}
		}
		return true
	})

	var wg sync.WaitGroup
	senders := append(slices.Clone(outsiders), members[0])
	for _, sender := range senders {
		token := fmt.Sprintf("to-room-from-%s-%s", sender.node.name, sender.ID())
		args := []any{token, []byte{7}, map[string]any{"b": []byte{8}}}
		if err := sender.Emit("to-room", append([]any{room}, args...)...); err != nil {
			t.Fatal(err)
		}
		want := map[*clusterClient]bool{}
		for _, m := range members {
			if m != sender {
				want[m] = true
			}
		}
		wg.Go(func() {
			t.Run(token, func(t *testing.T) { expectOnce(t, clients, want, "room-message", token, args) })
		})
	}
	wg.Wait()
}

func testClusterFetchSockets(t *testing.T, clients []*clusterClient) {
	var ids []any
	for _, c := range clients {
		ids = append(ids, c.ID())
	}
	slices.SortFunc(ids, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
	for _, c := range clients {
		a, err := c.EmitWithAck(goCtx(t), "fetch-sockets")
		if err != nil {
			t.Fatalf("fetch-sockets on %s: %v", c.node.name, err)
		}
		sameArgs(t, "fetch-sockets on "+c.node.name, a.Values(), []any{ids})
	}
}

func testClusterServerSideEmit(t *testing.T, clients []*clusterClient) {
	var names []string
	for i := 0; i < len(clients); i += 2 {
		names = append(names, clients[i].node.name)
	}
	for i := 0; i < len(clients); i += 2 {
		c := clients[i]
		var want []any // sorted, as the servers sort their answers
		for _, n := range slices.Sorted(slices.Values(names)) {
			if n != c.node.name {
				want = append(want, n)
			}
		}
		a, err := c.EmitWithAck(goCtx(t), "server-side-emit")
		if err != nil {
			t.Fatalf("server-side-emit on %s: %v", c.node.name, err)
		}
		sameArgs(t, "server-side-emit on "+c.node.name, a.Values(), []any{want})
	}
}

// testClusterEmitters publishes with Node's @socket.io/redis-emitter (node/redis-emit.mjs)
// and with our redis.Emitter, to everyone and to a room (joined by testClusterRooms).
func testClusterEmitters(t *testing.T, r *redistest.Server, clients []*clusterClient) {
	const room = "cluster-room"
	members := map[*clusterClient]bool{}
	for i, c := range clients {
		if i%2 == 0 {
			members[c] = true
		}
	}
	all := others(clients)
	wantArgs := func(token string) []any {
		return []any{token, map[string]any{"n": 1.0}, []byte{1, 2, 3}}
	}

	nodeEmit := func(t *testing.T, token string, flags ...string) {
		t.Helper()
		nodeRun(t, r, append(flags, "--binary", "emitted", `"`+token+`"`, `{"n":1}`)...)
	}
	t.Run("node-emitter", func(t *testing.T) {
		nodeEmit(t, "node-all")
		expectOnce(t, clients, all, "emitted", "node-all", wantArgs("node-all"))
	})
	t.Run("node-emitter-room", func(t *testing.T) {
		nodeEmit(t, "node-room", "--room", room)
		expectOnce(t, clients, members, "emitted", "node-room", wantArgs("node-room"))
	})

	opt, err := goredis.ParseURL(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	e := redis.NewEmitter(rdb, nil)
	t.Run("go-emitter", func(t *testing.T) {
		if err := e.Emit(goCtx(t), "emitted", wantArgs("go-all")...); err != nil {
			t.Fatal(err)
		}
		expectOnce(t, clients, all, "emitted", "go-all", wantArgs("go-all"))
	})
	t.Run("go-emitter-room", func(t *testing.T) {
		if err := e.To(room).Emit(goCtx(t), "emitted", wantArgs("go-room")...); err != nil {
			t.Fatal(err)
		}
		expectOnce(t, clients, members, "emitted", "go-room", wantArgs("go-room"))
	})

	// socketsJoin from one emitter, then a room emit from the other, repeated until it lands:
	// the join is a request every node handles on its own time.
	joinedBy := func(t *testing.T, room string, emit func(round int)) {
		converge(t, "emit to "+room, emit, func() bool {
			for _, c := range clients {
				if c.count("in-room", firstArg(room)) == 0 {
					return false
				}
			}
			return true
		})
	}
	t.Run("node-sockets-join", func(t *testing.T) {
		nodeRun(t, r, "--sockets-join", "joined-by-node")
		joinedBy(t, "joined-by-node", func(round int) {
			_ = e.To("joined-by-node").Emit(goCtx(t), "in-room", "joined-by-node", round)
		})
	})
	t.Run("go-sockets-join", func(t *testing.T) {
		if err := e.SocketsJoin(goCtx(t), "joined-by-go"); err != nil {
			t.Fatal(err)
		}
		joinedBy(t, "joined-by-go", func(round int) {
			nodeRun(t, r, "--room", "joined-by-go", "in-room", `"joined-by-go"`, strconv.Itoa(round))
		})
	})
}

// nodeRun runs node/redis-emit.mjs with args against r.
func nodeRun(t *testing.T, r *redistest.Server, args ...string) {
	t.Helper()
	argv := append([]string{"node", "node/redis-emit.mjs", r.URL()}, args...)
	out, err := command(testContext(t, 30*time.Second), argv).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}
