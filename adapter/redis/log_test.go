package redis_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/internal/logtest"
	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
)

// An adapter given no Logger logs to the server's, with the server's keys: a malformed message
// from Redis names the namespace, and an outage the operation that failed and the error.
func TestLogToTheServersLogger(t *testing.T) {
	kinds := map[string]func(goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter{
		"pubsub": func(c goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter {
			return redis.NewAdapter(c, nil)
		},
		"sharded": func(c goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter {
			return redis.NewShardedAdapter(c, nil)
		},
		"streams": func(c goredis.UniversalClient) func(socketio.AdapterHost) socketio.Adapter {
			return redis.NewStreamsAdapter(c, nil)
		},
	}
	for name, kind := range kinds {
		t.Run(name, func(t *testing.T) {
			r := redistest.Start(t)
			rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
			logs := &logtest.Recorder{}
			srv := socketio.NewServer(&socketio.ServerOptions{Adapter: kind(rdb), Logger: logs.Logger()})
			hs := httptest.NewServer(srv)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
				hs.Close()
				_ = rdb.Close()
			})
			n := &node{name: name, srv: srv, rdb: rdb, http: hs}
			dial(t, n)

			if name == "pubsub" {
				// Not MessagePack: Node's format for a broadcast of the main namespace.
				waitLogged(t, logs, "ignoring malformed broadcast", func() {
					if err := rdb.Publish(context.Background(), "socket.io#/#", []byte{0xc1}).Err(); err != nil {
						t.Fatal(err)
					}
				}, slog.LevelDebug, logattr.Namespace, logattr.Err)
			}

			r.Stop()
			waitLogged(t, logs, "Redis unreachable", func() { _ = srv.Emit("news", 1) },
				slog.LevelWarn, logattr.Op, logattr.Err)
		})
	}
}

// waitLogged calls provoke until logs has a line containing msg, then checks that line's
// level and that it has each of keys. The deadline only bounds a failing test.
func waitLogged(t *testing.T, logs *logtest.Recorder, msg string, provoke func(), level slog.Level, keys ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(logs.Find(msg)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no %q logged: %v", msg, logs.All())
		}
		provoke()
		time.Sleep(50 * time.Millisecond)
	}
	rec := logs.Find(msg)[0]
	if rec.Level != level {
		t.Errorf("%q logged at %v, want %v", rec.Message, rec.Level, level)
	}
	for _, k := range keys {
		if v, ok := rec.Attrs[k]; !ok || v == "" || v == "<nil>" {
			t.Errorf("%q: no %s attribute in %v", rec.Message, k, rec.Attrs)
		}
	}
}
