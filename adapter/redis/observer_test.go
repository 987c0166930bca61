package redis_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
)

// faultCounter is a redis.Observer that counts.
type faultCounter struct{ pub, sub, timeouts atomic.Int64 }

func (c *faultCounter) PublishError()   { c.pub.Add(1) }
func (c *faultCounter) SubscribeError() { c.sub.Add(1) }
func (c *faultCounter) RequestTimeout() { c.timeouts.Add(1) }

// TestObserverUnreachableRedis points the adapter at an address where nothing listens: the
// subscription and a broadcast's publication fail, and the Observer hears of both; no request
// timed out.
func TestObserverUnreachableRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every dial is refused at once
	rdb := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	obs := &faultCounter{}
	o := &redis.Options{Observer: obs}
	o.SetPublishTimeout(200 * time.Millisecond)
	srv := socketio.NewServer(&socketio.ServerOptions{Adapter: redis.NewAdapter(rdb, o)})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	srv.Of("/") // the namespace, and so its adapter and subscription
	if err := srv.Emit("tick", 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a publish error and a subscribe error", func() bool {
		return obs.pub.Load() > 0 && obs.sub.Load() > 0
	})
	if n := obs.timeouts.Load(); n != 0 {
		t.Fatalf("%d request timeouts, want 0", n)
	}
}

// TestObserverRequestTimeout has a request wait for a node that never answers (a bare Redis
// subscriber on the request channel, which counts as a node): it ends with ErrTimeout, and
// the Observer hears of exactly one timeout.
func TestObserverRequestTimeout(t *testing.T) {
	r := redistest.Start(t)
	obs := &faultCounter{}
	a := newNode(t, r, "a", func(c goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter {
		return redis.NewAdapter(c, &redis.Options{Observer: obs, RequestsTimeout: 100 * time.Millisecond})
	}, false)

	mute := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	defer mute.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps := mute.Subscribe(ctx, "socket.io-request#/#")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		t.Fatal(err)
	}
	waitNodes(t, a, 2)

	if _, err := a.srv.FetchSockets(ctx); !errors.Is(err, redis.ErrTimeout) {
		t.Fatalf("FetchSockets: %v, want ErrTimeout", err)
	}
	if n := obs.timeouts.Load(); n != 1 {
		t.Fatalf("%d request timeouts, want 1", n)
	}
	if n := obs.pub.Load() + obs.sub.Load(); n != 0 {
		t.Fatalf("%d publish and subscribe errors with Redis up, want 0", n)
	}
}
