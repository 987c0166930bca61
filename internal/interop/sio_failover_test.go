package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/internal/testenv"
)

// failoverResult is what node/sio-failover.mjs counts, summed over its clients.
type failoverResult struct {
	Clients                      int `json:"clients"`
	BroadcastsSent               int `json:"broadcastsSent"`
	Cut                          int `json:"cut"`
	SameID                       int `json:"sameID"`
	Recovered                    int `json:"recovered"`
	Reconnects                   int `json:"reconnects"`
	LastEventDirectEmit          int `json:"lastEventDirectEmit"`
	LastEventDirectEmitRecovered int `json:"lastEventDirectEmitRecovered"`
	BroadcastsReceived           int `json:"broadcastsReceived"`
	BroadcastsMissing            int `json:"broadcastsMissing"`
	BroadcastsDuplicated         int `json:"broadcastsDuplicated"`
	MessagesSent                 int `json:"messagesSent"`
	MessageBacksReceived         int `json:"messageBacksReceived"`
	MessageBacksDuplicated       int `json:"messageBacksDuplicated"`
	MessagesLostInFlight         int `json:"messagesLostInFlight"`
	ClientsWithMissing           int `json:"clientsWithMissing"`
	ClientsWithDuplicates        int `json:"clientsWithDuplicates"`
	ClientsWithNewID             int `json:"clientsWithNewID"`
	ByTransport                  map[string]struct {
		Clients    int `json:"clients"`
		Missing    int `json:"missing"`
		Duplicated int `json:"duplicated"`
		NewID      int `json:"newID"`
	} `json:"byTransport"`
	Examples []json.RawMessage `json:"examples"`
}

func (r failoverResult) String() string {
	return fmt.Sprintf("%d clients (ws and polling), %d cut, %d back with the same id, %d recovered; "+
		"broadcasts: %d sent, %d received, %d missing, %d duplicated; "+
		"direct emits: %d messages, %d message-backs, %d duplicated, %d lost on the way to the server; "+
		"last event before the cut a direct emit: %d clients, %d of them recovered",
		r.Clients, r.Cut, r.SameID, r.Recovered,
		r.BroadcastsSent, r.BroadcastsReceived, r.BroadcastsMissing, r.BroadcastsDuplicated,
		r.MessagesSent, r.MessageBacksReceived, r.MessageBacksDuplicated, r.MessagesLostInFlight,
		r.LastEventDirectEmit, r.LastEventDirectEmitRecovered)
}

// TestSIOFailover is a rolling restart as an operator does it: two nodes with the Streams
// adapter and connection state recovery share a Redis; official socket.io-client clients
// (half WebSocket, half polling) reach the first through a load balancer and get
// sequence-numbered broadcasts from a client of the second, and direct emits of their own.
// The balancer sends new connections to the second node, the first gets SIGTERM, and every
// client must come back with its id and every event exactly once: none missing, none twice.
// Node's socket.io with @socket.io/redis-streams-adapter runs the same script as the reference;
// it recovers every client but misses or repeats an event now and then, which is logged.
func TestSIOFailover(t *testing.T) {
	requireNode(t)
	clients := 500
	if testing.Short() {
		clients = 100
	}
	for _, tc := range []struct {
		name    string
		node    bool
		clients int
	}{
		{"tether", false, clients},
		// Node's nodes hold 100 clients through the failover; with 500, on 2 cores and the
		// test servers' 300 ms / 200 ms heartbeat, they time clients out in waves for a minute.
		{"node-reference", true, min(clients, 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clients := tc.clients
			r := runFailover(t, tc.node, clients)
			t.Logf("%s: %v", tc.name, r)
			if r.Clients != clients || r.Cut != clients || r.BroadcastsSent < 20 || r.MessagesSent < clients {
				t.Fatalf("the run did not do what it should: %v", r)
			}
			if tc.node {
				// The reference recovers every client, but is not exactly-once itself: a
				// few events are missed or come twice in most runs (2 of 100 clients each
				// way, typically). Its figures are logged, for comparison.
				if r.SameID != clients {
					t.Errorf("the reference did not recover every client: %v", r)
				}
				return
			}
			if r.SameID != clients || r.BroadcastsMissing != 0 || r.BroadcastsDuplicated != 0 ||
				r.MessageBacksDuplicated != 0 {
				t.Errorf("not every client failed over with its id and every event exactly once: %v\nby transport: %+v\nexamples: %s",
					r, r.ByTransport, r.Examples)
			}
			// A message the client wrote as its connection went away may never have been
			// read: Socket.IO recovers what the server sends, not what it was sent. At most
			// one per reconnection, the one in flight.
			if r.MessagesLostInFlight > r.Reconnects {
				t.Errorf("%d messages lost on the way to the server, more than one per reconnection (%d)",
					r.MessagesLostInFlight, r.Reconnects)
			}
		})
	}
}

// runFailover runs node/sio-failover.mjs against two nodes (Tether, or Node with node), takes
// the first away mid-traffic, and returns the script's counts.
func runFailover(t *testing.T, node bool, clients int) failoverResult {
	red := redistest.Start(t)
	// Not a heartbeat test: a heartbeat that tolerates the load of hundreds of clients
	// reconnecting at once on 2 cores, and time for their sessions to be restored.
	flags := []string{"--recovery", "--ping-interval", "5s", "--ping-timeout", "5s", "--connect-timeout", "10s"}
	a := startClusterNode(t, red, "streams", "a", node, flags...)
	b := startClusterNode(t, red, "streams", "b", node, flags...)
	lb := startCutProxy(t, a.addr())

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := command(ctx, []string{"node", "node/sio-failover.mjs", "--url=http://" + lb.addr(),
		"--sender=" + b.url(), fmt.Sprintf("--clients=%d", clients), "--timeout=90000"})
	var stderr testenv.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = killGroup(cmd); _ = cmd.Wait() }()

	var log []string
	var result *failoverResult
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "READY":
			// Out of rotation first, then stopped: the clients the node closes come back
			// through the balancer to the other node.
			lb.retarget(b.addr())
			if err := a.proc.stop(); err != nil {
				t.Errorf("stopping node a: %v", err)
			}
			log = append(log, line, "(node a stopped)")
		case strings.HasPrefix(line, "RESULT "):
			result = new(failoverResult)
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "RESULT ")), result); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
		default:
			log = append(log, line)
		}
	}
	if result == nil {
		t.Fatalf("sio-failover.mjs gave no result:\n%s\nstderr:\n%s", strings.Join(log, "\n"), stderr.String())
	}
	t.Logf("sio-failover.mjs:\n%s", strings.Join(log, "\n"))
	return *result
}
