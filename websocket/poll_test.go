package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newTestPoller returns a Poller closed at the test's end, or skips where there is none.
func newTestPoller(t *testing.T) *Poller {
	t.Helper()
	p, err := NewPoller()
	if errors.Is(err, ErrPollUnsupported) {
		t.Skipf("no Poller on %s", runtime.GOOS)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// pollEchoServer starts a server whose connections are read on readiness: the handler
// returns once the connection is watched, and each readiness echoes what came. The error
// that ended each connection is sent on errs; every accepted Conn on conns.
func pollEchoServer(t *testing.T, p *Poller, tlsServer bool) (url string, errs <-chan error, conns <-chan *Conn) {
	t.Helper()
	errCh := make(chan error, 256)
	connCh := make(chan *Conn, 256)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		connCh <- c
		ctx := context.Background()
		err = p.Watch(c, func() {
			for {
				typ, b, err := c.TryRead(ctx)
				if err == ErrWouldBlock {
					return
				}
				if err == nil {
					err = c.Write(ctx, typ, b)
				}
				if err != nil {
					errCh <- err
					c.CloseNow()
					return
				}
			}
		})
		if err != nil {
			errCh <- err
			c.CloseNow()
		}
	})
	var srv *httptest.Server
	if tlsServer {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), errCh, connCh
}

// waitGoroutines waits until at most want goroutines run, giving ended ones a moment to go.
func waitGoroutines(t *testing.T, want int, what string) {
	t.Helper()
	for range 500 {
		if runtime.NumGoroutine() <= want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<16)
	t.Fatalf("%s: %d goroutines, want at most %d\n%s", what, runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
}

// TestPollerIdleConnsHoldNoGoroutine opens many connections read on readiness and checks that
// while idle they hold no goroutine, that each gets its messages back in order, and that
// closing them ends the Poller's goroutine too.
func TestPollerIdleConnsHoldNoGoroutine(t *testing.T) {
	p := newTestPoller(t)
	url, _, _ := pollEchoServer(t, p, false)
	ctx := testCtx(t)
	// The first connection starts the test server's goroutines and the Poller's.
	first := dial(t, url, nil)
	if err := first.Write(ctx, MessageText, []byte("warm")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := first.Read(ctx); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, runtime.NumGoroutine(), "settled") // let the handshake's goroutines end
	base := runtime.NumGoroutine()
	const n = 100
	clients := make([]*Conn, n)
	for i := range clients {
		clients[i] = dial(t, url, nil)
	}
	// The server side of n idle connections: no goroutine each (a few net/http ones may
	// still be ending).
	waitGoroutines(t, base+3, fmt.Sprintf("%d idle watched connections", n))
	for round := range 3 {
		for i, c := range clients {
			if err := c.Write(ctx, MessageText, fmt.Appendf(nil, "%d-%d", i, round)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, c := range clients {
		for round := range 3 {
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("%d-%d", i, round); string(b) != want {
				t.Fatalf("connection %d got %q, want %q", i, b, want)
			}
		}
	}
	waitGoroutines(t, base+3, "after the echoes")
	for _, c := range append(clients, first) {
		c.Close(StatusNormalClosure, "")
	}
	waitGoroutines(t, base-1, "after every connection closed") // the Poller's goroutine is gone too
}

// TestPollerEarlyBytes sends a message right behind the handshake, in the same write: the
// bytes are in the connection's buffer, not the socket's, when it is watched.
func TestPollerEarlyBytes(t *testing.T) {
	p := newTestPoller(t)
	url, _, _ := pollEchoServer(t, p, false)
	rc := dialRawWithFrame(t, strings.TrimPrefix(url, "ws://"), clientFrame(0x80|byte(opText), []byte("early")))
	h, b, err := rc.readFrame()
	if err != nil || h.opcode != opText || string(b) != "early" {
		t.Fatalf("got %v %q %v", h.opcode, b, err)
	}
}

// TestPollerControlAndPartialFrames checks the readiness path against frames that are not a
// whole message: a ping alone (answered, and no message), a message split across writes
// (read whole once the rest comes), and then the peer's close.
func TestPollerControlAndPartialFrames(t *testing.T) {
	p := newTestPoller(t)
	url, errs, _ := pollEchoServer(t, p, false)
	rc := dialRaw(t, url, "")
	rc.send(clientFrame(0x80|byte(opPing), []byte("are you there")))
	h, b, err := rc.readFrame()
	if err != nil || h.opcode != opPong || string(b) != "are you there" {
		t.Fatalf("after a ping: %v %q %v", h.opcode, b, err)
	}
	frame := clientFrame(0x80|byte(opText), []byte("split in three"))
	rc.send(frame[:1])
	time.Sleep(20 * time.Millisecond) // gives the server the chance to see a part alone
	rc.send(frame[1:9])
	time.Sleep(20 * time.Millisecond)
	rc.send(frame[9:])
	h, b, err = rc.readFrame()
	if err != nil || h.opcode != opText || string(b) != "split in three" {
		t.Fatalf("after a split message: %v %q %v", h.opcode, b, err)
	}
	rc.send(clientFrame(0x80|byte(opClose), closePayload(StatusGoingAway, "bye")))
	if code := rc.expectClose(); code != StatusGoingAway {
		t.Fatalf("close code %d, want %d", code, StatusGoingAway)
	}
	select {
	case err := <-errs:
		if CloseStatus(err) != StatusGoingAway {
			t.Fatalf("server's read ended with %v, want the peer's 1001", err)
		}
	case <-testCtx(t).Done():
		t.Fatal("the server never saw the close")
	}
}

// TestPollerProtocolError checks that a frame breaking the protocol, arriving on readiness,
// ends the connection with the right code.
func TestPollerProtocolError(t *testing.T) {
	p := newTestPoller(t)
	url, errs, _ := pollEchoServer(t, p, false)
	rc := dialRaw(t, url, "")
	rc.send(clientFrame(0x80|byte(opText), []byte{0xff, 0xfe}))
	if code := rc.expectClose(); code != StatusInvalidFramePayloadData {
		t.Fatalf("close code %d, want %d", code, StatusInvalidFramePayloadData)
	}
	if err := <-errs; CloseStatus(err) != StatusInvalidFramePayloadData {
		t.Fatalf("server's read ended with %v", err)
	}
}

// TestPollerServerClose closes watched connections from the server while they are idle:
// the peers see the close, and nothing is left watching.
func TestPollerServerClose(t *testing.T) {
	p := newTestPoller(t)
	url, _, conns := pollEchoServer(t, p, false)
	ctx := testCtx(t)
	for range 5 {
		c := dial(t, url, nil)
		sc := <-conns
		go sc.Close(StatusGoingAway, "restart") // the peer's answer comes through the watch
		if _, _, err := c.Read(ctx); CloseStatus(err) != StatusGoingAway {
			t.Fatalf("client read %v, want 1001", err)
		}
	}
}

// TestPollerRefusesTLS checks that a TLS connection, whose bytes must go through the TLS
// layer, is not watched.
func TestPollerRefusesTLS(t *testing.T) {
	p := newTestPoller(t)
	url, errs, _ := pollEchoServer(t, p, true)
	_, _, err := Dial(testCtx(t), url, &DialOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, ErrPollUnsupported) {
		t.Fatalf("Watch on TLS: %v, want ErrPollUnsupported", err)
	}
}

// TestTryReadOnIdleConn checks that TryRead returns ErrWouldBlock without harm, then reads
// what comes.
func TestTryReadOnIdleConn(t *testing.T) {
	url, _ := echoServer(t, nil)
	ctx := testCtx(t)
	c := dial(t, url, nil)
	if _, _, err := c.TryRead(ctx); err != ErrWouldBlock {
		t.Fatalf("TryRead on an idle connection: %v, want ErrWouldBlock", err)
	}
	if err := c.Write(ctx, MessageBinary, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(ctx)
	if err != nil || string(b) != "ping" {
		t.Fatalf("Read after TryRead: %q %v", b, err)
	}
}

// TestPollerBytesBeforeWatch has the client's message wait in the socket before the
// connection is watched, so that the first readiness comes at once, racing Watch itself.
func TestPollerBytesBeforeWatch(t *testing.T) {
	p := newTestPoller(t)
	sent := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		<-sent
		time.Sleep(10 * time.Millisecond) // for the bytes to cross loopback
		ctx := context.Background()
		if err := p.Watch(c, func() {
			for {
				typ, b, err := c.TryRead(ctx)
				if err != nil {
					return
				}
				_ = c.Write(ctx, typ, b)
			}
		}); err != nil {
			c.CloseNow()
		}
	}))
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx := testCtx(t)
	// One connection stays watched, so that the Poller's goroutine is already waiting when
	// the next is registered, and reports its bytes at once.
	keeper := dial(t, url, nil)
	sent <- struct{}{}
	_ = keeper
	for i := range 50 {
		c := dial(t, url, nil)
		if err := c.Write(ctx, MessageText, []byte("first")); err != nil {
			t.Fatal(err)
		}
		sent <- struct{}{}
		if _, b, err := c.Read(ctx); err != nil || string(b) != "first" {
			t.Fatalf("connection %d: %q %v", i, b, err)
		}
		c.CloseNow()
	}
}

// TestPollerInputWhileLingering sends a message in the moment between the last TryRead of a
// busy connection's run, which found nothing, and the run's wait for more. The runtime's poller
// forgets the readiness it saw before a wait begins, so a wait that did not read first would
// sleep on the message until the sweeper's kick; with a linger of an hour, for good.
func TestPollerInputWhileLingering(t *testing.T) {
	p := newTestPoller(t)
	p.lingerFor = time.Hour // every message after the first is busy; no sweep ends the wait
	held := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		var last string
		err = p.Watch(c, func() {
			for {
				typ, b, err := c.TryRead(context.Background())
				if err == ErrWouldBlock {
					if last == "m2" {
						last = ""
						held <- struct{}{}
						<-release
					}
					return
				}
				if err == nil {
					last = string(b)
					err = c.Write(context.Background(), typ, b)
				}
				if err != nil {
					c.CloseNow()
					return
				}
			}
		})
		if err != nil {
			c.CloseNow()
		}
	}))
	t.Cleanup(srv.Close)

	c, _, err := Dial(testCtx(t), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	echo := func(msg string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, b, err := c.Read(ctx); err != nil || string(b) != msg {
			t.Fatalf("echo of %s: %q, %v", msg, b, err)
		}
	}
	for _, m := range []string{"m1", "m2"} {
		if err := c.Write(testCtx(t), MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		echo(m)
	}
	<-held
	if err := c.Write(testCtx(t), MessageText, []byte("m3")); err != nil {
		t.Fatal(err)
	}
	// Let the bytes arrive and the runtime's poller see them before the run goes on to wait.
	time.Sleep(100 * time.Millisecond)
	close(release)
	echo("m3")
}

// TestPollerWorkersAreBounded runs many connections' ready functions at once, so that the
// Poller needs a worker for each, and checks that once they are done no more than
// pollMaxIdleWorkers of those workers stay to wait for more, and that Close ends them.
func TestPollerWorkersAreBounded(t *testing.T) {
	p, err := NewPoller()
	if errors.Is(err, ErrPollUnsupported) {
		t.Skipf("no Poller on %s", runtime.GOOS)
	}
	if err != nil {
		t.Fatal(err)
	}
	const n = pollMaxIdleWorkers + 36
	var started sync.WaitGroup
	started.Add(n)
	var returned atomic.Int32
	release := make(chan struct{})
	conns := make(chan *Conn, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		conns <- c
		first := true
		err = p.Watch(c, func() {
			defer returned.Add(1)
			for {
				if _, _, err := c.TryRead(context.Background()); err != nil {
					return
				}
				if first {
					first = false
					started.Done()
					<-release // every connection's run holds its worker until all have one
				}
			}
		})
		if err != nil {
			c.CloseNow()
		}
	}))
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	for range n {
		c := dial(t, url, nil)
		defer c.CloseNow()
		if err := c.Write(testCtx(t), MessageText, []byte("hello")); err != nil {
			t.Fatal(err)
		}
	}
	started.Wait() // n workers run at once
	close(release)
	// Each connection's first message is not busy (nothing came before it): each run ends
	// when ready returns, and its worker then waits for another or ends.
	deadline := time.Now().Add(30 * time.Second)
	for returned.Load() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for range 200 {
		if got := p.idleWorkers.Load(); got > pollMaxIdleWorkers {
			t.Fatalf("%d idle workers after %d runs at once, want at most %d", got, n, pollMaxIdleWorkers)
		}
		time.Sleep(time.Millisecond)
	}
	for range n {
		(<-conns).CloseNow()
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for p.idleWorkers.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := p.idleWorkers.Load(); got != 0 {
		t.Fatalf("%d idle workers after Close, want none", got)
	}
}
