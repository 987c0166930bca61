package redis_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
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
	kinds := map[string]func(goredis.UniversalClient, *slog.Logger) func(*socketio.Namespace) socketio.Adapter{
		"pubsub": func(c goredis.UniversalClient, l *slog.Logger) func(*socketio.Namespace) socketio.Adapter {
			return redis.NewAdapter(c, &redis.Options{RequestsTimeout: 2 * time.Second, Logger: l})
		},
		"sharded": func(c goredis.UniversalClient, l *slog.Logger) func(*socketio.Namespace) socketio.Adapter {
			return redis.NewShardedAdapter(c, &redis.ShardedOptions{RequestsTimeout: 2 * time.Second, Logger: l})
		},
		"streams": func(c goredis.UniversalClient, l *slog.Logger) func(*socketio.Namespace) socketio.Adapter {
			return redis.NewStreamsAdapter(c, &redis.StreamsOptions{RequestsTimeout: 2 * time.Second, Logger: l})
		},
	}
	for name, kind := range kinds {
		t.Run(name, func(t *testing.T) {
			r := redistest.Start(t)
			var logs logBuffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			withLog := func(c goredis.UniversalClient) func(*socketio.Namespace) socketio.Adapter { return kind(c, logger) }
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
