package interop

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/redistest"
)

// TestSIOClusterRedisRestart kills Redis under a cluster with traffic flowing, keeps it down
// for a second, and starts it again: the nodes must stay up, log the outage a few times (not
// once per message), and carry broadcasts between nodes again by themselves.
func TestSIOClusterRedisRestart(t *testing.T) {
	requireNode(t)
	// Not parallel with the other tests: several server processes per cluster would starve
	// the tests that hold peers to the test servers' 300 ms / 200 ms heartbeat.
	for _, kind := range []string{"pubsub", "streams"} {
		t.Run(kind, func(t *testing.T) {
			r := redistest.Start(t)
			testRedisRestart(t, r, startCluster(t, r, kind))
		})
	}
}

// testRedisRestart connects a client to each node, and stops and restarts r under them.
func testRedisRestart(t *testing.T, r *redistest.Server, nodes []*clusterNode) {
	var clients []*clusterClient
	for _, n := range nodes {
		clients = append(clients, dialNode(t, n, "", "websocket", nil))
	}
	formCluster(t, "warmup", clients)
	before := make([]int, len(nodes))
	for i, n := range nodes {
		before[i] = len(stderrLines(n))
	}

	// Every client broadcasts a numbered tick every 50 ms, at most 600 each (30 s).
	sent := make([]atomic.Int64, len(clients))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for seq := range 600 {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				_ = c.Emit("broadcast", "tick", i, seq)
				sent[i].Store(int64(seq))
			}
		})
	}
	stopTraffic := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopTraffic)

	time.Sleep(500 * time.Millisecond)
	r.Stop()
	// Down long enough for every node to publish a score of messages: one log line
	// per message would show.
	time.Sleep(time.Second)
	r.Restart()
	restarted := make([]int64, len(clients))
	for i := range sent {
		restarted[i] = sent[i].Load()
	}

	// A tick sent after the restart reaches every client of the other nodes.
	deadline := time.Now().Add(20 * time.Second)
	for !ticksCrossed(clients, restarted) {
		if time.Now().After(deadline) {
			t.Fatalf("no broadcast between every pair of nodes within 20s of Redis's restart: %s", tickSummary(clients))
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopTraffic()

	for i, n := range nodes {
		logged := stderrLines(n)[before[i]:]
		t.Logf("%s logged %d lines during the outage:\n  %s", n.name, len(logged), strings.Join(logged, "\n  "))
		if len(logged) == 0 || len(logged) > 10 {
			t.Errorf("%s logged %d lines about the outage, want 1 to 10 (once per outage, not per message)", n.name, len(logged))
		}
	}
	// Still serving: a new client of each node is seen by the others.
	for _, n := range nodes {
		clients = append(clients, dialNode(t, n, "", "websocket", nil))
	}
	formCluster(t, "after-restart", clients)
}

// stderrLines returns the non-empty lines n wrote to its standard error so far.
func stderrLines(n *clusterNode) []string {
	var lines []string
	for l := range strings.Lines(n.proc.stderr.String()) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// ticksCrossed reports whether every client received, from every other client, a tick
// numbered above after[sender].
func ticksCrossed(clients []*clusterClient, after []int64) bool {
	for j, c := range clients {
		for i := range clients {
			if i != j && c.count("broadcast-back", tickAfter(i, after[i])) == 0 {
				return false
			}
		}
	}
	return true
}

func tickAfter(sender int, after int64) func(args []any) bool {
	return func(args []any) bool {
		if len(args) != 3 || args[0] != "tick" || args[1] != float64(sender) {
			return false
		}
		seq, ok := args[2].(float64)
		return ok && int64(seq) > after
	}
}

// tickSummary says how many ticks each client got from each sender, for failure messages.
func tickSummary(clients []*clusterClient) string {
	var b strings.Builder
	for j, c := range clients {
		fmt.Fprintf(&b, "\n  client of %s got", c.node.name)
		for i := range clients {
			if i != j {
				fmt.Fprintf(&b, " %d ticks from %s;", c.count("broadcast-back", tickAfter(i, -1)), clients[i].node.name)
			}
		}
	}
	return b.String()
}
