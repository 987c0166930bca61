package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tether-rt/tether/socketio"
)

// wait bounds each wait for a message, so that a missing one fails instead of hanging; no
// test measures time with it.
const wait = 20 * time.Second

func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// instrumented starts a server instrumented with opts (default: login admin/secret), a demo
// handler on "/" (join joins a room, hello is answered with welcome), and returns its URL.
func instrumented(t *testing.T, opts *Options) (*socketio.Server, *Admin, string) {
	t.Helper()
	io := socketio.NewServer(nil)
	if opts == nil {
		opts = &Options{Auth: &BasicAuth{Username: "admin", PasswordHash: hash(t, "secret")}}
	}
	io.Of("/").OnConnect(func(s *socketio.Socket) {
		s.On("join", func(room string) { s.Join(room) })
		s.On("hello", func(text string) { _ = s.Emit("welcome", text) })
	})
	a, err := Instrument(io, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(io)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Error(err)
		}
		_ = io.Shutdown(ctx)
		hs.Close()
	})
	return io, a, hs.URL
}

// msg is one message the UI received.
type msg struct {
	event string
	args  []any
}

// ui is a Go client acting as the Admin UI.
type ui struct {
	c   *socketio.Client
	msg chan msg
}

func dialUI(t *testing.T, url, nsp string, auth any) (*ui, error) {
	t.Helper()
	c, err := socketio.NewClient(url, &socketio.ClientOptions{Namespace: nsp, Auth: auth, DisableReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	u := &ui{c: c, msg: make(chan msg, 4096)}
	c.OnAny(func(event string, args []any) {
		select {
		case u.msg <- msg{event, args}:
		default:
			t.Errorf("UI recorder full; dropped %s", event)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return u, nil
}

// next returns the first message named event for which match (if any) holds, skipping others.
func (u *ui) next(t *testing.T, event string, match func(args []any) bool) []any {
	t.Helper()
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for {
		select {
		case m := <-u.msg:
			if m.event == event && (match == nil || match(m.args)) {
				return m.args
			}
		case <-timeout.C:
			t.Fatalf("no %s message", event)
			return nil
		}
	}
}

// none fails if a message named event arrives before a server_stats that comes after now.
func (u *ui) noneBeforeStats(t *testing.T, events ...string) {
	t.Helper()
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for {
		select {
		case m := <-u.msg:
			if slices.Contains(events, m.event) {
				t.Fatalf("unexpected %s %v", m.event, m.args)
			}
			if m.event == "server_stats" {
				return
			}
		case <-timeout.C:
			t.Fatal("no server_stats")
		}
	}
}

// field reads a string field of a JSON object argument.
func field(v any, name string) string {
	m, _ := v.(map[string]any)
	s, _ := m[name].(string)
	return s
}

func dialDemo(t *testing.T, url, nsp string) *socketio.Client {
	t.Helper()
	c, err := socketio.NewClient(url, &socketio.ClientOptions{Namespace: nsp, DisableReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestInstrumentOptions(t *testing.T) {
	io := socketio.NewServer(nil)
	defer io.Shutdown(context.Background())
	for _, tc := range []struct {
		opts *Options
		want error
	}{
		{nil, ErrNoAuth},
		{&Options{}, ErrNoAuth},
		{&Options{Auth: &BasicAuth{Username: "a", PasswordHash: "secret"}}, ErrBadHash},
		{&Options{NoAuth: true, Mode: "staging"}, ErrBadMode},
	} {
		if _, err := Instrument(io, tc.opts); !errors.Is(err, tc.want) {
			t.Errorf("Instrument(%+v): %v, want %v", tc.opts, err, tc.want)
		}
	}
	if _, err := Instrument(nil, &Options{NoAuth: true}); err == nil {
		t.Error("Instrument(nil) succeeded")
	}
}

// What the UI sees of a socket's life in development mode, and what its operations do.
func TestDevelopmentMessagesAndOperations(t *testing.T) {
	_, _, url := instrumented(t, nil)
	u, err := dialUI(t, url, "/admin", map[string]string{"username": "admin", "password": "secret"})
	if err != nil {
		t.Fatal(err)
	}
	session := u.next(t, "session", nil)
	if id, _ := session[0].(string); len(id) != 16 {
		t.Fatalf("session %v", session)
	}
	config := u.next(t, "config", nil)
	var features []string
	for _, f := range config[0].(map[string]any)["supportedFeatures"].([]any) {
		features = append(features, f.(string))
	}
	for _, want := range []string{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"} {
		if !slices.Contains(features, want) {
			t.Fatalf("features %v lack %s", features, want)
		}
	}
	all := u.next(t, "all_sockets", nil)
	// The UI's own socket is listed, as in Node.
	if list, _ := all[0].([]any); len(list) != 1 || field(list[0], "nsp") != "/admin" || field(list[0], "clientId") == "" {
		t.Fatalf("all_sockets %v", all)
	}
	stats := u.next(t, "server_stats", nil)
	if field(stats[0], "serverId") == "" {
		t.Fatalf("server_stats %v", stats)
	}

	demo := dialDemo(t, url, "/")
	welcome := make(chan string, 1)
	demo.On("welcome", func(s string) { welcome <- s })
	emitted := make(chan string, 1)
	demo.On("notice", func(s string) { emitted <- s })
	gone := make(chan socketio.DisconnectReason, 1)
	demo.OnDisconnect(func(r socketio.DisconnectReason) { gone <- r })
	id := demo.ID()

	connected := u.next(t, "socket_connected", func(a []any) bool { return field(a[0], "id") == id })
	if field(connected[0], "nsp") != "/" || field(connected[0], "transport") == "" || len(connected) != 2 {
		t.Fatalf("socket_connected %v", connected)
	}
	if hs, _ := connected[0].(map[string]any)["handshake"].(map[string]any); hs == nil || field(hs, "address") == "" {
		t.Fatalf("handshake %v", connected[0])
	}
	if ts, _ := connected[1].(string); !strings.HasSuffix(ts, "Z") {
		t.Fatalf("timestamp %v", connected[1])
	}

	if err := demo.Emit("join", "lobby"); err != nil {
		t.Fatal(err)
	}
	u.next(t, "room_joined", func(a []any) bool { return a[0] == "/" && a[1] == "lobby" && a[2] == id })
	if err := demo.Emit("hello", "hi"); err != nil {
		t.Fatal(err)
	}
	u.next(t, "event_received", func(a []any) bool {
		ev, _ := a[2].([]any)
		return a[0] == "/" && a[1] == id && slices.Equal(ev, []any{"hello", "hi"})
	})
	u.next(t, "event_sent", func(a []any) bool {
		ev, _ := a[2].([]any)
		return a[0] == "/" && a[1] == id && slices.Equal(ev, []any{"welcome", "hi"})
	})
	<-welcome

	// The operations, each aimed at the demo socket by its own room, as the UI does.
	if err := u.c.Emit("emit", "/", id, "notice", "from the UI"); err != nil {
		t.Fatal(err)
	}
	if got := <-emitted; got != "from the UI" {
		t.Fatalf("notice %q", got)
	}
	if err := u.c.Emit("join", "/", "vip", id); err != nil {
		t.Fatal(err)
	}
	u.next(t, "room_joined", func(a []any) bool { return a[1] == "vip" && a[2] == id })
	if err := u.c.Emit("leave", "/", "vip", id); err != nil {
		t.Fatal(err)
	}
	u.next(t, "room_left", func(a []any) bool { return a[1] == "vip" && a[2] == id })
	if err := u.c.Emit("_disconnect", "/", false, id); err != nil {
		t.Fatal(err)
	}
	if r := <-gone; r != "io server disconnect" {
		t.Fatalf("demo disconnected: %q", r)
	}
	u.next(t, "socket_disconnected", func(a []any) bool {
		return a[0] == "/" && a[1] == id && a[2] == "server namespace disconnect"
	})
	u.next(t, "server_stats", func(a []any) bool {
		var kinds []string
		for _, e := range a[0].(map[string]any)["aggregatedEvents"].([]any) {
			kinds = append(kinds, field(e, "type")+"/"+field(e, "subType"))
		}
		return slices.Contains(kinds, "rawDisconnection/server namespace disconnect")
	})
}

// A wrong password is refused with the message the UI recognizes; a session id from an earlier
// login is accepted without the password.
func TestAuthentication(t *testing.T) {
	_, _, url := instrumented(t, nil)
	for _, auth := range []any{
		map[string]string{"username": "admin", "password": "wrong"},
		map[string]string{"username": "nobody", "password": "secret"},
		map[string]string{"sessionId": "0123456789abcdef"},
		nil,
	} {
		_, err := dialUI(t, url, "/admin", auth)
		var ce *socketio.ConnectError
		if !errors.As(err, &ce) || ce.Message != "invalid credentials" {
			t.Fatalf("auth %v: %v, want invalid credentials", auth, err)
		}
	}
	u, err := dialUI(t, url, "/admin", map[string]string{"username": "admin", "password": "secret"})
	if err != nil {
		t.Fatal(err)
	}
	id := u.next(t, "session", nil)[0].(string)
	again, err := dialUI(t, url, "/admin", map[string]string{"sessionId": id})
	if err != nil {
		t.Fatalf("with session: %v", err)
	}
	again.next(t, "config", nil)
}

// Dynamic namespaces are watched from their first socket.
func TestDynamicNamespace(t *testing.T) {
	io, _, url := instrumented(t, &Options{NoAuth: true})
	io.OfMatch(func(name string) bool { return strings.HasPrefix(name, "/room-") })
	u, err := dialUI(t, url, "/admin", nil)
	if err != nil {
		t.Fatal(err)
	}
	u.next(t, "all_sockets", nil)
	demo := dialDemo(t, url, "/room-7")
	u.next(t, "socket_connected", func(a []any) bool {
		return field(a[0], "id") == demo.ID() && field(a[0], "nsp") == "/room-7"
	})
	if err := demo.Emit("ping", 1); err != nil {
		t.Fatal(err)
	}
	u.next(t, "event_received", func(a []any) bool { return a[0] == "/room-7" })
	u.next(t, "server_stats", func(a []any) bool {
		for _, n := range a[0].(map[string]any)["namespaces"].([]any) {
			if field(n, "name") == "/room-7" && n.(map[string]any)["socketsCount"] == float64(1) {
				return true
			}
		}
		return false
	})
}

// Production mode sends server_stats only; read-only mode offers and takes no operations.
func TestProductionReadOnly(t *testing.T) {
	_, a, url := instrumented(t, &Options{NoAuth: true, Mode: ModeProduction, ReadOnly: true, ServerID: "node-1"})
	u, err := dialUI(t, url, "/admin", nil)
	if err != nil {
		t.Fatal(err)
	}
	config := u.next(t, "config", nil)
	raw, _ := json.Marshal(config[0])
	if string(raw) != `{"supportedFeatures":["AGGREGATED_EVENTS"]}` {
		t.Fatalf("config %s", raw)
	}
	demo := dialDemo(t, url, "/")
	gone := make(chan struct{})
	demo.OnDisconnect(func(socketio.DisconnectReason) { close(gone) })
	if err := demo.Emit("hello", "hi"); err != nil {
		t.Fatal(err)
	}
	if err := u.c.Emit("_disconnect", "/", true, demo.ID()); err != nil {
		t.Fatal(err)
	}
	// The stats that count the demo's connection come after its messages would have.
	u.next(t, "server_stats", func(a []any) bool {
		st := a[0].(map[string]any)
		return st["serverId"] == "node-1" && st["clientsCount"] == float64(2)
	})
	u.noneBeforeStats(t, "all_sockets", "socket_connected", "event_received", "event_sent", "room_joined")
	select {
	case <-gone:
		t.Fatal("a read-only admin disconnected a socket")
	default:
	}
	if a.Dropped() != 0 {
		t.Fatalf("dropped %d", a.Dropped())
	}
}
