package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
)

// TestSIOClusterRecovery moves a client from one node to another while it is away: with the
// Streams adapter and recovery on, the session the first node stored in Redis and the packets
// of the stream let the second node restore it (same id, same rooms, missed packets). Node to
// Node is the reference: a direction that fails while it passes points at Tether.
func TestSIOClusterRecovery(t *testing.T) {
	requireNode(t)
	// Not parallel with the other tests: several server processes per cluster would starve
	// the tests that hold peers to the test servers' 300 ms / 200 ms heartbeat.
	r := redistest.Start(t)
	nodes := append(startCluster(t, r, "streams", "--recovery"),
		startClusterNode(t, r, "streams", "node-d", true, "--recovery"))
	tetherA, tetherB, nodeC, nodeD := nodes[0], nodes[1], nodes[2], nodes[3]
	var warm []*clusterClient
	for _, n := range nodes {
		warm = append(warm, dialNode(t, n, "", "websocket", nil))
	}
	formCluster(t, "warmup", warm)

	for _, tc := range []struct{ from, to, sender *clusterNode }{
		{tetherA, tetherB, nodeC},
		{nodeC, tetherA, tetherB},
		{tetherA, nodeC, tetherB},
		{nodeC, nodeD, tetherA},
	} {
		t.Run(tc.from.name+"-to-"+tc.to.name, func(t *testing.T) {
			t.Parallel()
			testRecoveryAcross(t, r, tc.from, tc.to, tc.sender)
		})
	}
}

// testRecoveryAcross connects a client to from through a proxy, cuts it off, has a client of
// sender emit to its room meanwhile, and lets it reconnect to to.
func testRecoveryAcross(t *testing.T, r *redistest.Server, from, to, sender *clusterNode) {
	proxy := startCutProxy(t, from.addr())
	connects := make(chan struct{}, 8)
	reasons := make(chan socketio.DisconnectReason, 8)
	a := dialNode(t, from, "http://"+proxy.addr(), "websocket", &socketio.ClientOptions{
		ReconnectionDelay:    20 * time.Millisecond,
		ReconnectionDelayMax: 100 * time.Millisecond,
	})
	a.OnConnect(func() { connects <- struct{}{} })
	a.OnDisconnect(func(r socketio.DisconnectReason) { reasons <- r })
	b := dialNode(t, sender, "", "websocket", nil)
	id := a.ID()
	room := "recovery-" + id
	if _, err := a.EmitWithAck(goCtx(t), "join", room); err != nil {
		t.Fatal(err)
	}
	// Through the cluster once before the cut: a's offset is then a recent stream entry.
	roomMessage := func(token string) []any {
		t.Helper()
		if err := b.Emit("to-room", room, token, []byte{5}); err != nil {
			t.Fatal(err)
		}
		args, err := a.await(testContext(t, 20*time.Second), "room-message", firstArg(token))
		if err != nil {
			t.Fatalf("%v\n%s", err, dumpSessions(t, r))
		}
		return withoutOffset(args, true)
	}
	sameArgs(t, "room-message before the cut", roomMessage("before"), []any{"before", []byte{5}})

	proxy.switchTo(to.addr())
	select {
	case <-reasons:
	case <-time.After(20 * time.Second):
		t.Fatal("no disconnect within 20s of the cut")
	}
	if err := b.Emit("to-room", room, "missed", []byte{6}); err != nil {
		t.Fatal(err)
	}
	// b's packets are handled in order: once this answer is in, the room message has been
	// handed to the adapter. The pause lets the adapter's XADD and from's session store
	// (on the socket's disconnect) reach Redis.
	if _, err := b.EmitWithAck(goCtx(t), "message-with-ack"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	sessions := dumpSessions(t, r)
	proxy.setDown(false)

	select {
	case <-connects:
	case <-time.After(20 * time.Second):
		t.Fatal("no reconnection within 20s")
	}
	if !a.Recovered() || a.ID() != id {
		t.Fatalf("after moving from %s to %s: recovered %v, id %q, want %q\nRedis before the reconnection:\n%s",
			from.name, to.name, a.Recovered(), a.ID(), id, sessions)
	}
	args, err := a.await(testContext(t, 10*time.Second), "room-message", firstArg("missed"))
	if err != nil {
		t.Fatalf("%v\nRedis before the reconnection:\n%s", err, sessions)
	}
	sameArgs(t, "missed room-message", withoutOffset(args, true), []any{"missed", []byte{6}})
	// Still in the room, now on to.
	sameArgs(t, "room-message after", roomMessage("after"), []any{"after", []byte{5}})
	// sio-reference-server.mjs says so when a restored socket.data is not an object, as
	// Node's own sessions have it.
	for _, l := range stderrLines(to) {
		if strings.Contains(l, "socket "+id+":") {
			t.Errorf("%s restored the session %s stored: %s\nRedis before the reconnection:\n%s", to.name, from.name, l, sessions)
		}
	}
}

// dumpSessions describes the recovery state in Redis (session keys and the stream's last
// entries), for failure messages.
func dumpSessions(t *testing.T, r *redistest.Server) string {
	opt, err := goredis.ParseURL(r.URL())
	if err != nil {
		return err.Error()
	}
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var b strings.Builder
	keys, err := rdb.Keys(ctx, "*").Result()
	fmt.Fprintf(&b, "  KEYS * = %q %v\n", keys, err)
	for _, k := range keys {
		if strings.HasPrefix(k, "sio:session:") {
			v, err := rdb.Get(ctx, k).Result()
			ttl, _ := rdb.PTTL(ctx, k).Result()
			fmt.Fprintf(&b, "  GET %s = %q %v (ttl %v)\n", k, v, err, ttl)
		}
	}
	entries, err := rdb.XRevRangeN(ctx, "socket.io", "+", "-", 6).Result()
	fmt.Fprintf(&b, "  XREVRANGE socket.io + - COUNT 6: %v\n", err)
	for _, e := range entries {
		fmt.Fprintf(&b, "    %s %v\n", e.ID, e.Values)
	}
	return b.String()
}
