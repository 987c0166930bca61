package admin

import (
	"context"
	"errors"
	"testing"

	"github.com/tether-rt/tether/socketio"
)

// A socket that connected over long-polling is reported on WebSocket once it upgrades: in
// socket_connected if the upgrade came first, else in a socket_updated.
func TestTransportUpgradeReported(t *testing.T) {
	_, _, url := instrumented(t, &Options{NoAuth: true})
	u, err := dialUI(t, url, "/admin", nil)
	if err != nil {
		t.Fatal(err)
	}
	u.next(t, "all_sockets", nil)
	demo := dialDemo(t, url, "/") // long-polling first, then the upgrade
	id := demo.ID()
	connected := u.next(t, "socket_connected", func(a []any) bool { return field(a[0], "id") == id })
	if field(connected[0], "transport") == "websocket" {
		t.Log("upgraded before socket_connected")
		return
	}
	if tr := field(connected[0], "transport"); tr != "polling" {
		t.Fatalf("transport %q", tr)
	}
	updated := u.next(t, "socket_updated", func(a []any) bool { return field(a[0], "id") == id })
	if field(updated[0], "transport") != "websocket" || field(updated[0], "nsp") != "/" {
		t.Fatalf("socket_updated %v", updated)
	}
}

// After Close the admin namespace refuses UIs, and a second Close changes nothing.
func TestClose(t *testing.T) {
	_, a, url := instrumented(t, &Options{NoAuth: true})
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := dialUI(t, url, "/admin", nil)
	var ce *socketio.ConnectError
	if !errors.As(err, &ce) || ce.Message != errClosed.Error() {
		t.Fatalf("after Close: %v", err)
	}
}

// The session store forgets the oldest session past its bound.
func TestSessionStoreBound(t *testing.T) {
	st := newSessionStore()
	first := st.add()
	var last string
	for range maxSessions {
		last = st.add()
	}
	if st.valid(first) || !st.valid(last) || st.valid("") || len(st.expires) != maxSessions {
		t.Fatalf("first %v, last %v, %d kept", st.valid(first), st.valid(last), len(st.expires))
	}
}
