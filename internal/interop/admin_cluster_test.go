package interop

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
	"github.com/tether-rt/tether/socketio/admin"
)

// adminNode starts a Go server in a Redis cluster, instrumented for the Admin UI as serverID,
// and returns its URL.
func adminNode(t *testing.T, r *redistest.Server, serverID string) string {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	srv := socketio.NewServer(&socketio.ServerOptions{
		Adapter: redis.NewAdapter(rdb, &redis.Options{RequestsTimeout: 5 * time.Second}),
	})
	a, err := admin.Instrument(srv, &admin.Options{NoAuth: true, ServerID: serverID, StatsInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Close(ctx)
		_ = srv.Shutdown(ctx)
		hs.Close()
		_ = rdb.Close()
	})
	return hs.URL
}

// adminEvents connects a Go client acting as the Admin UI and returns what it receives.
func adminEvents(t *testing.T, url string) (*socketio.Client, <-chan []any) {
	t.Helper()
	c, err := socketio.NewClient(url, &socketio.ClientOptions{Namespace: "/admin", DisableReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan []any, 4096)
	c.OnAny(func(event string, args []any) {
		select {
		case ch <- append([]any{event}, args...):
		default:
		}
	})
	ctx := testContext(t, 30*time.Second)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ch
}

// awaitAdmin returns the first message for which match holds, failing the test if none comes
// in 30 s (a bound against hanging, not a measure).
func awaitAdmin(t *testing.T, ch <-chan []any, what string, match func(m []any) bool) []any {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case m := <-ch:
			if match(m) {
				return m
			}
		case <-timeout.C:
			t.Fatalf("the UI received no %s", what)
			return nil
		}
	}
}

func objField(v any, name string) any {
	m, _ := v.(map[string]any)
	return m[name]
}

// TestAdminUICluster: two instrumented Go nodes over the Redis adapter. A UI connected to node
// A hears both nodes' server_stats, is told of a socket that connects to node B, lists it in
// all_sockets, and disconnects it with _disconnect, as with Node's admin-ui on a cluster.
func TestAdminUICluster(t *testing.T) {
	r := redistest.Start(t)
	urlA := adminNode(t, r, "node-A")
	urlB := adminNode(t, r, "node-B")

	ui, events := adminEvents(t, urlA)
	seen := map[any]bool{}
	awaitAdmin(t, events, "server_stats of both nodes", func(m []any) bool {
		if m[0] == "server_stats" {
			seen[objField(m[1], "serverId")] = true
		}
		return seen["node-A"] && seen["node-B"]
	})

	demo, err := socketio.NewClient(urlB, &socketio.ClientOptions{DisableReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()
	gone := make(chan socketio.DisconnectReason, 1)
	demo.OnDisconnect(func(r socketio.DisconnectReason) { gone <- r })
	if err := demo.Connect(testContext(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	id := demo.ID()
	awaitAdmin(t, events, "socket_connected from node B", func(m []any) bool {
		return m[0] == "socket_connected" && objField(m[1], "id") == id && objField(m[1], "nsp") == "/"
	})

	// A second UI on node A gets node B's socket in all_sockets, through FetchSockets.
	_, events2 := adminEvents(t, urlA)
	awaitAdmin(t, events2, "all_sockets with node B's socket", func(m []any) bool {
		if m[0] != "all_sockets" {
			return false
		}
		list, _ := m[1].([]any)
		for _, s := range list {
			if objField(s, "id") == id {
				return true
			}
		}
		t.Fatalf("all_sockets lacks %s: %v", id, list)
		return false
	})

	if err := ui.Emit("_disconnect", "/", false, id); err != nil {
		t.Fatal(err)
	}
	select {
	case reason := <-gone:
		if reason != "io server disconnect" {
			t.Fatalf("demo disconnected with %q", reason)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the UI's _disconnect through node A did not disconnect the socket on node B")
	}
	awaitAdmin(t, events, "socket_disconnected from node B", func(m []any) bool {
		return m[0] == "socket_disconnected" && m[1] == "/" && m[2] == id
	})
}
