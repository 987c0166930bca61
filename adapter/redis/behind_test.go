package redis_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
)

// TestNodeFallsBehind: a node that delivers more slowly than broadcasts come holds no backlog
// of its own. The kernel's socket buffers (megabytes), then Redis, hold what it has not read,
// up to Redis's client-output-buffer-limit for pub/sub clients (64 kB here), past which Redis
// closes the subscription. Once the node has read what the kernel kept, it logs the cut once,
// subscribes again by itself, logs the end once, and delivers what is published after, in
// order. It delivers with two workers, a receiver each.
func TestNodeFallsBehind(t *testing.T) {
	r := redistest.Start(t)
	admin := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	t.Cleanup(func() { _ = admin.Close() })
	ctx := context.Background()
	if err := admin.ConfigSet(ctx, "client-output-buffer-limit", "pubsub 64kb 32kb 1").Err(); err != nil {
		t.Fatal(err)
	}
	logsB := &records{}
	a := newNode(t, r, "a", func(c goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter {
		return redis.NewAdapter(c, nil)
	}, false)
	b := newNodeWith(t, r, "b", func(c goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter {
		o := &redis.Options{Logger: slog.New(logsB), DeliveryWorkers: 2}
		o.SetMinShare(1)
		return redis.NewAdapter(c, o)
	}, false, &goredis.Options{ClientName: "node-b"})
	receivers := []*tally{dialTally(t, b), dialTally(t, b)}
	waitNodes(t, a, 2)
	var slow atomic.Bool
	for _, s := range b.srv.Of("/").Sockets() {
		s.OnAnyOutgoing(func(string, []any) {
			if slow.Load() {
				time.Sleep(5 * time.Millisecond) // a node with too much to do
			}
		})
	}
	// subscribed reports whether Redis holds b's subscription.
	subscribed := func() bool {
		list, err := admin.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, "name=node-b ") && strings.Contains(line, "flags=P") {
				return true
			}
		}
		return false
	}
	if !subscribed() {
		t.Fatal("no subscription of b in CLIENT LIST")
	}

	slow.Store(true)
	pad := strings.Repeat("x", 1000)
	n := int64(0)
	deadline := time.Now().Add(30 * time.Second)
	for subscribed() {
		if time.Now().After(deadline) {
			t.Fatalf("Redis did not cut b's subscription after %d broadcasts", n)
		}
		for range 200 {
			_ = a.srv.Emit("tick", n, pad)
			n++
		}
		time.Sleep(20 * time.Millisecond)
	}
	cut := n
	slow.Store(false)
	waitFor(t, "the cut logged", func() bool { return logsB.count("unreachable", "subscription") > 0 })
	waitFor(t, "the subscription back", func() bool { return logsB.count("reachable again", "subscription") > 0 })
	waitFor(t, "ticks after the cut", func() bool {
		_ = a.srv.Emit("tick", n, pad)
		n++
		return allPast(receivers, cut)
	})
	if c := logsB.count("unreachable", "subscription"); c != 1 {
		t.Errorf("the cut logged %d times, want once:\n%s", c, logsB)
	}
	for i, rc := range receivers {
		rc.mu.Lock()
		if rc.disordered > 0 {
			t.Errorf("receiver %d: %d ticks after a later one", i, rc.disordered)
		}
		t.Logf("receiver %d: %d of %d ticks (cut after %d)", i, len(rc.got), n, cut)
		rc.mu.Unlock()
	}
}
