package socketio

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientRetries checks ClientOptions.Retries against a server that drops the first
// acknowledgement of each event: every emit is delivered at least once, in order, one at a
// time, and EmitWithAck gets the answer of a later send; an event never acknowledged is given
// up after 1+Retries sends.
func TestClientRetries(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	sends := map[string]int{}
	ts := startClientServer(t, nil, func(io *Server) {
		io.On("job", func(ack Ack, id string) {
			mu.Lock()
			seen = append(seen, id)
			sends[id]++
			first := sends[id] == 1
			mu.Unlock()
			if !first {
				ack("done", id)
			}
		})
		io.On("silent", func(ack Ack) {
			mu.Lock()
			sends["silent"]++
			mu.Unlock()
		})
	})
	// AckTimeout only makes the lost acknowledgements fail so that they are retried. A busy
	// machine may let an answer that did come arrive late, and so cause one more send: the
	// checks allow it.
	c := dialTest(t, ts.url, &ClientOptions{Retries: 2, AckTimeout: 500 * time.Millisecond}, nil)

	c.Emit("job", "a")
	c.Emit("job", "b")
	a, err := c.EmitWithAck(clientCtx(t), "job", "c")
	if err != nil || fmt.Sprint(a.Values()) != "[done c]" {
		t.Fatalf("EmitWithAck: %v, %v", a.Values(), err)
	}
	mu.Lock()
	var order []string
	for i, id := range seen {
		if i == 0 || seen[i-1] != id {
			order = append(order, id)
		}
	}
	if got := strings.Join(order, ","); got != "a,b,c" || sends["a"] < 2 || sends["b"] < 2 || sends["c"] < 2 {
		mu.Unlock()
		t.Fatalf("server saw %v, want each event twice or more, one at a time, in order", seen)
	}
	mu.Unlock()

	_, err = c.EmitWithAck(clientCtx(t), "silent")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("never acknowledged: %v", err)
	}
	// The server handles a socket's events in order: once "d" is answered, it has seen every
	// send of "silent".
	if _, err := c.EmitWithAck(clientCtx(t), "job", "d"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if sends["silent"] != 3 {
		t.Fatalf("silent sent %d times, want 1 + Retries = 3", sends["silent"])
	}
}

// TestClientRetryAfterReconnect checks that an event whose connection is lost before its
// acknowledgement is sent again on the next connection, with no AckTimeout, and that
// Disconnect gives up the events still queued.
func TestClientRetryAfterReconnect(t *testing.T) {
	var ts *clientTestServer
	var sends atomic.Int32
	ts = startClientServer(t, nil, func(io *Server) {
		io.On("hold", func(ack Ack) {
			if sends.Add(1) == 1 {
				ts.cut() // the answer is lost with the connection
				return
			}
			ack("ok")
		})
	})
	c := dialTest(t, ts.url, &ClientOptions{Retries: 1, ReconnectionDelay: time.Millisecond, Transports: []string{"websocket"}}, nil)
	a, err := c.EmitWithAck(clientCtx(t), "hold")
	if err != nil || fmt.Sprint(a.Values()) != "[ok]" || sends.Load() != 2 {
		t.Fatalf("after a reconnection: %v, %v, %d sends", a.Values(), err, sends.Load())
	}

	// Queued while the socket is out: Disconnect fails them.
	gone := make(chan struct{}, 1)
	c.OnDisconnect(func(DisconnectReason) { gone <- struct{}{} })
	ts.down.Store(true)
	ts.cut()
	<-gone
	failed := make(chan error, 1)
	if err := c.EmitWithAckFunc(clientCtx(t), func(_ Args, err error) { failed <- err }, "hold"); err != nil {
		t.Fatal(err)
	}
	c.Disconnect()
	if err := <-failed; !errors.Is(err, ErrDisconnected) {
		t.Fatalf("queued event after Disconnect: %v", err)
	}
}
