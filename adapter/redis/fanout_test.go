package redis

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
)

// TestSplitter: a broadcast's recipients are covered once each, in pieces of minShare taken
// by up to workers goroutines, and a broadcast to fewer than two pieces' worth, or with one
// worker, is one range delivered by the caller.
func TestSplitter(t *testing.T) {
	for _, tc := range []struct{ workers, n, ranges int }{
		{1, 10000, 1},
		{2, 10, 1},
		{2, 2*minShare - 1, 1},
		{2, 2 * minShare, 2},
		{4, 3*minShare + 5, 4},
		{4, 10000, (10000 + minShare - 1) / minShare},
	} {
		t.Run(fmt.Sprintf("workers=%d/n=%d", tc.workers, tc.n), func(t *testing.T) {
			seen := make([]atomic.Int32, tc.n)
			var ranges atomic.Int32
			splitter(tc.workers, 0)(tc.n, func(from, to int) {
				ranges.Add(1)
				if tc.ranges > 1 && to-from > minShare {
					t.Errorf("range %d-%d: more than %d recipients", from, to, minShare)
				}
				for i := from; i < to; i++ {
					seen[i].Add(1)
				}
			})
			if got := int(ranges.Load()); got != tc.ranges {
				t.Errorf("%d ranges, want %d", got, tc.ranges)
			}
			for i := range seen {
				if c := seen[i].Load(); c != 1 {
					t.Fatalf("recipient %d delivered %d times", i, c)
				}
			}
		})
	}
}

// TestSplitterWaitsForPieces: split returns only after every piece has been delivered, however
// slow the goroutine delivering one (here the first piece after the first, whoever takes it).
func TestSplitterWaitsForPieces(t *testing.T) {
	const n = 8 * minShare
	var delivered atomic.Int32
	var once sync.Once
	splitter(2, 0)(n, func(from, to int) {
		if from != 0 {
			once.Do(func() { time.Sleep(50 * time.Millisecond) }) // one slow piece
		}
		delivered.Add(int32(to - from))
	})
	if got := delivered.Load(); got != n {
		t.Fatalf("split returned with %d of %d recipients delivered", got, n)
	}
}

// TestRemoteOrderParallel: two nodes broadcast numbered events as fast as they can while a
// third delivers them to 200 sockets with two workers taking 16 at a time: each socket gets
// every event of each publisher once, in the publisher's order.
func TestRemoteOrderParallel(t *testing.T) {
	const sockets, events = 200, 300
	r := redistest.Start(t)
	newServer := func(workers int) *socketio.Server {
		rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
		srv := socketio.NewServer(&socketio.ServerOptions{Adapter: NewAdapter(rdb, &Options{DeliveryWorkers: workers, minShare: 16})})
		srv.Of("/")
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			_ = rdb.Close()
		})
		return srv
	}
	receiver := newServer(2)
	hs := httptest.NewServer(receiver)
	t.Cleanup(hs.Close)
	publishers := []*socketio.Server{newServer(1), newServer(1)}

	clients := make([]*orderTally, sockets)
	var readers sync.WaitGroup
	for i := range clients {
		c, br, err := dialSIO(hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		tl := &orderTally{next: map[string]int{}}
		clients[i] = tl
		readers.Go(func() { tl.read(c, br, 2*events) })
		t.Cleanup(func() { _ = c.Close() })
	}
	t.Cleanup(readers.Wait)

	var wg sync.WaitGroup
	for i, p := range publishers {
		name := string(rune('a' + i))
		wg.Go(func() {
			for n := range events {
				if err := p.Emit("tick", name, n); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for i, tl := range clients {
		for !tl.complete(events) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if err := tl.check(events); err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
	}
}

// orderTally checks the ticks one raw client reads: per publisher, 0, 1, 2 … with nothing
// missing, repeated or out of order.
type orderTally struct {
	mu   sync.Mutex
	next map[string]int // by publisher, the number expected next
	err  error
}

// read takes the client's messages until it has had want ticks or the connection ends.
func (o *orderTally) read(c net.Conn, br *bufio.Reader, want int) {
	for got := 0; got < want; {
		msg, err := readText(br)
		if err != nil {
			return
		}
		if msg == "2" {
			_ = writeText(c, "3")
			continue
		}
		// 42["tick","a",17]
		rest, ok := strings.CutPrefix(msg, `42["tick","`)
		if !ok {
			continue
		}
		name, num, _ := strings.Cut(strings.TrimSuffix(rest, "]"), `",`)
		n, err := strconv.Atoi(num)
		o.mu.Lock()
		switch {
		case o.err != nil:
		case err != nil:
			o.err = fmt.Errorf("malformed tick %q", msg)
		case n != o.next[name]:
			o.err = fmt.Errorf("publisher %s: tick %d after %d", name, n, o.next[name]-1)
		default:
			o.next[name] = n + 1
		}
		o.mu.Unlock()
		got++
	}
}

func (o *orderTally) complete(events int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err != nil || (o.next["a"] == events && o.next["b"] == events)
}

func (o *orderTally) check(events int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	if o.next["a"] != events || o.next["b"] != events {
		return fmt.Errorf("got ticks 0-%d of a and 0-%d of b, want 0-%d of each", o.next["a"]-1, o.next["b"]-1, events-1)
	}
	return nil
}

// TestDeliveryWorkersCloseClean: a node shut down while it delivers a stream of other nodes'
// broadcasts to 150 sockets with four workers leaves no goroutine behind once its clients,
// servers and Redis clients are closed.
func TestDeliveryWorkersCloseClean(t *testing.T) {
	// Registered first, so run last: after every other clean-up of this test.
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	const sockets = 150
	r := redistest.Start(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	opts := &Options{DeliveryWorkers: 4}
	opts.minShare = 1
	receiver := socketio.NewServer(&socketio.ServerOptions{Adapter: NewAdapter(rdb, opts)})
	hs := httptest.NewServer(receiver)
	t.Cleanup(hs.Close)
	pubRdb := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	t.Cleanup(func() { _ = pubRdb.Close() })
	publisher := socketio.NewServer(&socketio.ServerOptions{Adapter: NewAdapter(pubRdb, nil)})
	t.Cleanup(func() { _ = publisher.Shutdown(context.Background()) })

	var got atomic.Int64
	var readers sync.WaitGroup
	for range sockets {
		c, br, err := dialSIO(hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		readers.Go(func() {
			for {
				if _, err := readText(br); err != nil {
					return
				}
				got.Add(1)
			}
		})
	}
	t.Cleanup(readers.Wait)

	stop := make(chan struct{})
	var emitting sync.WaitGroup
	emitting.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = publisher.Emit("tick", strings.Repeat("x", 100))
			time.Sleep(time.Millisecond)
		}
	})
	t.Cleanup(func() { close(stop); emitting.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for got.Load() < 10*sockets {
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries in 20 s, want %d", got.Load(), 10*sockets)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := receiver.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
