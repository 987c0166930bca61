package socketio

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	const base, maxDelay = time.Second, 5 * time.Second
	for _, c := range []struct {
		n      int
		jitter float64
		rnd    float64
		want   time.Duration
	}{
		{0, 0, 0.3, time.Second},
		{1, 0, 0.3, 2 * time.Second},
		{2, 0, 0.3, 4 * time.Second},
		{3, 0, 0.3, 5 * time.Second},
		{500, 0, 0.3, 5 * time.Second},
		{0, 0.5, 0.25, 875 * time.Millisecond},  // floor(2.5) is even: down by 0.125 s
		{0, 0.5, 0.35, 1175 * time.Millisecond}, // floor(3.5) is odd: up by 0.175 s
		{2, 0.5, 0.99, 5 * time.Second},         // capped after the jitter
		{1, 0.5, 0.0, 2 * time.Second},          // rnd 0 moves nothing
		{1, 1, 0.45, 2*time.Second - 900*time.Millisecond},
	} {
		if got := backoffDelay(c.n, base, maxDelay, c.jitter, c.rnd); got != c.want {
			t.Errorf("backoffDelay(%d, jitter %v, rnd %v) = %v, want %v", c.n, c.jitter, c.rnd, got, c.want)
		}
	}
}

// fastReconnect reconnects within milliseconds, for tests.
func fastReconnect(transports []string) *ClientOptions {
	return &ClientOptions{
		Transports:           transports,
		ReconnectionDelay:    5 * time.Millisecond,
		ReconnectionDelayMax: 20 * time.Millisecond,
	}
}

func TestClientReconnect(t *testing.T) {
	ts := startClientServer(t, nil, clientEchoApp)
	for name, transports := range clientTransports {
		t.Run(name, func(t *testing.T) {
			var got clientEvents
			connected := make(chan struct{}, 4)
			reasons := make(chan DisconnectReason, 4)
			c := dialTest(t, ts.url, fastReconnect(transports), func(c *Client) {
				got = recordEvents(c.ClientSocket)
				c.OnConnect(func() { connected <- struct{}{} })
				c.OnDisconnect(func(r DisconnectReason) { reasons <- r })
			})
			got.expect(t, "auth {}")
			<-connected
			custom := c.Of("/custom", nil)
			cust := recordEvents(custom)
			if err := custom.Connect(clientCtx(t)); err != nil {
				t.Fatal(err)
			}
			cust.expect(t, "auth null")
			first := c.ID()

			// The server refuses requests while the connections are cut: emits wait in the buffer.
			ts.down.Store(true)
			ts.cut()
			if r := <-reasons; r != ReasonTransportError && r != ReasonTransportClose {
				t.Fatalf("reason %q", r)
			}
			if err := c.Emit("message", "buffered", []byte{1}); err != nil {
				t.Fatal(err)
			}
			if err := c.Volatile().Emit("message", "dropped"); err != nil {
				t.Fatal(err)
			}
			ack := make(chan error, 1)
			go func() {
				a, err := c.EmitWithAck(clientCtx(t), "message-with-ack", "later")
				if err == nil && a.Values()[0] != "later" {
					err = errors.New("wrong ack")
				}
				ack <- err
			}()
			ts.down.Store(false)

			<-connected
			got.expect(t, "auth {}")
			got.expect(t, `message-back "buffered" "AQ=="`)
			if err := <-ack; err != nil {
				t.Fatal(err)
			}
			cust.expect(t, "auth null") // the other namespace is rejoined too
			if c.ID() == first || c.Recovered() {
				t.Fatalf("id %q (first %q), recovered %v", c.ID(), first, c.Recovered())
			}
		})
	}
}

func TestClientRecovery(t *testing.T) {
	left := make(chan string, 4)
	ts := startClientServer(t, &ServerOptions{Recovery: &RecoveryOptions{}}, func(io *Server) {
		clientEchoApp(io)
		io.OnDisconnect(func(s *Socket, r DisconnectReason) { left <- s.ID() })
	})
	var got clientEvents
	connected := make(chan struct{}, 4)
	disconnected := make(chan struct{}, 4)
	c := dialTest(t, ts.url, fastReconnect([]string{"websocket"}), func(c *Client) {
		got = recordEvents(c.ClientSocket)
		c.OnConnect(func() { connected <- struct{}{} })
		c.OnDisconnect(func(DisconnectReason) { disconnected <- struct{}{} })
	})
	<-connected
	// withoutOffset drops the last argument, the offset a server with recovery on adds.
	withoutOffset := func(l string) string { return l[:strings.LastIndex(l, ` "`)] }
	if l := got.next(t); l[:5] != "auth " {
		t.Fatalf("got %q", l)
	}
	if _, err := c.EmitWithAck(clientCtx(t), "join", "room1"); err != nil {
		t.Fatal(err)
	}
	id := c.ID()

	ts.down.Store(true)
	ts.cut()
	if gone := <-left; gone != id {
		t.Fatalf("socket %q left, want %q", gone, id)
	}
	ts.io.To("room1").Emit("missed", 1)
	ts.io.Emit("missed", 2)
	// An emit into a connection the client has not yet seen die is lost, as in every client.
	<-disconnected
	if err := c.Emit("message", "buffered"); err != nil {
		t.Fatal(err)
	}
	ts.down.Store(false)

	<-connected
	if !c.Recovered() || c.ID() != id {
		t.Fatalf("recovered %v, id %q, want %q", c.Recovered(), c.ID(), id)
	}
	// The missed events come first, then the app's connect hook, which sees pid and offset in
	// the auth, then the answer to what was buffered.
	for _, want := range []string{"missed 1", "missed 2", "auth", `message-back "buffered"`} {
		l := got.next(t)
		if want == "auth" && strings.HasPrefix(l, `auth {"offset":"`) && strings.Contains(l, `"pid":"`) {
			continue
		}
		if withoutOffset(l) != want {
			t.Fatalf("got %q, want %q followed by an offset", l, want)
		}
	}
	if _, err := c.EmitWithAck(clientCtx(t), "join", "room2"); err != nil {
		t.Fatal(err)
	}
	// Still in room1, and the offset moves on with every event.
	ts.io.To("room1").Emit("again")
	if l := got.next(t); l[:6] != "again " {
		t.Fatalf("got %q", l)
	}
}

func TestClientReconnectionOff(t *testing.T) {
	ts := startClientServer(t, nil, clientEchoApp)
	reasons := make(chan DisconnectReason, 2)
	c := dialTest(t, ts.url, &ClientOptions{DisableReconnection: true, Transports: []string{"websocket"}}, func(c *Client) {
		c.OnDisconnect(func(r DisconnectReason) { reasons <- r })
	})
	ts.cut()
	<-c.Done()
	var le *ConnectionLostError
	if err := c.Err(); !errors.As(err, &le) {
		t.Fatalf("Err = %v", err)
	}
	if r := <-reasons; r != le.Reason {
		t.Fatalf("OnDisconnect %q, Err %q", r, le.Reason)
	}
	if err := c.Emit("x"); !errors.As(err, &le) {
		t.Fatalf("Emit = %v", err)
	}
	if err := c.Connect(clientCtx(t)); err == nil {
		t.Fatal("Connect on a closed client succeeded")
	}
}

func TestClientReconnectionAttempts(t *testing.T) {
	ts := startClientServer(t, nil, clientEchoApp)
	opts := fastReconnect([]string{"polling"})
	opts.ReconnectionAttempts = 3
	opts.SendBufferSize = 2
	c := dialTest(t, ts.url, opts, nil)
	ts.down.Store(true)
	ts.cut()
	// Buffered emits wait; past the bound they are refused.
	var full bool
	for i := 0; i < 3 && !full; i++ {
		full = errors.Is(c.Emit("x"), ErrSendBufferFull)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := c.EmitWithAck(context.Background(), "message-with-ack")
		waited <- err
	}()
	<-c.Done()
	var le *ConnectionLostError
	if err := c.Err(); !errors.As(err, &le) || le.Err == nil {
		t.Fatalf("Err = %v", err)
	}
	if err := <-waited; err == nil {
		t.Fatal("EmitWithAck succeeded")
	}
	if !full {
		// The loss may be seen after the emits: then they went to the dying connection.
		t.Log("the buffer bound was not reached")
	}
}

func TestClientCloseWhileReconnecting(t *testing.T) {
	ts := startClientServer(t, nil, clientEchoApp)
	opts := fastReconnect(nil)
	reasons := make(chan DisconnectReason, 4)
	c := dialTest(t, ts.url, opts, func(c *Client) { c.OnDisconnect(func(r DisconnectReason) { reasons <- r }) })
	ts.down.Store(true)
	ts.cut()
	<-reasons
	c.Close()
	if !errors.Is(c.Err(), ErrClientClosed) {
		t.Fatalf("Err = %v", c.Err())
	}
	select {
	case r := <-reasons:
		t.Fatalf("a second disconnect: %q", r)
	default:
	}
}
