package engineio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// testServer is one of our servers behind httptest, echoing every message unless OnMessage
// is set; it also reports how sessions ended.
type testServer struct {
	srv    *Server
	url    string
	closed chan CloseReason // OnClose reasons
	opened chan *Session
}

func startTestServer(t *testing.T, opts ServerOptions) *testServer {
	t.Helper()
	ts := &testServer{closed: make(chan CloseReason, 16), opened: make(chan *Session, 16)}
	if opts.PingInterval == 0 {
		opts.PingInterval = 100 * time.Millisecond
	}
	if opts.PingTimeout == 0 {
		// Pings cross every test (100 ms apart), but a 500 kB echo under the race detector
		// on a busy 2-core machine may hold the next one back for seconds.
		opts.PingTimeout = 10 * time.Second
	}
	if opts.OnMessage == nil {
		opts.OnMessage = func(s *Session, m Message) {
			_ = s.Send(NewPreparedMessage(bytes.Clone(m.Data), m.Binary))
		}
	}
	opts.OnOpen = func(s *Session) {
		select {
		case ts.opened <- s:
		default:
		}
	}
	opts.OnClose = func(s *Session, reason CloseReason, _ error) {
		select {
		case ts.closed <- reason:
		default:
		}
	}
	ts.srv = NewServer(&opts)
	hs := httptest.NewServer(ts.srv)
	ts.url = hs.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = ts.srv.Shutdown(ctx)
		hs.Close()
	})
	return ts
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialTest(t *testing.T, ctx context.Context, url string, opts *DialOptions) *Client {
	t.Helper()
	c, err := Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// echoRoundTrips sends text and binary messages of various sizes and checks they come back
// unchanged and in order.
func echoRoundTrips(t *testing.T, ctx context.Context, c *Client) {
	t.Helper()
	var want []Message
	for i, n := range []int{0, 1, 100, 70_000, 500_000} {
		text := strings.Repeat("é", n/2) + strconv.Itoa(i)
		bin := bytes.Repeat([]byte{0, 0x1e, 0xff, byte(i)}, n/4+1)
		want = append(want, Message{Data: []byte(text)}, Message{Data: bin, Binary: true})
	}
	for _, m := range want {
		if err := c.Send(ctx, m.Data, m.Binary); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	for i, w := range want {
		m, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("Read %d: %v", i, err)
		}
		if m.Binary != w.Binary || !bytes.Equal(m.Data, w.Data) {
			t.Fatalf("message %d: got binary=%v len=%d, want binary=%v len=%d", i, m.Binary, len(m.Data), w.Binary, len(w.Data))
		}
	}
}

func TestClientPolling(t *testing.T) {
	ts := startTestServer(t, ServerOptions{})
	ctx := testContext(t)
	c := dialTest(t, ctx, ts.url, &DialOptions{Transports: []string{TransportPolling}})
	if c.ID() == "" || c.Transport() != TransportPolling {
		t.Fatalf("id %q transport %q", c.ID(), c.Transport())
	}
	echoRoundTrips(t, ctx, c)
	// Several ping intervals pass: the heartbeat keeps the session open.
	s := <-ts.opened
	waitPings(t, ctx, c, 5)
	echoRoundTrips(t, ctx, c)
	if c.Transport() != TransportPolling || s.Transport() != TransportPolling {
		t.Fatalf("transport %q / server %q, want polling", c.Transport(), s.Transport())
	}
}

func TestClientWebSocket(t *testing.T) {
	ts := startTestServer(t, ServerOptions{})
	ctx := testContext(t)
	for _, tc := range []struct {
		name string
		url  string
		opts *DialOptions
	}{
		{"option", ts.url + "/engine.io/", &DialOptions{Transports: []string{TransportWebSocket}}},
		{"ws-url", "ws" + strings.TrimPrefix(ts.url, "http"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialTest(t, ctx, tc.url, tc.opts)
			if c.Transport() != TransportWebSocket {
				t.Fatalf("transport %q", c.Transport())
			}
			echoRoundTrips(t, ctx, c)
			waitPings(t, ctx, c, 5)
			echoRoundTrips(t, ctx, c)
		})
	}
}

// waitPings waits until the client has answered n more pings: the session survives them.
func waitPings(t *testing.T, ctx context.Context, c *Client, n int64) {
	t.Helper()
	want := c.pings.Load() + n
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for c.pings.Load() < want {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("%d pings from the server, want %d", c.pings.Load(), want)
		}
	}
}

// TestClientUpgrade sends and receives messages while the client upgrades from polling to
// WebSocket: each direction must arrive complete, in order, without duplicates.
func TestClientUpgrade(t *testing.T) {
	var sent sync.Map // per session: the server's own counter
	// No ping comes to release a poll: a stalled upgrade shows as a failure.
	ts := startTestServer(t, ServerOptions{PingInterval: time.Minute, OnMessage: func(s *Session, m Message) {
		_ = s.Send(NewPreparedMessage(bytes.Clone(m.Data), m.Binary))
		v, _ := sent.LoadOrStore(s.ID(), new(int))
		n := v.(*int) // OnMessage runs one at a time per session
		_ = s.Send(NewPreparedMessage([]byte("s:"+strconv.Itoa(*n)), false))
		*n++
	}})
	ctx := testContext(t)
	for round := range 20 {
		c := dialTest(t, ctx, ts.url, nil)
		upgradeRound(t, ctx, c)
		if err := c.Close(); err != nil {
			t.Fatalf("round %d: Close: %v", round, err)
		}
	}
}

func upgradeRound(t *testing.T, ctx context.Context, c *Client) {
	const after = 50 // messages sent once on WebSocket
	// The window keeps the server's queue, which fills while polling pauses, far from its bound.
	window := make(chan struct{}, 64)
	total := make(chan int, 1)
	go func() {
		n, extra := 0, -1
		for ; n < 20_000 && extra != 0; n++ {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
			}
			if extra < 0 && c.Transport() == TransportWebSocket {
				extra = after
			}
			if extra > 0 {
				extra--
			}
			var err error
			if n%2 == 0 {
				err = c.Send(ctx, []byte("c:"+strconv.Itoa(n)), false)
			} else {
				err = c.Send(ctx, []byte(strconv.Itoa(n)), true)
			}
			if err != nil {
				break
			}
		}
		total <- n
	}()
	echoed, pushed, n := 0, 0, -1
	for n < 0 || echoed < n || pushed < n {
		if n < 0 {
			select {
			case n = <-total:
			default:
			}
		}
		m, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("Read after %d echoes, %d pushes: %v", echoed, pushed, err)
		}
		switch s := string(m.Data); {
		case strings.HasPrefix(s, "s:") && !m.Binary:
			if s != "s:"+strconv.Itoa(pushed) {
				t.Fatalf("server message %q, want s:%d", s, pushed)
			}
			pushed++
		case echoed%2 == 0 && !m.Binary && s == "c:"+strconv.Itoa(echoed),
			echoed%2 == 1 && m.Binary && s == strconv.Itoa(echoed):
			echoed++
			<-window
		default:
			t.Fatalf("got %q (binary %v), want echo %d", s, m.Binary, echoed)
		}
	}
	if c.Transport() != TransportWebSocket {
		t.Fatalf("transport %q after the exchange, want websocket", c.Transport())
	}
	t.Logf("%d messages each way, the last %d over WebSocket", n, after)
}

func TestClientNoUpgradeOffered(t *testing.T) {
	ts := startTestServer(t, ServerOptions{DisableUpgrades: true})
	ctx := testContext(t)
	c := dialTest(t, ctx, ts.url, nil)
	echoRoundTrips(t, ctx, c)
	if c.Transport() != TransportPolling {
		t.Fatalf("transport %q, want polling", c.Transport())
	}
}

// TestClientServerClose checks Read reports the server's close after the messages sent before.
func TestClientServerClose(t *testing.T) {
	for _, transports := range [][]string{{TransportPolling}, {TransportWebSocket}, nil} {
		t.Run(fmt.Sprint(transports), func(t *testing.T) {
			ts := startTestServer(t, ServerOptions{})
			ctx := testContext(t)
			c := dialTest(t, ctx, ts.url, &DialOptions{Transports: transports})
			s := <-ts.opened
			if transports == nil {
				waitTransport(t, ctx, c, TransportWebSocket)
			}
			for i := range 10 {
				_ = s.Send(NewPreparedMessage([]byte(strconv.Itoa(i)), false))
			}
			_ = s.Close()
			var err error
			n := 0
			for ; n <= 10; n++ {
				var m Message
				if m, err = c.Read(ctx); err != nil {
					break
				}
				if string(m.Data) != strconv.Itoa(n) {
					t.Fatalf("Read %d: %q", n, m.Data)
				}
			}
			// Whatever the transport, the queue goes out before the close packet.
			if n != 10 {
				t.Fatalf("%d messages before the close, want 10", n)
			}
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Reason != CloseTransportClose || !errors.Is(err, CloseTransportClose) {
				t.Fatalf("Read after server close: %v", err)
			}
			if err := c.Send(ctx, []byte("x"), false); !errors.Is(err, CloseTransportClose) {
				t.Fatalf("Send after server close: %v", err)
			}
		})
	}
}

// TestClientClose checks Close sends what is queued and the close packet, and that the
// client reports CloseClientClose afterwards.
func TestClientClose(t *testing.T) {
	for _, transports := range [][]string{{TransportPolling}, {TransportWebSocket}} {
		t.Run(transports[0], func(t *testing.T) {
			got := make(chan string, 100)
			ts := startTestServer(t, ServerOptions{OnMessage: func(s *Session, m Message) { got <- string(m.Data) }})
			ctx := testContext(t)
			c := dialTest(t, ctx, ts.url, &DialOptions{Transports: transports})
			for i := range 20 {
				if err := c.Send(ctx, []byte(strconv.Itoa(i)), false); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				if m := <-got; m != strconv.Itoa(i) {
					t.Fatalf("server got %q, want %d", m, i)
				}
			}
			if r := <-ts.closed; r != CloseTransportClose {
				t.Fatalf("server close reason %q", r)
			}
			if _, err := c.Read(ctx); !errors.Is(err, CloseClientClose) {
				t.Fatalf("Read after Close: %v", err)
			}
			if err := c.Send(ctx, []byte("x"), false); !errors.Is(err, CloseClientClose) {
				t.Fatalf("Send after Close: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
		})
	}
}

// TestClientCloseDuringUpgrade closes at once after Dial, while the probe runs.
func TestClientCloseDuringUpgrade(t *testing.T) {
	ts := startTestServer(t, ServerOptions{})
	ctx := testContext(t)
	for range 10 {
		c := dialTest(t, ctx, ts.url, nil)
		_ = c.Send(ctx, []byte("bye"), false)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClientHandshakeRefused(t *testing.T) {
	ts := startTestServer(t, ServerOptions{AllowRequest: func(r *http.Request) error {
		return errors.New("no entry")
	}})
	ctx := testContext(t)
	for _, transports := range [][]string{{TransportPolling}, {TransportWebSocket}} {
		_, err := Dial(ctx, ts.url, &DialOptions{Transports: transports})
		var he *HandshakeError
		if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden || he.Code != 4 {
			t.Fatalf("%v: Dial error %v, want a HandshakeError 403 code 4", transports, err)
		}
	}
}

func TestClientBadInput(t *testing.T) {
	ctx := testContext(t)
	for _, u := range []string{"ftp://127.0.0.1/", "://"} {
		if _, err := Dial(ctx, u, nil); err == nil {
			t.Fatalf("Dial(%q) succeeded", u)
		}
	}
	if _, err := Dial(ctx, "http://127.0.0.1:1/", &DialOptions{Transports: []string{"carrier-pigeon"}}); err == nil {
		t.Fatal("unknown transport accepted")
	}
	ts := startTestServer(t, ServerOptions{})
	c := dialTest(t, ctx, ts.url, &DialOptions{Transports: []string{TransportPolling}})
	if err := c.Send(ctx, []byte{0xff}, false); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("Send of invalid UTF-8: %v", err)
	}
}

func waitTransport(t *testing.T, ctx context.Context, c *Client, want string) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for c.Transport() != want {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("transport still %q, want %q", c.Transport(), want)
		}
	}
}

func TestClientHeadersAndQuery(t *testing.T) {
	ts := startTestServer(t, ServerOptions{})
	ctx := testContext(t)
	for _, transports := range [][]string{{TransportPolling}, {TransportWebSocket}} {
		c := dialTest(t, ctx, ts.url+"/engine.io/?from=url", &DialOptions{
			Transports: transports,
			Header:     http.Header{"X-Test": {"header"}},
			Query:      map[string][]string{"token": {"t0k"}},
			WebSocket:  &websocket.DialOptions{Header: http.Header{"X-Ws": {"ws"}}},
		})
		s := <-ts.opened
		q, h := s.Request().Query(), s.Request().Header()
		if q.Get("token") != "t0k" || q.Get("from") != "url" || q.Get("EIO") != "4" || h.Get("X-Test") != "header" {
			t.Fatalf("%v: server saw query %v header %v", transports, q, h)
		}
		if transports[0] == TransportWebSocket && h.Get("X-Ws") != "ws" {
			t.Fatalf("WebSocket header missing: %v", h)
		}
		if s.ID() != c.ID() {
			t.Fatalf("server sid %q, client %q", s.ID(), c.ID())
		}
	}
}

// TestClientQuietUpgrade upgrades sessions with no traffic and no ping to release a poll: the
// client must not poll again between the server's noop and its pause.
func TestClientQuietUpgrade(t *testing.T) {
	ts := startTestServer(t, ServerOptions{PingInterval: time.Minute})
	ctx := testContext(t)
	for range 20 {
		c := dialTest(t, ctx, ts.url, nil)
		waitTransport(t, ctx, c, TransportWebSocket)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClientMaxPayload sends messages at the server's maxPayload, and refuses larger ones
// before they reach the server, which would end the session.
func TestClientMaxPayload(t *testing.T) {
	ts := startTestServer(t, ServerOptions{})
	ctx := testContext(t)
	for _, tc := range []struct {
		transport    string
		text, binary int // the largest accepted
	}{
		{TransportPolling, 999_999, 749_997}, // "4"+text; "b"+base64
		{TransportWebSocket, 999_999, 1_000_000},
	} {
		c := dialTest(t, ctx, ts.url, &DialOptions{Transports: []string{tc.transport}})
		for _, m := range []Message{
			{Data: bytes.Repeat([]byte("a"), tc.text)},
			{Data: bytes.Repeat([]byte{1}, tc.binary), Binary: true},
		} {
			if err := c.Send(ctx, m.Data, m.Binary); err != nil {
				t.Fatalf("%s: Send of %d bytes: %v", tc.transport, len(m.Data), err)
			}
			if got, err := c.Read(ctx); err != nil || !bytes.Equal(got.Data, m.Data) {
				t.Fatalf("%s: echo of %d bytes: %v", tc.transport, len(m.Data), err)
			}
			if err := c.Send(ctx, append(m.Data, 1), m.Binary); !errors.Is(err, ErrMessageTooLarge) {
				t.Fatalf("%s: Send of %d bytes: %v, want ErrMessageTooLarge", tc.transport, len(m.Data)+1, err)
			}
		}
		echoRoundTrips(t, ctx, c)
	}
}
