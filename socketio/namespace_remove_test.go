package socketio

import (
	"testing"
)

// Every registration on a namespace and the server returns the function that removes it,
// and removing one leaves the others.
func TestNamespaceRegistrationsRemove(t *testing.T) {
	srv := NewServer(nil)
	nsp := srv.Of("/")
	var calls []string
	keepMW := nsp.Use(func(*Socket) error { calls = append(calls, "mw1"); return nil })
	dropMW := nsp.Use(func(*Socket) error { calls = append(calls, "mw2"); return nil })
	dropConnect := srv.OnConnect(func(*Socket) { calls = append(calls, "connect1") })
	keepConnect := nsp.OnConnect(func(*Socket) { calls = append(calls, "connect2") })
	dropMW()
	dropConnect()
	dropConnect() // a second call is harmless
	mw, hooks := nsp.connectHooks()
	for _, f := range mw {
		_ = f(nil)
	}
	for _, f := range hooks {
		f(nil)
	}
	if got := len(calls); got != 2 || calls[0] != "mw1" || calls[1] != "connect2" {
		t.Fatalf("after removals: %q, want [mw1 connect2]", calls)
	}
	keepMW()
	keepConnect()
	if mw, hooks := nsp.connectHooks(); len(mw) != 0 || len(hooks) != 0 {
		t.Fatalf("all removed: %d middleware, %d hooks left", len(mw), len(hooks))
	}

	removes := []func(){
		nsp.OnDisconnecting(func(*Socket, DisconnectReason) {}),
		srv.OnDisconnect(func(*Socket, DisconnectReason) {}),
	}
	if d, dd := nsp.disconnectHooks(); len(d) != 1 || len(dd) != 1 {
		t.Fatalf("disconnect hooks: %d, %d", len(d), len(dd))
	}
	for _, f := range removes {
		f()
	}
	if d, dd := nsp.disconnectHooks(); len(d) != 0 || len(dd) != 0 {
		t.Fatalf("disconnect hooks after removal: %d, %d", len(d), len(dd))
	}

	removeSSE := nsp.OnServerSideEmit("ping", func() {})
	if len(nsp.serverSide["ping"]) != 1 {
		t.Fatal("server-side handler not registered")
	}
	removeSSE()
	if _, ok := nsp.serverSide["ping"]; ok {
		t.Fatal("server-side handler left after removal")
	}

	var made []string
	removeNew := srv.OnNewNamespace(func(n *Namespace) { made = append(made, n.Name()) })
	srv.Of("/a")
	removeNew()
	srv.Of("/b")
	if len(made) != 1 || made[0] != "/a" {
		t.Fatalf("new-namespace hook saw %q, want [/a]", made)
	}
}
