package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/testenv"
	"github.com/tether-rt/tether/websocket"
)

// startEcho runs an echo server on a free loopback port until the test ends
// and returns its address.
func startEcho(t *testing.T, cfg echoConfig) string {
	t.Helper()
	if cfg.readLimit == 0 {
		cfg.readLimit = defaultReadLimit
	}
	return testenv.Serve(t, newEchoServer(cfg).serve)
}

// testCtx bounds one step of a test; it is canceled when the test ends, too.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, url string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(testCtx(t), url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// roundTrip sends one message and returns the reply.
func roundTrip(t *testing.T, c *websocket.Conn, typ websocket.MessageType, msg []byte) (websocket.MessageType, []byte) {
	t.Helper()
	ctx := testCtx(t)
	if err := c.Write(ctx, typ, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	rtyp, reply, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return rtyp, reply
}

func TestEchoMessages(t *testing.T) {
	addr := startEcho(t, echoConfig{})
	big := bytes.Repeat([]byte("0123456789"), 100_000) // 1,000,000 bytes
	tests := []struct {
		name string
		typ  websocket.MessageType
		msg  []byte
	}{
		{"text", websocket.MessageText, []byte("Hello, Server!")},
		{"empty text", websocket.MessageText, nil},
		{"utf8 text", websocket.MessageText, []byte("héllo, wörld ✓")},
		{"binary", websocket.MessageBinary, []byte{0, 1, 2, 0xff, 0xfe}},
		{"1,000,000 text", websocket.MessageText, big},
		{"1,000,000 binary", websocket.MessageBinary, big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Any path is accepted.
			c := dial(t, "ws://"+addr+"/any/path?q=1", nil)
			typ, reply := roundTrip(t, c, tt.typ, tt.msg)
			if typ != tt.typ {
				t.Errorf("type = %v, want %v", typ, tt.typ)
			}
			want := append([]byte("Echo: "), tt.msg...)
			if !bytes.Equal(reply, want) {
				t.Errorf("reply = %.40q (%d bytes), want %.40q (%d bytes)", reply, len(reply), want, len(want))
			}
			if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}

func TestEchoOrder(t *testing.T) {
	addr := startEcho(t, echoConfig{})
	c := dial(t, "ws://"+addr, nil)
	ctx := testCtx(t)
	const n = 200
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			if err := c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, "m%d", i)); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := range n {
		_, reply, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if want := fmt.Sprintf("Echo: m%d", i); string(reply) != want {
			t.Fatalf("reply %d = %q, want %q", i, reply, want)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestEchoFragmented(t *testing.T) {
	addr := startEcho(t, echoConfig{})
	c := dial(t, "ws://"+addr, nil)
	ctx := testCtx(t)
	w, err := c.Writer(ctx, websocket.MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	var sent []byte
	for i := range 5 {
		part := bytes.Repeat([]byte{byte('a' + i)}, 50_000)
		sent = append(sent, part...)
		if _, err := w.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	typ, reply, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if typ != websocket.MessageBinary || !bytes.Equal(reply, append([]byte("Echo: "), sent...)) {
		t.Fatalf("got %v reply of %d bytes, want binary of %d", typ, len(reply), len(sent)+6)
	}
}

// TestEchoFragmentedRaw checks that a message split into explicit frames,
// with a ping in between, comes back as one message.
func TestEchoFragmentedRaw(t *testing.T) {
	addr := startEcho(t, echoConfig{})
	rc := rawDial(t, addr, "/")
	rc.writeFrame(false, opText, []byte("Hel"))
	rc.writeFrame(true, opPing, []byte("mid"))
	rc.writeFrame(false, 0, []byte("lo, "))
	rc.writeFrame(true, 0, []byte("Server!"))
	if _, op, p := rc.readFrame(); op != opPong || string(p) != "mid" {
		t.Fatalf("got op %#x %q, want pong %q", op, p, "mid")
	}
	var msg []byte
	for {
		fin, op, p := rc.readFrame()
		if len(msg) == 0 && op != opText {
			t.Fatalf("first frame op = %#x, want text", op)
		}
		msg = append(msg, p...)
		if fin {
			break
		}
	}
	if string(msg) != "Echo: Hello, Server!" {
		t.Fatalf("reply = %q", msg)
	}
}

func TestEchoPing(t *testing.T) {
	addr := startEcho(t, echoConfig{})
	c := dial(t, "ws://"+addr, nil)
	ctx := testCtx(t)
	// Ping needs a reader to see the pong.
	readDone := make(chan error, 1)
	go func() {
		_, _, err := c.Read(ctx)
		readDone <- err
	}()
	for range 3 {
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("ping: %v", err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	<-readDone

	rc := rawDial(t, addr, "/")
	rc.writeFrame(true, opPing, []byte("payload-123"))
	if _, op, p := rc.readFrame(); op != opPong || string(p) != "payload-123" {
		t.Fatalf("got op %#x %q, want pong with the ping's payload", op, p)
	}
}

func TestEchoCloseCode(t *testing.T) {
	addr := startEcho(t, echoConfig{})
	for _, code := range []uint16{1000, 1001, 3000, 4321} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			rc := rawDial(t, addr, "/")
			rc.writeFrame(true, opClose, closePayload(code, "bye"))
			_, op, p := rc.readFrame()
			if op != opClose || len(p) < 2 {
				t.Fatalf("got op %#x %q, want a close frame with a code", op, p)
			}
			if got := uint16(p[0])<<8 | uint16(p[1]); got != code {
				t.Fatalf("close code = %d, want %d", got, code)
			}
		})
	}
}

func TestEchoReadLimit(t *testing.T) {
	addr := startEcho(t, echoConfig{readLimit: 100})
	c := dial(t, "ws://"+addr, nil)
	ctx := testCtx(t)
	if err := c.Write(ctx, websocket.MessageText, bytes.Repeat([]byte("x"), 101)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
		t.Fatalf("read error %v (status %d), want close %d", err, got, websocket.StatusMessageTooBig)
	}
}

func TestEchoRaw(t *testing.T) {
	addr := startEcho(t, echoConfig{raw: true})
	c, resp, err := websocket.Dial(testCtx(t), "ws://"+addr, &websocket.DialOptions{Compression: websocket.CompressionContextTakeover})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Errorf("--raw did not accept permessage-deflate; extensions = %q", ext)
	}
	big := bytes.Repeat([]byte("compressible "), 80_000)
	for _, m := range []struct {
		typ websocket.MessageType
		msg []byte
	}{
		{websocket.MessageText, []byte("unchanged")},
		{websocket.MessageBinary, []byte{0, 0xff, 1}},
		{websocket.MessageText, big},
		{websocket.MessageText, []byte("again")}, // after a large one, with context takeover
	} {
		typ, reply := roundTrip(t, c, m.typ, m.msg)
		if typ != m.typ || !bytes.Equal(reply, m.msg) {
			t.Fatalf("got %v %.40q, want %v %.40q", typ, reply, m.typ, m.msg)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}

func TestEchoCompressionFlag(t *testing.T) {
	for _, tt := range []struct {
		cfg  echoConfig
		want bool
	}{
		{echoConfig{}, false},
		{echoConfig{compression: true}, true},
	} {
		addr := startEcho(t, tt.cfg)
		c, resp, err := websocket.Dial(testCtx(t), "ws://"+addr, &websocket.DialOptions{Compression: websocket.CompressionContextTakeover})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
		if got != tt.want {
			t.Errorf("compression=%v: negotiated = %v, want %v", tt.cfg.compression, got, tt.want)
		}
		if _, reply := roundTrip(t, c, websocket.MessageText, []byte("z")); string(reply) != "Echo: z" {
			t.Errorf("reply = %q", reply)
		}
		c.Close(websocket.StatusNormalClosure, "")
	}
}

// TestEchoShutdown checks that a canceled server closes open connections
// with 1001 and then returns.
func TestEchoShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- newEchoServer(echoConfig{readLimit: defaultReadLimit}).serve(ctx, ln) }()

	url := "ws://" + ln.Addr().String()
	conns := make([]*websocket.Conn, 3)
	for i := range conns {
		conns[i] = dial(t, url, nil)
		roundTrip(t, conns[i], websocket.MessageText, []byte("hi")) // surely registered
	}
	cancel()
	for i, c := range conns {
		_, _, err := c.Read(testCtx(t))
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Local {
			t.Errorf("conn %d: read error = %v, want the server's close 1001", i, err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * shutdownTimeout):
		t.Fatal("serve did not return after shutdown")
	}
	if _, _, err := websocket.Dial(testCtx(t), url, nil); err == nil {
		t.Fatal("dial after shutdown succeeded")
	}
}

// TestRunEcho runs the command as main does, through run.
func TestRunEcho(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"echo", "--addr", "127.0.0.1:0"}, nil, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "tether echo: listening on ")
	if !ok || !strings.HasPrefix(url, "ws://127.0.0.1:") {
		t.Fatalf("first line = %q", line)
	}
	c := dial(t, url, nil)
	if _, reply := roundTrip(t, c, websocket.MessageText, []byte("x")); string(reply) != "Echo: x" {
		t.Fatalf("reply = %q", reply)
	}
	cancel()
	if _, _, err := c.Read(testCtx(t)); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("read after cancel: %v, want close 1001", err)
	}
	io.Copy(io.Discard, pr) // nothing more is printed, but drain to be sure
	if got := <-code; got != 0 {
		t.Fatalf("exit code = %d, stderr: %s", got, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("unexpected stderr: %s", stderr.String())
	}
}

func TestRunEchoUsage(t *testing.T) {
	tests := []runCase{
		{[]string{"echo", "-h"}, 0, "Usage: tether echo", ""},
		{[]string{"echo", "--help"}, 0, "-read-limit", ""},
		{[]string{"echo", "--nope"}, 2, "", "flag provided but not defined"},
		{[]string{"echo", "extra"}, 2, "", "unexpected argument"},
		{[]string{"echo", "--addr", "256.0.0.1:1"}, 1, "", "tether echo:"},
	}
	checkRuns(t, tests)
}

var _ http.Handler = (*echoServer)(nil)

// TestEchoShutdownUnresponsivePeer checks that shutdown is bounded when a
// peer never answers the going-away close.
func TestEchoShutdownUnresponsivePeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- newEchoServer(echoConfig{readLimit: defaultReadLimit}).serve(ctx, ln) }()

	rc := rawDial(t, ln.Addr().String(), "/")
	rc.writeFrame(true, opText, []byte("hi"))
	if _, op, p := rc.readFrame(); op != opText || string(p) != "Echo: hi" {
		t.Fatalf("got op %#x %q", op, p)
	}
	cancel()
	// The peer sees the 1001 but never answers it.
	if _, op, p := rc.readFrame(); op != opClose || len(p) < 2 || int(p[0])<<8|int(p[1]) != 1001 {
		t.Fatalf("got op %#x %q, want close 1001", op, p)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(4 * shutdownTimeout):
		t.Fatal("serve did not return")
	}
}
