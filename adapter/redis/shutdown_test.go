package redis_test

import (
	"encoding/json"
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
	c := dialRawSIO(t, a.url)
	c.send("0")
	got := c.expect(`0{"sid":*`)
	var ids struct{ SID, PID string }
	if err := json.Unmarshal([]byte(got[1:]), &ids); err != nil || ids.PID == "" {
		t.Fatalf("CONNECT answer %q", got)
	}
	hello := c.expect(`2["hello","*`)
	var args []string
	if err := json.Unmarshal([]byte(hello[1:]), &args); err != nil || len(args) != 2 {
		t.Fatalf("hello %q", hello)
	}
	ctx := t.Context()
	if err := a.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if k, err := b.rdb.Exists(ctx, "sio:session:"+ids.PID).Result(); err != nil || k != 1 {
		t.Fatalf("session in Redis once Shutdown returned: %d, %v; want it kept", k, err)
	}
	if err := b.srv.To("room").Emit("missed"); err != nil {
		t.Fatal(err)
	}
	s := sioSession{sid: ids.SID, pid: ids.PID, offset: args[1]}
	resumed := resume(t, b, s)
	resumed.expect(`2["missed","*`)
}
