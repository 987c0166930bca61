package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/testenv"
	"github.com/tether-rt/tether/websocket"
)

// runCmd runs "tether args..." in-process with the given stdin.
func runCmd(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(testCtx(t), args, stdin, &out, &errb)
	return code, out.String(), errb.String()
}

func TestConnectSend(t *testing.T) {
	url := "ws://" + startEcho(t, echoConfig{})
	for _, args := range [][]string{
		{"connect", url, "--send", "Hello, Server!"},
		{"connect", "--send", "Hello, Server!", url},
		{"connect", "--timeout", "5s", url, "--send=Hello, Server!", "--subprotocol", "a"},
		{"connect", "--header", "X-Test: 1", url, "--header", "X-Other: 2", "--send", "Hello, Server!"},
	} {
		code, stdout, stderr := runCmd(t, nil, args...)
		if code != 0 || stdout != "Echo: Hello, Server!\n" {
			t.Errorf("%q: code %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}

func TestConnectDoubleDash(t *testing.T) {
	// After "--" a dash-led argument is positional, hence a second URL.
	code, _, stderr := runCmd(t, nil, "connect", "ws://127.0.0.1:1", "--", "--send")
	if code != 2 || !strings.Contains(stderr, `unexpected argument "--send"`) {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

func TestConnectInteractive(t *testing.T) {
	url := "ws://" + startEcho(t, echoConfig{})
	code, stdout, stderr := runCmd(t, strings.NewReader("one\ntwo\n\nthree"), "connect", url)
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if want := "Echo: one\nEcho: two\nEcho: \nEcho: three\n"; stdout != want {
		t.Fatalf("stdout = %q, want %q", stdout, want)
	}
	if stderr != "" {
		t.Errorf("stderr = %q", stderr)
	}
}

// closingServer answers one message, prints nothing, then closes with code.
func closingServer(t *testing.T, code websocket.StatusCode, reason string, binary []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
		if binary != nil {
			c.Write(ctx, websocket.MessageBinary, binary)
		}
		c.Close(code, reason)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func TestConnectServerClose(t *testing.T) {
	bin := []byte("hello, binary world!")
	tests := []struct {
		code       websocket.StatusCode
		reason     string
		exit       int
		wantStderr string
	}{
		{websocket.StatusNormalClosure, "", 0, "closed: 1000\n"},
		{websocket.StatusNormalClosure, "done", 0, "closed: 1000 done\n"},
		{websocket.StatusPolicyViolation, "go away", 1, "closed: 1008 go away\n"},
		{4000, "custom", 1, "closed: 4000 custom\n"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code, tt.reason), func(t *testing.T) {
			url := closingServer(t, tt.code, tt.reason, bin)
			// stdin stays open: the server's close must end the command.
			pr, pw := io.Pipe()
			t.Cleanup(func() { pw.Close() })
			go fmt.Fprintln(pw, "trigger")
			code, stdout, stderr := runCmd(t, pr, "connect", url)
			if code != tt.exit || stderr != tt.wantStderr {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, stderr, tt.exit, tt.wantStderr)
			}
			if want := "<binary 20 bytes: 68656c6c6f2c2062696e61727920776f…>\n"; stdout != want {
				t.Errorf("stdout = %q, want %q", stdout, want)
			}
		})
	}
}

func TestPrintMessage(t *testing.T) {
	var b bytes.Buffer
	printMessage(&b, websocket.MessageBinary, []byte("hel"))
	printMessage(&b, websocket.MessageText, []byte("text"))
	printMessage(&b, websocket.MessageBinary, nil)
	if want := "<binary 3 bytes: 68656c>\ntext\n<binary 0 bytes: >\n"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

func TestConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	code, stdout, stderr := runCmd(t, nil, "connect", "ws://"+addr, "--send", "x")
	if want := "tether connect: cannot connect to " + addr + ": connection refused\n"; code != 1 || stderr != want || stdout != "" {
		t.Fatalf("code %d, stderr %q, want 1, %q", code, stderr, want)
	}
}

func TestConnectBadURL(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"ftp://127.0.0.1", "scheme must be ws:// or wss://"},
		{"127.0.0.1:8765", "scheme must be ws:// or wss://"},
		{"ws://", "no host"},
		{"ws://a b", "bad URL"},
	}
	for _, tt := range tests {
		code, _, stderr := runCmd(t, nil, "connect", tt.url)
		if code != 1 || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: code %d, stderr %q, want 1 and one line with %q", tt.url, code, stderr, tt.want)
		}
	}
}

func TestConnectHandshakeFailure(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/forbidden", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no entry\nfor you", http.StatusForbidden)
	})
	// A WebSocket endpoint that allows same-origin only.
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if c, err := websocket.Accept(w, r, nil); err == nil {
			c.CloseNow()
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	base := "ws" + strings.TrimPrefix(srv.URL, "http")

	tests := []struct {
		args []string
		want string
	}{
		{[]string{base + "/forbidden"}, "tether connect: handshake failed: HTTP 403 Forbidden: no entry for you"},
		{[]string{base + "/missing"}, "tether connect: handshake failed: HTTP 404 Not Found: 404 page not found"},
		{[]string{base + "/ws", "--header", "Origin: http://elsewhere.test"}, "tether connect: handshake failed: HTTP 403"},
	}
	for _, tt := range tests {
		code, _, stderr := runCmd(t, nil, append([]string{"connect"}, tt.args...)...)
		if code != 1 || !strings.HasPrefix(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: code %d, stderr %q, want 1 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestConnectUsage(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{[]string{"connect", "-h"}, 0, "Usage: tether connect URL", ""},
		{[]string{"connect", "ws://x", "--help"}, 0, "-subprotocol", ""},
		{[]string{"connect"}, 2, "", "missing URL"},
		{[]string{"connect", "ws://a", "ws://b"}, 2, "", "unexpected argument"},
		{[]string{"connect", "ws://a", "--header", "nocolon"}, 2, "", "bad header"},
		{[]string{"connect", "ws://a", "--timeout", "0s"}, 2, "", "--timeout must be positive"},
		{[]string{"connect", "ws://a", "--bogus"}, 2, "", "flag provided but not defined"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCmd(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(stdout, tt.wantStdout) || !strings.Contains(stderr, tt.wantStderr) {
			t.Errorf("%q: code %d, stdout %q, stderr %q", tt.args, code, stdout, stderr)
		}
	}
}

// TestConnectInteractiveMany checks that every reply to what was piped in is
// printed before the command closes at the end of stdin.
func TestConnectInteractiveMany(t *testing.T) {
	url := "ws://" + startEcho(t, echoConfig{})
	var in, want strings.Builder
	for i := range 300 {
		fmt.Fprintf(&in, "line %d\n", i)
		fmt.Fprintf(&want, "Echo: line %d\n", i)
	}
	code, stdout, stderr := runCmd(t, strings.NewReader(in.String()), "connect", url)
	if code != 0 || stdout != want.String() {
		t.Fatalf("code %d, %d bytes of stdout (want %d), stderr %q", code, len(stdout), want.Len(), stderr)
	}
}

// TestConnectInterrupt checks that an interrupt (ctx canceled, as on
// SIGINT) closes normally and exits 0.
func TestConnectInterrupt(t *testing.T) {
	srvCloses := make(chan websocket.StatusCode, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.Write(r.Context(), websocket.MessageText, []byte("welcome"))
		_, _, err = c.Read(r.Context())
		srvCloses <- websocket.CloseStatus(err)
	}))
	t.Cleanup(srv.Close)

	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	ctx, cancel := context.WithCancel(testCtx(t))
	out := &testenv.Buffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"connect", "ws" + strings.TrimPrefix(srv.URL, "http")}, pr, out, io.Discard)
	}()
	for !strings.Contains(out.String(), "welcome") {
		select {
		case <-ctx.Done():
			t.Fatal("no welcome printed")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	if got := <-code; got != 0 {
		t.Fatalf("exit code %d, want 0", got)
	}
	if got := <-srvCloses; got != websocket.StatusNormalClosure {
		t.Fatalf("server saw close %d, want 1000", got)
	}
}

func TestConnectSendNoReply(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for { // read, never answer
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	code, stdout, stderr := runCmd(t, nil, "connect", "ws"+strings.TrimPrefix(srv.URL, "http"), "--send", "x", "--timeout", "100ms")
	if code != 1 || stdout != "" || stderr != "tether connect: no reply within 100ms\n" {
		t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
