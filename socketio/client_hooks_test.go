package socketio

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordClientHooks registers every connection-level hook of c, recording calls as words.
func recordClientHooks(c *Client) (lines func() string, reconnected, failed chan struct{}) {
	var mu sync.Mutex
	var got []string
	add := func(s string) { mu.Lock(); got = append(got, s); mu.Unlock() }
	reconnected, failed = make(chan struct{}, 1), make(chan struct{})
	c.OnError(func(err error) {
		var lost *ConnectionLostError
		if errors.As(err, &lost) {
			add("lost")
		} else {
			add("error")
		}
	})
	c.OnReconnectAttempt(func(n int) { add(fmt.Sprint("attempt", n)) })
	c.OnReconnectError(func(error) { add("reconnect-error") })
	c.OnReconnect(func(n int) { add(fmt.Sprint("reconnect", n)); reconnected <- struct{}{} })
	c.OnReconnectFailed(func() { add("failed"); close(failed) })
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		s := strings.Join(got, " ")
		got = nil
		return s
	}, reconnected, failed
}

// TestClientReconnectHooks checks the connection-level hooks, in order: a loss, the attempts
// with their errors, the success; then attempts running out.
func TestClientReconnectHooks(t *testing.T) {
	ts := startClientServer(t, nil, nil)
	c := dialTest(t, ts.url, &ClientOptions{
		Transports:           []string{"websocket"},
		ReconnectionDelay:    time.Millisecond,
		ReconnectionAttempts: 2,
	}, nil)
	lines, reconnected, failed := recordClientHooks(c)

	ts.cut()
	<-reconnected
	if got := lines(); got != "lost attempt1 reconnect1" {
		t.Fatalf("hooks after a loss and a reconnection: %q", got)
	}

	ts.down.Store(true)
	ts.cut()
	<-failed
	if got := lines(); got != "lost attempt1 error reconnect-error attempt2 error reconnect-error failed" {
		t.Fatalf("hooks when the attempts run out: %q", got)
	}
	<-c.Done()
}
