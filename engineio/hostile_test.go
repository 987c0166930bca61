//go:build unix

package engineio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// stalledWebSocket opens an Engine.IO WebSocket session from a client with a small receive
// buffer that reads the handshake response and the open packet, then nothing more.
func stalledWebSocket(t *testing.T, base string) net.Conn {
	t.Helper()
	d := smallBufferDialer()
	addr := strings.TrimPrefix(base, "http://")
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var head []byte
	one := make([]byte, 1)
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if _, err := nc.Read(one); err != nil {
			t.Fatalf("handshake response: %v", err)
		}
		head = append(head, one[0])
	}
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
		t.Fatalf("handshake: %q", head)
	}
	// The open packet: a short unmasked text frame.
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(nc, hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(nc, make([]byte, hdr[1]&0x7f)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Time{})
	return nc
}

// waitReason waits for the session's close reason and checks it.
func waitReason(t *testing.T, reasons <-chan CloseReason, want CloseReason, what string) {
	t.Helper()
	select {
	case r := <-reasons:
		if r != want {
			t.Fatalf("reason %q, want %q", r, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal(what)
	}
}

// smallBufferDialer dials with a 4 KiB receive buffer: a client whose reads stop soon fills it.
func smallBufferDialer() *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
}

// waitPeerGone reads (and discards) what the server sent until the connection ends, and fails
// the test if it is still open after the bound.
func waitPeerGone(t *testing.T, nc net.Conn, bound time.Duration) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(bound))
	buf := make([]byte, 64<<10)
	for {
		if _, err := nc.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server still holds the connection %v after the session ended", bound)
			}
			return
		}
	}
}

// TestSlowReaderIsReleased: a WebSocket client that stops reading is dropped by the queue's
// bound, and its connection is closed within a bounded time although the client keeps it open.
func TestSlowReaderIsReleased(t *testing.T) {
	opened := make(chan *Session, 1)
	reasons := make(chan CloseReason, 1)
	srv := NewServer(&ServerOptions{
		PingInterval:   time.Minute, // only the queue's bound may end the session
		SendQueueBytes: 1 << 20,
		WriteTimeout:   time.Hour, // and only the close's own bound may end the stuck write
		OnOpen:         func(s *Session) { opened <- s },
		OnClose:        func(s *Session, r CloseReason, _ error) { reasons <- r },
	})
	hs := newTestHTTP(t, srv)
	nc := stalledWebSocket(t, hs.URL)
	s := <-opened
	m := NewPreparedMessage(bytes.Repeat([]byte("x"), 64<<10), false)
	var err error
	for i := 0; err == nil; i++ {
		if i == 10_000 { // 640 MiB
			t.Fatal("the queue never filled up")
		}
		err = s.Send(m)
	}
	if err != CloseSendQueueFull {
		t.Fatalf("Send: %v, want CloseSendQueueFull", err)
	}
	waitReason(t, reasons, CloseSendQueueFull, "OnClose never called")
	waitPeerGone(t, nc, 30*time.Second)
	// And the server forgot the session.
	deadline := time.Now().Add(30 * time.Second)
	for srv.session(s.ID()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the session is still registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSlowClientsAreLoggedOnce: dropping clients that do not read is the server's policy at
// work, said at warning level, once for many clients.
func TestSlowClientsAreLoggedOnce(t *testing.T) {
	var logged syncBuffer
	opened := make(chan *Session, 3)
	srv := NewServer(&ServerOptions{
		PingInterval:   time.Minute,
		SendQueueBytes: 256 << 10,
		Logger:         slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnOpen:         func(s *Session) { opened <- s },
	})
	hs := newTestHTTP(t, srv)
	m := NewPreparedMessage(bytes.Repeat([]byte("x"), 64<<10), false)
	for range 3 {
		stalledWebSocket(t, hs.URL)
		s := <-opened
		for i := 0; s.Send(m) == nil; i++ {
			if i == 10_000 {
				t.Fatal("the queue never filled up")
			}
		}
	}
	out := logged.String()
	if n := strings.Count(out, "not reading"); n != 1 {
		t.Fatalf("%d lines for 3 slow clients, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, `reason="send queue full"`) {
		t.Fatalf("the line does not say what happened:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger writing from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSendQueueBytesBound: the queue is bounded in bytes as well as in packets, and a message
// larger than the bound still goes to a client with nothing waiting.
func TestSendQueueBytesBound(t *testing.T) {
	_, _, s := pollingSessionWithQueueBytes(t, 10_000)
	if err := s.Send(NewPreparedMessage(make([]byte, 50_000), true)); err != nil {
		t.Fatalf("a large message to an empty queue: %v", err)
	}
	if err := s.Send(NewPreparedMessage(make([]byte, 10), true)); err != CloseSendQueueFull {
		t.Fatalf("behind 50,000 bytes: %v, want CloseSendQueueFull", err)
	}
}

// pollingSessionWithQueueBytes opens a polling session on a server whose send queue holds
// queueBytes, and returns the server's URL, the session id and the server's Session.
func pollingSessionWithQueueBytes(t *testing.T, queueBytes int) (string, string, *Session) {
	t.Helper()
	opened := make(chan *Session, 1)
	srv := NewServer(&ServerOptions{
		SendQueueBytes: queueBytes,
		PingInterval:   time.Minute,
		OnOpen:         func(s *Session) { opened <- s },
	})
	hs := newTestHTTP(t, srv)
	sid := handshakePolling(t, hs.URL).SID
	return hs.URL, sid, <-opened
}

func TestSendQueueBytesCountsPolls(t *testing.T) {
	base, sid, s := pollingSessionWithQueueBytes(t, 10_000)
	// What a poll took no longer counts: 9,000 bytes five times over, polled each time.
	for i := range 5 {
		if err := s.Send(NewPreparedMessage(make([]byte, 4_500), true), NewPreparedMessage(make([]byte, 4_500), true)); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if code, body := get(t, base+"/engine.io/?EIO=4&transport=polling&sid="+sid); code != 200 || body[0] != 'b' {
			t.Fatalf("poll: %d %.20q", code, body)
		}
	}
}

// TestPollingTextIsMadeValidUTF8: invalid UTF-8 posted over polling reaches the server, and
// through it any WebSocket client, with U+FFFD in place of each ill-formed sequence.
func TestPollingTextIsMadeValidUTF8(t *testing.T) {
	hs, _ := echoServer(t, ServerOptions{PingInterval: time.Minute})
	sid := handshakePolling(t, hs.URL).SID
	url := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + sid
	if code, body := post(t, url, "4ok \xff\xfe \xe2\x82 end\x1e4fine"); code != 200 {
		t.Fatalf("post: %d %q", code, body)
	}
	_, body := get(t, url)
	if want := "4ok \uFFFD\uFFFD \uFFFD end\x1e4fine"; body != want {
		t.Fatalf("echo %q, want %q", body, want)
	}
}

func TestNewMessageMakesTextValid(t *testing.T) {
	m := NewPreparedMessage([]byte("a\xffb"), false)
	if got := string(m.pollingText()); got != "4a\uFFFDb" {
		t.Fatalf("polling form %q", got)
	}
	if m.prepared() == nil {
		t.Fatal("no WebSocket form")
	}
	if b := NewPreparedMessage([]byte("a\xffb"), true); !bytes.Equal(b.data, []byte("a\xffb")) {
		t.Fatal("binary data changed")
	}
	f := NewPreparedMessageFunc(1, func(dst []byte) []byte { return append(dst, "x\xe2\x82y"...) }, false, true)
	if got := string(f.pollingText()); got != "4x\uFFFDy" || !f.uncompressed {
		t.Fatalf("NewPreparedMessageFunc: %q", got)
	}
	if f.prepared() == nil || f.size() != len("x\uFFFDy") {
		t.Fatalf("NewPreparedMessageFunc: size %d", f.size())
	}
	if b := NewPreparedMessageFunc(0, func(dst []byte) []byte { return append(dst, 0xff) }, true, false); string(b.pollingText()) != "b/w==" {
		t.Fatalf("binary NewPreparedMessageFunc: %q", b.pollingText())
	}
}

// TestSlowPostBodyIsCut: a POST body trickling in is answered 408 once BodyTimeout passes.
func TestSlowPostBodyIsCut(t *testing.T) {
	srv := NewServer(&ServerOptions{PingInterval: time.Minute, BodyTimeout: 300 * time.Millisecond})
	hs := newTestHTTP(t, srv)
	sid := handshakePolling(t, hs.URL).SID
	nc, err := net.Dial("tcp", strings.TrimPrefix(hs.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "POST /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n4", sid)
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			close(answered)
			return
		}
		answered <- resp
	}()
	// A byte now and then, for far longer than the timeout; the answer must come meanwhile.
	for range 100 {
		select {
		case resp, ok := <-answered:
			if !ok {
				t.Fatal("the connection ended without an answer")
			}
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("status %d, want 408", resp.StatusCode)
			}
			return
		case <-time.After(200 * time.Millisecond):
			_, _ = nc.Write([]byte("x"))
		}
	}
	t.Fatal("a body trickling in for 20 s was still being read")
}

// TestHandshakeHeaderBound: a session keeps its handshake's header, so a large one is refused.
func TestHandshakeHeaderBound(t *testing.T) {
	srv := NewServer(&ServerOptions{MaxHeaderBytes: 4096})
	hs := newTestHTTP(t, srv)
	for _, transport := range []string{"polling", "websocket"} {
		req, _ := http.NewRequest("GET", hs.URL+"/engine.io/?EIO=4&transport="+transport, nil)
		req.Header.Set("X-Padding", strings.Repeat("p", 5000))
		if transport == "websocket" {
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%s: status %d, want 431", transport, resp.StatusCode)
		}
	}
	handshakePolling(t, hs.URL) // an ordinary one still works
}

// TestAllowedHosts refuses a request whose Host is not listed, on both transports.
func TestAllowedHosts(t *testing.T) {
	srv := NewServer(&ServerOptions{AllowedHosts: []string{"127.0.0.1"}})
	hs := newTestHTTP(t, srv)
	handshakePolling(t, hs.URL) // Host: 127.0.0.1:PORT
	req, _ := http.NewRequest("GET", hs.URL+"/engine.io/?EIO=4&transport=polling", nil)
	req.Host = "rebound.attacker.example"
	req.Header.Set("Origin", "http://rebound.attacker.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err = websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/engine.io/?EIO=4&transport=websocket",
		&websocket.DialOptions{Header: http.Header{"Host": {"rebound.attacker.example"}}})
	var he *websocket.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden {
		t.Fatalf("websocket: %v, want 403", err)
	}
}

// TestClientClosePacketClosesWebSocketCleanly: after the client's close packet the server
// ends the WebSocket with a close frame, not by dropping TCP.
func TestClientClosePacketClosesWebSocketCleanly(t *testing.T) {
	hs, reasons := echoServer(t, ServerOptions{PingInterval: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/engine.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, _, err := c.Read(ctx); err != nil { // open
		t.Fatal(err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("1")); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	if code := websocket.CloseStatus(err); code != websocket.StatusNormalClosure {
		t.Fatalf("read after the close packet: %v, want a 1000 close frame", err)
	}
	if r := <-reasons; r != CloseTransportClose {
		t.Fatalf("reason %q", r)
	}
}

// TestShutdownWithStalledClient: a client that does not read does not hold up Shutdown.
func TestShutdownWithStalledClient(t *testing.T) {
	opened := make(chan *Session, 1)
	srv := NewServer(&ServerOptions{
		PingInterval: time.Minute,
		WriteTimeout: time.Hour,
		OnOpen:       func(s *Session) { opened <- s },
	})
	hs := newTestHTTP(t, srv)
	nc := stalledWebSocket(t, hs.URL)
	s := <-opened
	m := NewPreparedMessage(bytes.Repeat([]byte("x"), 64<<10), false)
	// Fill the socket until the writer goroutine is stuck, well short of the queue's bound.
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		stuck := s.flushing && len(s.queue) > 0
		s.mu.Unlock()
		if stuck {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer never got stuck")
		}
		if err := s.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	waitPeerGone(t, nc, 10*time.Second)
}

// TestStalledPollIsCut: a long-polling client that stops reading its response does not hold
// the request, its connection and the payload beyond WriteTimeout.
func TestStalledPollIsCut(t *testing.T) {
	opened := make(chan *Session, 1)
	reasons := make(chan CloseReason, 1)
	srv := NewServer(&ServerOptions{
		PingInterval: time.Minute,
		WriteTimeout: 300 * time.Millisecond,
		// More than the kernel's socket buffers hold (tcp_wmem's largest is 4 MiB by default).
		MaxPayload:     32 << 20,
		SendQueueBytes: 32 << 20,
		OnOpen:         func(s *Session) { opened <- s },
		OnClose:        func(s *Session, r CloseReason, _ error) { reasons <- r },
	})
	hs := newTestHTTP(t, srv)
	sid := handshakePolling(t, hs.URL).SID
	s := <-opened
	if err := s.Send(NewPreparedMessage(make([]byte, 24<<20), false)); err != nil {
		t.Fatal(err)
	}
	d := smallBufferDialer()
	nc, err := d.Dial("tcp", strings.TrimPrefix(hs.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "GET /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n\r\n", sid)
	waitReason(t, reasons, CloseTransportError, "the stalled poll still holds the session")
	// The server gave up on the answer: draining it ends in the connection's end, not in a
	// whole response followed by a kept-alive connection.
	waitPeerGone(t, nc, 10*time.Second)
}
