package redis_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
)

// With CleanupEmptyChildNamespaces, the adapter of a dynamic namespace whose last socket has
// left is closed, and its Redis subscriptions (channels, patterns, shard channels, a room's
// included) go with it; they come back with the namespace for the next client.
func TestCleanupEmptyChildNamespaceSubscriptions(t *testing.T) {
	r := redistest.Start(t)
	for name, kind := range adapterKinds {
		t.Run(name, func(t *testing.T) {
			rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
			srv := socketio.NewServer(&socketio.ServerOptions{
				Adapter:                     kind(rdb),
				CleanupEmptyChildNamespaces: true,
			})
			srv.OfMatch(func(nsp string) bool { return strings.HasPrefix(nsp, "/dyn-") })
			srv.OnNewNamespace(func(n *socketio.Namespace) {
				n.On("join", func(s *socketio.Socket, room string) bool { s.Join(room); return true })
			})
			hs := httptest.NewServer(srv)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
				hs.Close()
				_ = rdb.Close()
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			// What this node has subscribed to for namespace /dyn-<name>: channels and shard
			// channels named after it, and patterns (counted for the whole Redis: this test's
			// node is alone on it, and its other patterns do not change meanwhile).
			nsp := "/dyn-" + name
			subscriptions := func() int {
				ch, err1 := rdb.PubSubChannels(ctx, "*#"+nsp+"#*").Result()
				sh, err2 := rdb.PubSubShardChannels(ctx, "*#"+nsp+"#*").Result()
				pat, err3 := rdb.PubSubNumPat(ctx).Result()
				if err1 != nil || err2 != nil || err3 != nil {
					t.Fatal(err1, err2, err3)
				}
				return len(ch) + len(sh) + int(pat)
			}
			waitFor := func(what string, ok func(n int) bool) {
				t.Helper()
				for {
					n := subscriptions()
					if ok(n) {
						return
					}
					select {
					case <-ctx.Done():
						t.Fatalf("%s: %d subscriptions", what, n)
					case <-time.After(10 * time.Millisecond):
					}
				}
			}
			join := func() *socketio.Client {
				c, err := socketio.NewClient(hs.URL+nsp, &socketio.ClientOptions{Transports: []string{"websocket"}})
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Connect(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := c.EmitWithAck(ctx, "join", "room"); err != nil {
					t.Fatal(err)
				}
				return c
			}

			base := subscriptions() // the main namespace's
			c := join()
			waitFor("after the first join", func(n int) bool { return n > base })
			withNsp := subscriptions()
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			waitFor("once the namespace is empty", func(n int) bool { return n == base })

			c = join()
			defer c.Close()
			waitFor("after the next join", func(n int) bool { return n == withNsp })
		})
	}
}
