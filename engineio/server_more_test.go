package engineio

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

func TestCORS(t *testing.T) {
	hs, _ := echoServer(t, ServerOptions{CORS: &CORSOptions{
		Origins: []string{"https://app.example"}, Credentials: true, MaxAge: time.Hour,
	}})
	req, _ := http.NewRequest("OPTIONS", hs.URL+"/engine.io/?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		h.Get("Access-Control-Max-Age") != "3600" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, h)
	}
	// A refused origin gets no session.
	req, _ = http.NewRequest("GET", hs.URL+"/engine.io/?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("refused origin: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestServerCloseReachesPollingClient: Session.Close lets the queued messages go to the next
// poll and the close packet to the one after, never in the same payload (socket.io-client
// would act on the close first and count the messages as missed).
func TestServerCloseReachesPollingClient(t *testing.T) {
	opened := make(chan *Session, 1)
	reasons := make(chan CloseReason, 1)
	srv := NewServer(&ServerOptions{
		OnOpen:  func(s *Session) { opened <- s },
		OnClose: func(s *Session, r CloseReason, _ error) { reasons <- r },
	})
	hs := newTestHTTP(t, srv)
	o := handshakePolling(t, hs.URL)
	s := <-opened
	_ = s.Send(NewPreparedMessage([]byte("last words"), false))
	s.Close()
	url := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + o.SID
	for i, want := range []string{"4last words", "1"} {
		if _, body := get(t, url); body != want {
			t.Fatalf("poll %d after close: %q, want %q", i+1, body, want)
		}
	}
	if r := <-reasons; r != CloseServerClose {
		t.Fatalf("reason %q", r)
	}
	if err := s.Send(NewPreparedMessage([]byte("too late"), false)); err != CloseServerClose {
		t.Fatalf("send after close: %v", err)
	}
}

func TestOverlappingPollsCloseSession(t *testing.T) {
	hs, reasons := echoServer(t, ServerOptions{PingInterval: time.Minute})
	o := handshakePolling(t, hs.URL)
	url := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + o.SID
	first := make(chan string, 1)
	go func() { _, b := get(t, url); first <- b }()
	sess := hs.Config.Handler.(*Server).session(o.SID)
	for parked, tries := false, 0; !parked; tries++ {
		if tries > 5000 {
			t.Fatal("first GET never parked")
		}
		sess.mu.Lock()
		parked = sess.getActive
		sess.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	if code, _ := get(t, url); code != 400 {
		t.Fatalf("second GET: %d", code)
	}
	if r := <-reasons; r != CloseTransportError {
		t.Fatalf("reason %q", r)
	}
	if b := <-first; b != "1" {
		t.Fatalf("first poll got %q", b)
	}
}

// TestSendQueuePolicy: a client that never polls is dropped once its queue is full, and
// volatile messages are dropped rather than queued while it is behind.
func TestSendQueuePolicy(t *testing.T) {
	opened := make(chan *Session, 1)
	reasons := make(chan CloseReason, 1)
	srv := NewServer(&ServerOptions{
		SendQueueSize: 10,
		PingInterval:  time.Minute,
		OnOpen:        func(s *Session) { opened <- s },
		OnClose:       func(s *Session, r CloseReason, _ error) { reasons <- r },
	})
	hs := newTestHTTP(t, srv)
	handshakePolling(t, hs.URL)
	s := <-opened
	m := NewPreparedMessage([]byte("x"), false)
	for range 5 {
		if err := s.SendVolatile(m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		if err := s.Send(m); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	s.mu.Lock()
	queued := len(s.queue)
	s.mu.Unlock()
	if queued != 10 {
		t.Fatalf("%d queued: volatile messages were queued", queued)
	}
	if err := s.Send(m); err != CloseSendQueueFull {
		t.Fatalf("send over the limit: %v", err)
	}
	if r := <-reasons; r != CloseSendQueueFull {
		t.Fatalf("reason %q", r)
	}
}

// TestShutdown closes sessions on both transports and waits for them.
func TestShutdown(t *testing.T) {
	reasons := make(chan CloseReason, 4)
	srv := NewServer(&ServerOptions{OnClose: func(s *Session, r CloseReason, _ error) { reasons <- r }})
	hs := newTestHTTP(t, srv)
	handshakePolling(t, hs.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/engine.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, _, err := c.Read(ctx); err != nil { // the open packet
		t.Fatal(err)
	}
	clientSaw := make(chan string, 1)
	go func() {
		_, b, _ := c.Read(ctx)
		clientSaw <- string(b)
		_, _, _ = c.Read(ctx) // the close handshake
	}()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if r := <-reasons; r != CloseServerShutdown {
			t.Fatalf("reason %q", r)
		}
	}
	if b := <-clientSaw; b != "1" {
		t.Fatalf("websocket client got %q, want the close packet", b)
	}
	if code, _ := get(t, hs.URL+"/engine.io/?EIO=4&transport=polling"); code != http.StatusServiceUnavailable {
		t.Fatalf("handshake after shutdown: %d", code)
	}
}

// TestManySessionsConcurrently connects, upgrades, talks and closes many sessions at once.
func TestManySessionsConcurrently(t *testing.T) {
	hs, _ := echoServer(t, ServerOptions{PingInterval: 30 * time.Millisecond, PingTimeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := upgradeAndEcho(ctx, hs.URL, fmt.Sprint("client ", i)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// upgradeAndEcho runs a minimal client: polling handshake, upgrade, one echo, close.
func upgradeAndEcho(ctx context.Context, base, msg string) error {
	resp, err := http.Get(base + "/engine.io/?EIO=4&transport=polling")
	if err != nil {
		return err
	}
	var b strings.Builder
	_, _ = fmt.Fprint(&b, "")
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	resp.Body.Close()
	body := string(buf[:n])
	i := strings.Index(body, `"sid":"`)
	if i < 0 {
		return fmt.Errorf("handshake %q", body)
	}
	sid := body[i+7 : i+27]
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/engine.io/?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		return err
	}
	defer ws.CloseNow()
	_ = ws.Write(ctx, websocket.MessageText, []byte("2probe"))
	for {
		_, p, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		if string(p) == "3probe" {
			break
		}
	}
	_ = ws.Write(ctx, websocket.MessageText, []byte("5"))
	_ = ws.Write(ctx, websocket.MessageText, []byte("4"+msg))
	for {
		_, p, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		switch string(p) {
		case "2":
			_ = ws.Write(ctx, websocket.MessageText, []byte("3"))
		case "4" + msg:
			_ = ws.Write(ctx, websocket.MessageText, []byte("1"))
			return nil
		case "6":
		default:
			return fmt.Errorf("%s: unexpected %q", msg, p)
		}
	}
}

func newTestHTTP(t *testing.T, srv *Server) *httptestServer {
	t.Helper()
	hs := newHTTPTest(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return hs
}

// TestPollBatchBound: one poll carries at most maxBatch packets; the rest wait for the next.
func TestPollBatchBound(t *testing.T) {
	opened := make(chan *Session, 1)
	srv := NewServer(&ServerOptions{PingInterval: time.Minute, OnOpen: func(s *Session) { opened <- s }})
	hs := newTestHTTP(t, srv)
	o := handshakePolling(t, hs.URL)
	s := <-opened
	for i := range 40 {
		_ = s.Send(NewPreparedMessage([]byte(fmt.Sprint(i)), false))
	}
	url := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + o.SID
	var counts []int
	for range 3 {
		_, body := get(t, url)
		counts = append(counts, len(strings.Split(body, "\x1e")))
	}
	if fmt.Sprint(counts) != "[16 16 8]" {
		t.Fatalf("batches of %v packets", counts)
	}
}

// TestOverlappingPostsCloseSession: a second POST while one is being read is refused.
func TestOverlappingPostsCloseSession(t *testing.T) {
	hs, reasons := echoServer(t, ServerOptions{PingInterval: time.Minute})
	o := handshakePolling(t, hs.URL)
	url := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + o.SID
	// A POST whose body never ends keeps the first request open.
	pr, pw := io.Pipe()
	first := make(chan int, 1)
	go func() {
		resp, err := http.Post(url, "text/plain", pr)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	_, _ = pw.Write([]byte("4partial"))
	sess := hs.Config.Handler.(*Server).session(o.SID)
	for active, tries := false, 0; !active; tries++ {
		if tries > 5000 {
			t.Fatal("first POST never started")
		}
		sess.mu.Lock()
		active = sess.postActive
		sess.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	if code, _ := post(t, url, "4second"); code != 400 {
		t.Fatalf("second POST: %d", code)
	}
	if r := <-reasons; r != CloseTransportError {
		t.Fatalf("reason %q", r)
	}
	pw.Close()
	<-first
}

// TestUpgradeTimeout: a WebSocket that never sends the probe is dropped after UpgradeTimeout,
// and the session goes on over polling.
func TestUpgradeTimeout(t *testing.T) {
	hs, _ := echoServer(t, ServerOptions{UpgradeTimeout: 50 * time.Millisecond, PingInterval: time.Minute})
	o := handshakePolling(t, hs.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/engine.io/?EIO=4&transport=websocket&sid="+o.SID, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, _, err := ws.Read(ctx); err == nil {
		t.Fatal("the silent upgrade was not dropped")
	}
	url := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + o.SID
	if code, body := post(t, url, "4still polling"); code != 200 || body != "ok" {
		t.Fatalf("post: %d %q", code, body)
	}
	if _, body := get(t, url); body != "4still polling" {
		t.Fatalf("poll: %q", body)
	}
}

// A server that holds up its reader to push back on a client must not then blame the client
// for the pong stuck behind what it is not reading.
func TestSlowDeliveryIsNotAPingTimeout(t *testing.T) {
	release := make(chan struct{})
	reasons := make(chan CloseReason, 1)
	srv := NewServer(&ServerOptions{
		// Short beats, but with room for a busy machine: the POST is held for six times
		// what a client that does not answer has before its ping timeout.
		PingInterval: 50 * time.Millisecond,
		PingTimeout:  200 * time.Millisecond,
		OnMessage: func(s *Session, m Message) {
			if string(m.Data) == "slow" {
				<-release
			}
			_ = s.Send(NewPreparedMessage(m.Data, m.Binary))
		},
		OnClose: func(s *Session, r CloseReason, _ error) { reasons <- r },
	})
	hs := newTestHTTP(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, hs.URL, &DialOptions{Transports: []string{TransportPolling}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(ctx, []byte("slow"), false); err != nil {
		t.Fatal(err)
	}
	// Hold the POST for many ping periods: the client cannot answer pings meanwhile.
	time.AfterFunc(1500*time.Millisecond, func() { close(release) })
	for _, want := range []string{"slow"} {
		m, err := c.Read(ctx)
		if err != nil || string(m.Data) != want {
			t.Fatalf("read %q, %v; want %q", m.Data, err, want)
		}
	}
	select {
	case r := <-reasons:
		t.Fatalf("session closed: %s", r)
	default:
	}
}

// TestPingGoesAheadOfBacklog: a ping is the next packet a client gets, whatever is waiting. A
// polling client takes 16 packets per request, so a ping behind a backlog of a thousand
// would reach it long after its timeout had started (socket.io-client's burst of 500
// events with acks, on a busy machine).
func TestPingGoesAheadOfBacklog(t *testing.T) {
	opened := make(chan *Session, 1)
	srv := NewServer(&ServerOptions{
		PingInterval: 20 * time.Millisecond,
		PingTimeout:  time.Minute,
		OnOpen:       func(s *Session) { opened <- s },
	})
	hs := newTestHTTP(t, srv)
	o := handshakePolling(t, hs.URL)
	s := <-opened
	for i := range 40 {
		_ = s.Send(NewPreparedMessage([]byte(fmt.Sprint(i)), false))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		pinged := s.awaitingPong
		s.mu.Unlock()
		if pinged {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no ping within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, body := get(t, hs.URL+"/engine.io/?EIO=4&transport=polling&sid="+o.SID)
	if got := strings.Split(body, "\x1e"); got[0] != "2" || got[1] != "40" {
		t.Fatalf("poll after the ping starts %q, want the ping then message 0", got[:2])
	}
}

// TestTrafficWhileAwaitingPong follows Node's engine.io: the first packet other than a pong
// that arrives while the server waits for a pong restarts the ping timeout, once per ping.
// The timings leave a second or more of slack on each side for a busy machine.
func TestTrafficWhileAwaitingPong(t *testing.T) {
	// awaitPing polls until the ping arrives, and returns when it did.
	awaitPing := func(t *testing.T, url string) time.Time {
		for range 1000 {
			code, body := get(t, url)
			if code != 200 {
				t.Fatalf("poll: %d %q", code, body)
			}
			if slices.Contains(strings.Split(body, "\x1e"), "2") {
				return time.Now()
			}
		}
		t.Fatal("no ping")
		return time.Time{}
	}
	opts := ServerOptions{PingInterval: 50 * time.Millisecond, PingTimeout: 3 * time.Second}

	t.Run("refreshes", func(t *testing.T) {
		t.Parallel()
		hs, reasons := echoServer(t, opts)
		url := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + handshakePolling(t, hs.URL).SID
		pinged := awaitPing(t, url)
		// The message arrives well within the first timeout and restarts it; the pong comes
		// after the first timeout would have ended.
		time.Sleep(time.Until(pinged.Add(time.Second)))
		if code, _ := post(t, url, "4alive"); code != 200 {
			t.Fatalf("message: %d", code)
		}
		time.Sleep(time.Until(pinged.Add(3200 * time.Millisecond)))
		if code, body := post(t, url, "3"); code != 200 {
			t.Fatalf("pong after a refreshed timeout: %d %q", code, body)
		}
		select {
		case r := <-reasons:
			t.Fatalf("session closed: %s", r)
		default:
		}
	})

	t.Run("once per ping", func(t *testing.T) {
		t.Parallel()
		hs, reasons := echoServer(t, opts)
		url := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + handshakePolling(t, hs.URL).SID
		awaitPing(t, url)
		// A client that keeps sending but never answers the ping is still timed out.
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for range 40 {
			select {
			case r := <-reasons:
				if r != ClosePingTimeout {
					t.Fatalf("reason %q", r)
				}
				return
			case <-tick.C:
				post(t, url, "4busy")
			}
		}
		t.Fatal("still open after 20 s of messages without a pong")
	})
}
