package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
)

// logBuffer collects a logger's output for a test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestRedisRestart stops Redis under a running cluster: local delivery goes on, requests to
// other nodes fail with an error instead of hanging, the outage is logged a bounded number of
// times however many messages fail, and once Redis is back the nodes talk again by themselves.
func TestRedisRestart(t *testing.T) {
	kinds := map[string]func(goredis.UniversalClient, *slog.Logger) func(socketio.AdapterHost) socketio.Adapter{
		"pubsub": func(c goredis.UniversalClient, l *slog.Logger) func(socketio.AdapterHost) socketio.Adapter {
			return redis.NewAdapter(c, &redis.Options{RequestsTimeout: 2 * time.Second, Logger: l})
		},
		"sharded": func(c goredis.UniversalClient, l *slog.Logger) func(socketio.AdapterHost) socketio.Adapter {
			return redis.NewShardedAdapter(c, &redis.ShardedOptions{RequestsTimeout: 2 * time.Second, Logger: l})
		},
		"streams": func(c goredis.UniversalClient, l *slog.Logger) func(socketio.AdapterHost) socketio.Adapter {
			return redis.NewStreamsAdapter(c, &redis.StreamsOptions{RequestsTimeout: 2 * time.Second, Logger: l})
		},
	}
	for name, kind := range kinds {
		t.Run(name, func(t *testing.T) {
			r := redistest.Start(t)
			var logs logBuffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			withLog := func(c goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter { return kind(c, logger) }
			a := newNode(t, r, "a", withLog, false)
			b := newNode(t, r, "b", withLog, false)
			_, ina := dial(t, a, "news")
			_, inb := dial(t, b, "news")
			waitNodes(t, a, 2)
			waitNodes(t, b, 2)

			r.Stop()
			for i := range 50 {
				if err := a.srv.Emit("news", i); err != nil {
					t.Fatalf("emit with Redis down: %v", err)
				}
				ina.expect(t, "news", float64(i)) // local delivery goes on
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := a.srv.FetchSockets(ctx); err == nil {
				t.Fatal("fetchSockets with Redis down: no error")
			} else if !strings.Contains(err.Error(), "redis adapter") {
				t.Fatalf("fetchSockets error does not say where it comes from: %v", err)
			}
			if n := logs.count("level=WARN"); n == 0 || n > 6 {
				t.Fatalf("%d warnings logged for 50 messages during the outage:\n%s", n, logs.String())
			}

			r.Restart()
			// Back: b's subscription returns by itself; keep broadcasting until one crosses.
			deadline := time.After(20 * time.Second)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for crossed := false; !crossed; {
				select {
				case <-deadline:
					t.Fatalf("no broadcast crossed after Redis came back:\n%s", logs.String())
				case <-tick.C:
					_ = a.srv.Emit("news", "again")
				case got := <-inb:
					crossed = got[1] == "again"
				}
			}
			waitNodes(t, a, 2)
			if got, err := a.srv.FetchSockets(ctx); err != nil || len(got) != 2 {
				t.Fatalf("fetchSockets after the restart: %d sockets, %v", len(got), err)
			}
			if !strings.Contains(logs.String(), "reachable again") {
				t.Fatalf("the end of the outage was not logged:\n%s", logs.String())
			}
		})
	}
}

// TestRedisPause pauses Redis (SIGSTOP) under a cluster for four publish timeouts, lets it run
// again, then kills and restarts it, while node a broadcasts numbered events to receivers on
// node b. A batch that timed out is still in Redis's socket buffer when a and go-redis send it
// again, and Redis runs every copy when it resumes: each receiver must still get each event
// at most once, in order, and miss events only during the two outages. Node b delivers with
// four workers, a receiver or more each (SetMinShare), so this holds under parallel delivery.
// The adapters log each outage's start and end once, at the same level.
func TestRedisPause(t *testing.T) {
	const publishTimeout = 500 * time.Millisecond
	streams := func(c goredis.UniversalClient, l *slog.Logger) func(socketio.AdapterHost) socketio.Adapter {
		o := &redis.StreamsOptions{Logger: l, DeliveryWorkers: 4}
		o.SetPublishTimeout(publishTimeout)
		o.SetMinShare(1)
		return redis.NewStreamsAdapter(c, o)
	}
	kinds := []struct {
		name     string
		recovery bool // streams: broadcasts are added to the stream at once, outside the queue
		adapter  func(goredis.UniversalClient, *slog.Logger) func(socketio.AdapterHost) socketio.Adapter
	}{
		{"pubsub", false, func(c goredis.UniversalClient, l *slog.Logger) func(socketio.AdapterHost) socketio.Adapter {
			o := &redis.Options{Logger: l, DeliveryWorkers: 4}
			o.SetPublishTimeout(publishTimeout)
			o.SetMinShare(1)
			return redis.NewAdapter(c, o)
		}},
		{"sharded", false, func(c goredis.UniversalClient, l *slog.Logger) func(socketio.AdapterHost) socketio.Adapter {
			o := &redis.ShardedOptions{Logger: l, DeliveryWorkers: 4}
			o.SetPublishTimeout(publishTimeout)
			o.SetMinShare(1)
			return redis.NewShardedAdapter(c, o)
		}},
		{"streams", false, streams},
		{"streams-recovery", true, streams},
	}
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			r := redistest.Start(t)
			// go-redis's own retries (MaxRetries 3) come into play: its read timeout is
			// shorter than the publish timeout. Idle connections in the pool take the
			// retries (a new one would wait for Redis to answer its HELLO), so that each
			// retry is one more copy in Redis's socket buffers, as on a busy server.
			copts := &goredis.Options{ReadTimeout: 200 * time.Millisecond, MinIdleConns: 8}
			logsA, logsB := &records{}, &records{}
			a := newNodeWith(t, r, "a", func(c goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter {
				return kind.adapter(c, slog.New(logsA))
			}, kind.recovery, copts)
			b := newNodeWith(t, r, "b", func(c goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter {
				return kind.adapter(c, slog.New(logsB))
			}, kind.recovery, copts)
			receivers := make([]*tally, 20)
			for i := range receivers {
				receivers[i] = dialTally(t, b)
			}
			waitNodes(t, a, 2)
			waitNodes(t, b, 2)

			// a broadcasts ticks numbered from 0, five every 20 ms (in bursts, so that the
			// batch in Redis's buffer when it stops holds several), until stopped.
			var sent atomic.Int64
			sent.Store(-1)
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for n := int64(0); ; {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					for range 5 {
						_ = a.srv.Emit("tick", n)
						sent.Store(n)
						n++
					}
				}
			}()
			stopSending := sync.OnceFunc(func() { close(stop); <-done })
			t.Cleanup(stopSending)
			// until waits for every receiver to have had tick n or a later one.
			until := func(what string, n int64) {
				t.Helper()
				deadline := time.Now().Add(20 * time.Second)
				for !allPast(receivers, n) {
					if time.Now().After(deadline) {
						t.Fatalf("%s: tick %d not received by all receivers within 20s", what, n)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			until("warm-up", 0)

			// Outage 1: paused for four publish timeouts, with every tick up to pausedAfter
			// received. A tick sent after it, before the pause, belongs to the outage: no one
			// saw it through.
			pausedAfter := sent.Load()
			until("before the pause", pausedAfter)
			r.Pause()
			time.Sleep(4 * publishTimeout)
			r.Continue()
			pauseEnd := sent.Load() + 1
			until("after the pause", pauseEnd)
			pauseEnd = sent.Load()

			// Outage 2: killed and restarted, with every tick so far received.
			time.Sleep(300 * time.Millisecond)
			killedAfter := sent.Load()
			until("before the kill", killedAfter)
			r.Restart()
			killEnd := sent.Load() + 1
			until("after the restart", killEnd)
			killEnd = sent.Load()

			time.Sleep(300 * time.Millisecond)
			stopSending()
			last := sent.Load()
			until("at the end", last)
			time.Sleep(200 * time.Millisecond) // a late repeat would show

			outages := [][2]int64{{pausedAfter, pauseEnd}, {killedAfter, killEnd}}
			var received, duplicated, lostInPause, lostInKill, lostElsewhere, disordered int
			for _, rc := range receivers {
				rc.mu.Lock()
				disordered += rc.disordered
				for n := int64(0); n <= last; n++ {
					c := rc.got[n]
					received += c
					duplicated += max(c-1, 0)
					switch {
					case c > 0:
					case n > outages[0][0] && n <= outages[0][1]:
						lostInPause++
					case n > outages[1][0] && n <= outages[1][1]:
						lostInKill++
					default:
						lostElsewhere++
					}
				}
				rc.mu.Unlock()
			}
			t.Logf("%d receivers, %d ticks each (pause: ticks %d-%d, kill: ticks %d-%d): received %d, duplicated %d, lost %d in the pause, %d in the kill, %d elsewhere",
				len(receivers), last+1, pausedAfter+1, pauseEnd, killedAfter+1, killEnd, received, duplicated, lostInPause, lostInKill, lostElsewhere)
			if duplicated > 0 {
				t.Errorf("%d ticks delivered twice or more", duplicated)
			}
			if lostElsewhere > 0 {
				t.Errorf("%d ticks lost outside the outages", lostElsewhere)
			}
			if disordered > 0 {
				t.Errorf("%d ticks arrived after a later one", disordered)
			}

			checkOutageLogs(t, "a", logsA, 2)
			checkOutageLogs(t, "b", logsB, 2)
			if logsA.count("Redis unreachable", "publishing") == 0 {
				t.Errorf("a logged no publishing outage:\n%s", logsA)
			}
		})
	}
}

// tally counts the ticks one client receives, by number, and those that come after a later
// one.
type tally struct {
	mu         sync.Mutex
	got        map[int64]int
	last       int64
	disordered int
}

func dialTally(t *testing.T, n *node) *tally {
	t.Helper()
	c, _ := dial(t, n)
	tl := &tally{got: map[int64]int{}, last: -1}
	c.On("tick", func(n int64) {
		tl.mu.Lock()
		tl.got[n]++
		if n <= tl.last {
			tl.disordered++
		}
		tl.last = max(tl.last, n)
		tl.mu.Unlock()
	})
	return tl
}

// allPast reports whether every receiver has had tick n or a later one.
func allPast(receivers []*tally, n int64) bool {
	for _, rc := range receivers {
		rc.mu.Lock()
		past := false
		for m := range rc.got {
			if m >= n {
				past = true
				break
			}
		}
		rc.mu.Unlock()
		if !past {
			return false
		}
	}
	return true
}

// records is a slog.Handler keeping every record, for tests to look at.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *records) WithGroup(string) slog.Handler            { return h }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

// outageRecord is a record about an outage: its op and whether it starts or ends one.
type outageRecord struct {
	level slog.Level
	op    string
	start bool
}

func (h *records) outages() []outageRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []outageRecord
	for _, r := range h.recs {
		start := strings.Contains(r.Message, "unreachable")
		if !start && !strings.Contains(r.Message, "reachable again") {
			continue
		}
		o := outageRecord{level: r.Level, start: start}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "op" {
				o.op = a.Value.String()
			}
			return true
		})
		out = append(out, o)
	}
	return out
}

// count counts the records whose message contains msg and whose op is op.
func (h *records) count(msg, op string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if !strings.Contains(r.Message, msg) {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "op" && a.Value.String() == op {
				n++
			}
			return true
		})
	}
	return n
}

func (h *records) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, r := range h.recs {
		fmt.Fprintf(&b, "  %s %s", r.Level, r.Message)
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s", a); return true })
		b.WriteByte('\n')
	}
	return b.String()
}

// checkOutageLogs checks that each of a node's outages was logged once when it started and
// once when it ended, both as warnings, and no more than outages times per operation. It
// waits a little for the ends: a subscription may come back after the traffic does.
func checkOutageLogs(t *testing.T, node string, h *records, outages int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		open := map[string]bool{}
		starts := map[string]int{}
		var problems []string
		for _, o := range h.outages() {
			if o.level != slog.LevelWarn {
				problems = append(problems, fmt.Sprintf("%s logged at %s, not WARN", o.op, o.level))
			}
			if o.start == open[o.op] {
				problems = append(problems, fmt.Sprintf("%s: two starts or two ends in a row", o.op))
			}
			open[o.op] = o.start
			if o.start {
				starts[o.op]++
			}
		}
		for op, n := range starts {
			if n > outages {
				problems = append(problems, fmt.Sprintf("%s: %d outages logged, want at most %d", op, n, outages))
			}
		}
		var unended []string
		for op, o := range open {
			if o {
				unended = append(unended, op)
			}
		}
		if len(problems) > 0 {
			t.Errorf("%s's outage logs: %s:\n%s", node, strings.Join(problems, "; "), h)
			return
		}
		if len(unended) == 0 {
			t.Logf("%s logged outages %v", node, starts)
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s's outages of %v never logged as ended:\n%s", node, unended, h)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRepeatsDropped makes Redis run what node a published a second time, as it does when a
// command that timed out is sent again: b delivers the broadcast and runs the server-side
// event once. A message numbered by no one (Node's, the emitter's) is delivered each time.
func TestRepeatsDropped(t *testing.T) {
	kinds := []struct {
		name     string
		recovery bool
	}{{"pubsub", false}, {"sharded", false}, {"streams", false}, {"streams-recovery", true}}
	r := redistest.Start(t)
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			base, _, _ := strings.Cut(kind.name, "-")
			spy := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
			t.Cleanup(func() { _ = spy.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var ps *goredis.PubSub
			if base == "sharded" {
				ps = spy.SSubscribe(ctx, "socket.io#/#")
			} else {
				ps = spy.PSubscribe(ctx, "*")
			}
			t.Cleanup(func() { _ = ps.Close() })
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatal(err)
			}
			_ = spy.Del(ctx, "socket.io").Err() // the stream of an earlier subtest

			a := newNode(t, r, "a", adapterKinds[base], kind.recovery)
			b := newNode(t, r, "b", adapterKinds[base], kind.recovery)
			var pings atomic.Int32
			b.srv.Of("/").OnServerSideEmit("ping", func() { pings.Add(1) })
			_, inb := dial(t, b, "news")
			nodes := 2
			if base == "sharded" {
				nodes++ // the spy reads the channel nodes are counted on
			}
			waitNodes(t, a, nodes)
			waitNodes(t, b, nodes)

			if err := a.srv.Emit("news", "once"); err != nil {
				t.Fatal(err)
			}
			if err := a.srv.Of("/").ServerSideEmit("ping"); err != nil {
				t.Fatal(err)
			}
			inb.expect(t, "news", "once")
			waitFor(t, "the server-side event", func() bool { return pings.Load() == 1 })

			// Run all of it again.
			var published []*goredis.Message
			for {
				msg, err := ps.ReceiveTimeout(ctx, 300*time.Millisecond)
				if err != nil {
					break // quiet: everything a published has been seen
				}
				if m, ok := msg.(*goredis.Message); ok {
					published = append(published, m)
				}
			}
			replayed := 0
			for _, m := range published {
				var err error
				if base == "sharded" {
					err = spy.SPublish(ctx, m.Channel, m.Payload).Err()
				} else {
					err = spy.Publish(ctx, m.Channel, m.Payload).Err()
				}
				if err != nil {
					t.Fatal(err)
				}
				replayed++
			}
			entries, err := spy.XRange(ctx, "socket.io", "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if err := spy.XAdd(ctx, &goredis.XAddArgs{Stream: "socket.io", Values: e.Values}).Err(); err != nil {
					t.Fatal(err)
				}
				replayed++
			}
			if replayed < 2 {
				t.Fatalf("%d messages replayed, want the broadcast and the server-side event", replayed)
			}

			// A message after the replays, to know they have been handled.
			if err := a.srv.Emit("news", "after"); err != nil {
				t.Fatal(err)
			}
			repeats := 0
			for after := false; !after; {
				select {
				case got := <-inb:
					after = got[1] == "after"
					if !after {
						repeats++
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the broadcast after the replays did not arrive")
				}
			}
			time.Sleep(100 * time.Millisecond) // the server-side event runs off the subscription's goroutine
			if repeats > 0 {
				t.Errorf("the broadcast was delivered %d times more", repeats)
			}
			if n := pings.Load(); n != 1 {
				t.Errorf("the server-side event ran %d times", n)
			}
			inb.none(t)

			// Not numbered: the emitter's (pubsub only), and Node's, are delivered as before.
			if base == "pubsub" {
				e := redis.NewEmitter(spy, nil)
				for range 2 {
					if err := e.Emit(ctx, "news", "twice"); err != nil {
						t.Fatal(err)
					}
				}
				inb.expect(t, "news", "twice")
				inb.expect(t, "news", "twice")
			}
		})
	}
}

// waitFor waits up to 10 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
