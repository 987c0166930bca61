package main

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/internal/testenv"
	"github.com/tether-rt/tether/socketio"
)

// Tests of --redis: nodes started as the command line starts them, in-process, on a private
// redis-server, with Go Socket.IO clients on different nodes.

var adapterKinds = []string{adapterPubSub, adapterSharded, adapterStreams}

// node is a server command running in-process until the test ends.
type node struct {
	addr string // host:port
	name string // its name in the cluster
}

// nodeLine is what a server prints, after its listening line, once it has joined a cluster.
var nodeLine = regexp.MustCompile(`listening on http://(\S+)\n.*: node (\S+) of the cluster on Redis .* adapter\)\n`)

// startNode runs "tether <args>" with --addr 127.0.0.1:0 until the test ends, waits for the
// lines saying where it listens and which cluster it joined, and fails the test unless it
// exits 0 once stopped.
func startNode(t *testing.T, args ...string) node {
	t.Helper()
	args = append(slices.Clone(args), "--addr", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &testenv.Buffer{}, &testenv.Buffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, nil, stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("%q exited with %d; stderr: %s", args, code, stderr.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := nodeLine.FindStringSubmatch(stdout.String()); m != nil {
			return node{addr: m[1], name: m[2]}
		}
		select {
		case code := <-done:
			done <- code // for the cleanup
			t.Fatalf("%q exited with %d before joining the cluster; stdout: %s; stderr: %s", args, code, stdout.String(), stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q: no cluster line within 30s; stdout: %s", args, stdout.String())
		}
	}
}

// startTestServerNode runs a test server on the cluster of redisURL with the adapter kind.
// A 5 s ping timeout keeps a loaded machine from ending sessions under the test.
func startTestServerNode(t *testing.T, redisURL, kind string) node {
	t.Helper()
	return startNode(t, "testserver", "--ping-timeout", "5s", "--redis", redisURL, "--redis-adapter", kind)
}

// event is an event a clusterClient received.
type event struct {
	name string
	args []any
}

// clusterClient is a Go Socket.IO client of one node that records the events it gets.
type clusterClient struct {
	t      *testing.T
	c      *socketio.Client
	events chan event
}

// dialNode connects a client to the main namespace of the server at addr, with the given
// transports (nil: polling upgraded to WebSocket), and closes it when the test ends.
func dialNode(t *testing.T, addr string, transports []string) *clusterClient {
	t.Helper()
	c, err := socketio.NewClient("http://"+addr, &socketio.ClientOptions{Transports: transports, DisableReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	cc := &clusterClient{t: t, c: c, events: make(chan event, 256)}
	c.OnAny(func(name string, args []any) {
		select {
		case cc.events <- event{name, args}:
		default:
			t.Errorf("client of %s: event %q dropped, the test reads too few", addr, name)
		}
	})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return cc
}

// expect waits for the event name, skipping others, and fails unless its arguments, as
// JSON, are want.
func (c *clusterClient) expect(name, want string) {
	c.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-c.events:
			if e.name != name {
				continue
			}
			if got := jsonOf(c.t, e.args); got != want {
				c.t.Fatalf("%s: got %s, want %s", name, got, want)
			}
			return
		case <-timeout:
			c.t.Fatalf("no %s event within 10s", name)
		}
	}
}

// call emits event with args, waits for the acknowledgement and returns its arguments as a
// JSON array.
func (c *clusterClient) call(event string, args ...any) string {
	c.t.Helper()
	res, err := c.c.EmitWithAck(testCtx(c.t), event, args...)
	if err != nil {
		c.t.Fatalf("%s: %v", event, err)
	}
	return jsonOf(c.t, res.Values())
}

func (c *clusterClient) emit(event string, args ...any) {
	c.t.Helper()
	if err := c.c.Emit(event, args...); err != nil {
		c.t.Fatalf("emit %s: %v", event, err)
	}
}

// jsonOf encodes v as compact JSON.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	args, err := socketio.NewArgs(v)
	if err != nil {
		t.Fatalf("encoding %v: %v", v, err)
	}
	return string(args.Raw(0))
}

// waitForPeers asks c's node, through server-side-emit, for the names of the other nodes
// until it answers with want: then the node's subscriptions are in place and the other
// nodes see it. Before, it answers with fewer names or an error.
func waitForPeers(t *testing.T, c *clusterClient, want ...string) {
	t.Helper()
	wantJSON := jsonOf(t, []any{want})
	var got string
	for range 100 {
		if got = c.call("server-side-emit"); got == wantJSON {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server-side-emit answered %s, want %s", got, wantJSON)
}

// TestClusterTestServer runs two test servers on one Redis with each adapter and checks the
// events of docs/TEST-SERVERS.md between clients of different nodes, and the cluster extensions.
func TestClusterTestServer(t *testing.T) {
	for _, kind := range adapterKinds {
		t.Run(kind, func(t *testing.T) {
			r := redistest.Start(t)
			n1, n2 := startTestServerNode(t, r.URL(), kind), startTestServerNode(t, r.URL(), kind)
			if n1.name != "tether-"+port(t, n1.addr) {
				t.Errorf("node on %s is named %q, want tether-PORT", n1.addr, n1.name)
			}
			a := dialNode(t, n1.addr, nil)
			b := dialNode(t, n2.addr, []string{"websocket"})

			// server-side-emit: each node hears the other's whoami answer.
			waitForPeers(t, a, n2.name)
			waitForPeers(t, b, n1.name)

			// fetch-sockets: both nodes see both sockets.
			ids := []string{a.c.ID(), b.c.ID()}
			slices.Sort(ids)
			for _, c := range []*clusterClient{a, b} {
				if got, want := c.call("fetch-sockets"), jsonOf(t, []any{ids}); got != want {
					t.Fatalf("fetch-sockets = %s, want %s", got, want)
				}
			}

			// broadcast: both ways, arguments unchanged.
			a.emit("broadcast", "from a", 1, map[string]any{"k": []any{true, nil}})
			b.expect("broadcast-back", `["from a",1,{"k":[true,null]}]`)
			b.emit("broadcast", "from b")
			a.expect("broadcast-back", `["from b"]`)

			// join + to-room: a room joined on node 2 hears a message sent from node 1.
			if got := b.call("join", "garden"); got != `["garden"]` {
				t.Fatalf("join acked %s", got)
			}
			a.emit("to-room", "garden", "hello", 2)
			b.expect("room-message", `["hello",2]`)
		})
	}
}

// TestClusterBinary checks that binary arguments cross the cluster as binary.
func TestClusterBinary(t *testing.T) {
	r := redistest.Start(t)
	n1, n2 := startTestServerNode(t, r.URL(), adapterPubSub), startTestServerNode(t, r.URL(), adapterPubSub)
	a, b := dialNode(t, n1.addr, nil), dialNode(t, n2.addr, nil)
	waitForPeers(t, a, n2.name)
	waitForPeers(t, b, n1.name)
	a.emit("broadcast", []byte{0, 1, 2, 255})
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-b.events:
			if e.name != "broadcast-back" {
				continue
			}
			if len(e.args) != 1 || fmt.Sprintf("%T %v", e.args[0], e.args[0]) != "[]uint8 [0 1 2 255]" {
				t.Fatalf("broadcast-back %#v, want one []byte", e.args)
			}
			return
		case <-timeout:
			t.Fatal("no broadcast-back within 10s")
		}
	}
}

// TestClusterNames checks --name, and that a node alone in its cluster has no peers to answer.
func TestClusterNames(t *testing.T) {
	r := redistest.Start(t)
	n := startNode(t, "testserver", "--ping-timeout", "5s", "--redis", r.URL(), "--name", "alpha")
	if n.name != "alpha" {
		t.Fatalf("name %q, want alpha", n.name)
	}
	a := dialNode(t, n.addr, nil)
	if got := a.call("server-side-emit"); got != `[[]]` {
		t.Errorf("server-side-emit alone = %s, want []", got)
	}
	if got := a.call("fetch-sockets"); got != jsonOf(t, []any{[]string{a.c.ID()}}) {
		t.Errorf("fetch-sockets alone = %s", got)
	}
}

// TestServeCluster checks that the demo relays a page's message to the pages of another node.
func TestServeCluster(t *testing.T) {
	r := redistest.Start(t)
	dir := fakeBundle(t)
	n1 := startNode(t, "serve", "--client-dir", dir, "--redis", r.URL())
	n2 := startNode(t, "serve", "--client-dir", dir, "--redis", r.URL())
	a, b := dialNode(t, n1.addr, nil), dialNode(t, n2.addr, []string{"websocket"})
	// The demo has no way to ask whether node 2 has subscribed yet: send until a message
	// gets through, then check that the next one does at once.
	got := false
	for i := 0; i < 100 && !got; i++ {
		a.emit("message", fmt.Sprint("probe ", i))
		select {
		case e := <-b.events:
			got = e.name == "message"
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !got {
		t.Fatal("no message from node 1 reached node 2")
	}
	a.emit("message", "hello, other node")
	want := jsonOf(t, []any{a.c.ID(), "hello, other node"})
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-b.events:
			if e.name == "message" && jsonOf(t, e.args) == want {
				return
			}
		case <-timeout:
			t.Fatalf("no message %s within 10s", want)
		}
	}
}

// TestClusterFlags checks the flags' errors and the start-up messages, with a Redis that is
// not there: the server warns and starts anyway. The context is canceled from the start, so
// that each server shuts down as soon as it has started.
func TestClusterFlags(t *testing.T) {
	dead := "redis://" + deadAddr(t) + "/0"
	tests := []runCase{
		{[]string{"testserver", "--name", "x"}, 2, "", "--name needs --redis"},
		{[]string{"testserver", "--redis-adapter", "streams"}, 2, "", "--redis-adapter needs --redis"},
		{[]string{"testserver", "--redis-workers", "2"}, 2, "", "--redis-workers needs --redis"},
		{[]string{"testserver", "--redis", dead, "--redis-adapter", "kafka"}, 2, "", `--redis-adapter "kafka"`},
		{[]string{"testserver", "--redis", "http://127.0.0.1:1"}, 2, "", "--redis: "},
		{[]string{"testserver", "--addr", "127.0.0.1:0", "--redis", dead}, 0, "node tether-", "unreachable"},
		{[]string{"testserver", "--addr", "127.0.0.1:0", "--redis", dead, "--recovery"}, 0, "(pubsub adapter)",
			"with --redis-adapter pubsub, a session is recovered only by the node that held it"},
		{[]string{"testserver", "--addr", "127.0.0.1:0", "--redis", dead, "--recovery", "--redis-adapter", "sharded"}, 0, "(sharded adapter)",
			"with --redis-adapter sharded"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--client-dir", fakeBundle(t), "--redis", dead, "--name", "n1", "--redis-adapter", "streams"}, 0,
			"node n1 of the cluster on Redis", "unreachable"},
		{[]string{"testserver", "-h"}, 0, "-redis-adapter adapter", ""},
		{[]string{"serve", "-h"}, 0, "-redis URL", ""},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range tests {
		var stdout, stderr testenv.Buffer
		code := run(ctx, tt.args, nil, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
			t.Errorf("%q: code %d, stdout %q, stderr %q", tt.args, code, stdout.String(), stderr.String())
		}
	}

	// Streams keep sessions in Redis: no hint.
	var stdout, stderr testenv.Buffer
	args := []string{"testserver", "--addr", "127.0.0.1:0", "--redis", dead, "--recovery", "--redis-adapter", "streams"}
	if code := run(ctx, args, nil, &stdout, &stderr); code != 0 || strings.Contains(stderr.String(), "recovered only") {
		t.Errorf("%q: code %d, stderr %q", args, code, stderr.String())
	}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
