package engineio

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// These tests pin the behaviour the Engine.IO v4 protocol test suite checks, on a server with
// its settings (ping 300 ms / 200 ms): what each request gets, to the byte and status code.

func conformanceServer(t *testing.T) string {
	t.Helper()
	hs, _ := echoServer(t, ServerOptions{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
	return hs.URL
}

func pollURL(base, sid string) string {
	return base + "/engine.io/?EIO=4&transport=polling&sid=" + sid
}

func TestConformanceHandshakeErrors(t *testing.T) {
	base := conformanceServer(t)
	for _, q := range []string{"transport=polling", "EIO=abc&transport=polling", "EIO=4", "EIO=4&transport=abc"} {
		if code, _ := get(t, base+"/engine.io/?"+q); code != 400 {
			t.Errorf("GET ?%s: %d, want 400", q, code)
		}
	}
	for _, m := range []string{"POST", "PUT"} {
		req, _ := http.NewRequest(m, base+"/engine.io/?EIO=4&transport=polling", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s handshake: %d, want 400", m, resp.StatusCode)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws := "ws" + strings.TrimPrefix(base, "http") + "/engine.io/?"
	for _, q := range []string{"transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc"} {
		if c, _, err := websocket.Dial(ctx, ws+q, nil); err == nil {
			c.CloseNow()
			t.Errorf("websocket ?%s was accepted", q)
		}
	}
}

func TestConformancePollingMessages(t *testing.T) {
	base := conformanceServer(t)
	for _, body := range []string{"4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA=="} {
		sid := handshakePolling(t, base).SID
		if code, b := post(t, pollURL(base, sid), body); code != 200 || b != "ok" {
			t.Fatalf("POST %q: %d %q", body, code, b)
		}
		if code, b := get(t, pollURL(base, sid)); code != 200 || b != body {
			t.Fatalf("poll after %q: %d %q", body, code, b)
		}
	}
}

func TestConformanceInvalidPacketClosesSession(t *testing.T) {
	base := conformanceServer(t)
	sid := handshakePolling(t, base).SID
	if code, _ := post(t, pollURL(base, sid), "abc"); code != 400 {
		t.Fatalf("POST abc: %d", code)
	}
	if code, _ := get(t, pollURL(base, sid)); code != 400 {
		t.Fatalf("poll after a bad packet: %d, want 400", code)
	}
}

func TestConformanceDuplicatePoll(t *testing.T) {
	base := conformanceServer(t)
	sid := handshakePolling(t, base).SID
	first := make(chan string, 1)
	go func() { _, b := get(t, pollURL(base, sid)); first <- b }()
	waitPollParked(t, base, sid)
	if code, _ := get(t, pollURL(base, sid)+"&t=burst"); code != 400 {
		t.Fatalf("duplicate poll: %d", code)
	}
	if b := <-first; b != "1" {
		t.Fatalf("first poll: %q, want the close packet", b)
	}
	if code, _ := get(t, pollURL(base, sid)); code != 400 {
		t.Fatalf("poll after: %d", code)
	}
}

func TestConformanceCanceledPollClosesSession(t *testing.T) {
	base := conformanceServer(t)
	sid := handshakePolling(t, base).SID
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", pollURL(base, sid), nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	waitPollParked(t, base, sid)
	cancel()
	<-done
	// The server notices the closed request asynchronously.
	for tries := 0; ; tries++ {
		code, _ := get(t, pollURL(base, sid))
		if code == 400 {
			break
		}
		if tries > 100 {
			t.Fatalf("session still open after its poll was canceled: %d", code)
		}
	}
}

func TestConformancePollingHeartbeat(t *testing.T) {
	base := conformanceServer(t)
	sid := handshakePolling(t, base).SID
	for range 3 {
		if code, b := get(t, pollURL(base, sid)); code != 200 || b != "2" {
			t.Fatalf("poll: %d %q, want a ping", code, b)
		}
		if code, _ := post(t, pollURL(base, sid), "3"); code != 200 {
			t.Fatalf("pong: %d", code)
		}
	}
	// "closes the session upon ping timeout": a client that does not poll for PingInterval +
	// PingTimeout gets 400, however late the server's timers run.
	// The session's timer is stopped, as if it ran late, so that only the poll can tell.
	sid = handshakePolling(t, base).SID
	waitSession(t, sid, func(s *Session) bool { s.timer.Stop(); return true })
	time.Sleep(300*time.Millisecond + 200*time.Millisecond)
	if code, b := get(t, pollURL(base, sid)); code != 400 {
		t.Fatalf("poll after the heartbeat lapsed: %d %q, want 400", code, b)
	}

	// Pings left unanswered end the session: polls get pings, a poll waiting at the timeout gets
	// the close packet, and then polls get 400.
	sid = handshakePolling(t, base).SID
	for tries := 0; ; tries++ {
		code, b := get(t, pollURL(base, sid))
		if code == 400 {
			break
		}
		if code != 200 || (b != "2" && b != "1") || tries > 20 {
			t.Fatalf("poll %d without pongs: %d %q", tries, code, b)
		}
	}
}

func TestConformanceClientClosePolling(t *testing.T) {
	base := conformanceServer(t)
	sid := handshakePolling(t, base).SID
	first := make(chan string, 1)
	go func() { _, b := get(t, pollURL(base, sid)); first <- b }()
	waitPollParked(t, base, sid)
	if code, _ := post(t, pollURL(base, sid), "1"); code != 200 {
		t.Fatalf("POST close: %d", code)
	}
	if b := <-first; b != "6" {
		t.Fatalf("pending poll: %q, want a noop", b)
	}
	if code, _ := get(t, pollURL(base, sid)); code != 400 {
		t.Fatalf("poll after close: %d", code)
	}

	// The suite sends the poll and the close at once: a poll that arrives just after the
	// close still gets the noop (and the one after it 400).
	sid = handshakePolling(t, base).SID
	if code, _ := post(t, pollURL(base, sid), "1"); code != 200 {
		t.Fatalf("POST close: %d", code)
	}
	if code, b := get(t, pollURL(base, sid)); code != 200 || b != "6" {
		t.Fatalf("poll right after the close: %d %q, want a noop", code, b)
	}
	if code, _ := get(t, pollURL(base, sid)); code != 400 {
		t.Fatalf("second poll after close: %d", code)
	}
}

func TestConformanceWebSocket(t *testing.T) {
	base := conformanceServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(base, "http") + "/engine.io/?EIO=4&transport=websocket"
	open := func() *websocket.Conn {
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		if _, b, err := c.Read(ctx); err != nil || b[0] != '0' {
			t.Fatalf("open packet %q %v", b, err)
		}
		return c
	}
	// Pings every 300 ms, answered.
	c := open()
	for range 3 {
		if _, b, err := c.Read(ctx); err != nil || string(b) != "2" {
			t.Fatalf("want a ping: %q %v", b, err)
		}
		_ = c.Write(ctx, websocket.MessageText, []byte("3"))
	}
	// Unanswered pings end the connection.
	c = open()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			break
		}
	}
	// A close packet, and an invalid packet, end the connection.
	for _, msg := range []string{"1", "abc"} {
		c = open()
		_ = c.Write(ctx, websocket.MessageText, []byte(msg))
		for {
			if _, _, err := c.Read(ctx); err != nil {
				break
			}
		}
	}
}

func TestConformanceUpgrade(t *testing.T) {
	base := conformanceServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := func(sid string) string {
		return "ws" + strings.TrimPrefix(base, "http") + "/engine.io/?EIO=4&transport=websocket&sid=" + sid
	}
	upgrade := func(sid string, pollBetween bool) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, wsURL(sid), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		_ = c.Write(ctx, websocket.MessageText, []byte("2probe"))
		if _, b, err := c.Read(ctx); err != nil || string(b) != "3probe" {
			t.Fatalf("probe: %q %v", b, err)
		}
		if pollBetween {
			if code, b := get(t, pollURL(base, sid)); code != 200 || b != "6" {
				t.Fatalf("poll during the upgrade: %d %q, want a noop", code, b)
			}
		}
		_ = c.Write(ctx, websocket.MessageText, []byte("5"))
		return c
	}
	echoed := func(c *websocket.Conn) {
		_ = c.Write(ctx, websocket.MessageText, []byte("4hello"))
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			switch string(b) {
			case "2":
				_ = c.Write(ctx, websocket.MessageText, []byte("3"))
			case "4hello":
				return
			default:
				t.Fatalf("got %q", b)
			}
		}
	}
	echoed(upgrade(handshakePolling(t, base).SID, true))

	// "ignores HTTP requests with same sid after upgrade": a poll right after the upgrade
	// packet gets 400, though the server may read it before the WebSocket's packets.
	sid := handshakePolling(t, base).SID
	c := upgrade(sid, false)
	if code, _ := get(t, pollURL(base, sid)); code != 400 {
		t.Fatalf("poll after the upgrade: %d", code)
	}
	echoed(c)

	// The case the race above comes down to: a poll the server holds when the probe and the
	// upgrade packet arrive back to back is refused too, not released with a noop.
	sid = handshakePolling(t, base).SID
	held := make(chan int, 1)
	go func() {
		code, _ := get(t, pollURL(base, sid))
		held <- code
	}()
	waitPollParked(t, base, sid)
	c, _, err := websocket.Dial(ctx, wsURL(sid), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_ = c.Write(ctx, websocket.MessageText, []byte("2probe"))
	_ = c.Write(ctx, websocket.MessageText, []byte("5"))
	if _, b, err := c.Read(ctx); err != nil || string(b) != "3probe" {
		t.Fatalf("probe: %q %v", b, err)
	}
	if code := <-held; code != 400 {
		t.Fatalf("poll held across the upgrade: %d, want 400", code)
	}
	echoed(c)

	// "ignores WebSocket connection with same sid after upgrade": the second WebSocket opens
	// and is closed by the server at once; the first goes on. As in the suite, the second comes
	// right after the upgrade packet, so it may meet the upgrade still under way or done.
	for _, wait := range []bool{false, true} {
		sid := handshakePolling(t, base).SID
		c := upgrade(sid, false)
		if wait {
			waitSessionTransport(t, base, sid, TransportWebSocket)
		}
		c2, _, err := websocket.Dial(ctx, wsURL(sid), nil)
		if err != nil {
			t.Fatalf("a second WebSocket for the session (upgrade done: %v): %v, want it opened then closed", wait, err)
		}
		var ce *websocket.CloseError
		if _, b, err := c2.Read(ctx); !errors.As(err, &ce) {
			t.Fatalf("second WebSocket (upgrade done: %v): read %q, %v; want the server's close", wait, b, err)
		}
		c2.CloseNow()
		echoed(c)
	}
}

// waitPollParked waits until a GET is waiting on the session.
func waitPollParked(t *testing.T, base, sid string) {
	t.Helper()
	waitSession(t, sid, func(s *Session) bool { return s.getActive })
}

// waitSessionTransport waits until the session uses the transport.
func waitSessionTransport(t *testing.T, base, sid, transport string) {
	t.Helper()
	waitSession(t, sid, func(s *Session) bool { return s.transport == transport })
}

var (
	serversMu sync.Mutex
	servers   []*Server
)

func waitSession(t *testing.T, sid string, cond func(*Session) bool) {
	t.Helper()
	for tries := 0; tries < 5000; tries++ {
		serversMu.Lock()
		list := append([]*Server(nil), servers...)
		serversMu.Unlock()
		for _, srv := range list {
			if s := srv.session(sid); s != nil {
				s.mu.Lock()
				ok := cond(s)
				s.mu.Unlock()
				if ok {
					return
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("session %s never reached the expected state", sid)
}
