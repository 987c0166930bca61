package redis_test

import (
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
)

// A node shutting down keeps the sessions of its sockets for recovery before its adapter
// closes: once Shutdown returns, the session is in Redis, and another node restores it.
func TestStreamsRecoveryAfterShutdown(t *testing.T) {
	r := redistest.Start(t)
	a, b := newRecoveryNode(t, r), newRecoveryNode(t, r)
	// A slow disconnecting hook, which runs before the session is kept, and outlasts the
	// adapter's close (a stream read of up to BlockTime): Shutdown waits for it.
	a.srv.Of("/").OnDisconnecting(func(*socketio.Socket, socketio.DisconnectReason) {
		time.Sleep(1500 * time.Millisecond)
	})
	_, s := connectHello(t, a)
	ctx := t.Context()
	if err := a.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if k, err := b.rdb.Exists(ctx, "sio:session:"+s.pid).Result(); err != nil || k != 1 {
		t.Fatalf("session in Redis once Shutdown returned: %d, %v; want it kept", k, err)
	}
	if err := b.srv.To("room").Emit("missed"); err != nil {
		t.Fatal(err)
	}
	resumed := resume(t, b, s)
	resumed.expect(`2["missed","*`)
}
