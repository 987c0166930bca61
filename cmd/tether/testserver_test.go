package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/testenv"
	"github.com/tether-rt/tether/websocket"
)

// startTestServer runs a test server with the default settings on a free
// loopback port until the test ends and returns its address.
func startTestServer(t *testing.T) string {
	t.Helper()
	return testenv.Serve(t, newTestServer(testServerConfig{pingInterval: testServerPingInterval, pingTimeout: testServerPingTimeout}).serve)
}

// eioClient is a bare Engine.IO polling client over net/http. Keep-alives
// are off so that no idle connection outlives the test.
type eioClient struct {
	t    *testing.T
	http *http.Client
	base string // http://addr/engine.io/
}

func newEIOClient(t *testing.T, addr string) *eioClient {
	return &eioClient{
		t:    t,
		http: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second},
		base: "http://" + addr + "/engine.io/",
	}
}

// do sends a request and returns the response with its body read.
func (c *eioClient) do(method, url string, header http.Header, body string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp, string(b)
}

// handshakeData is the JSON of the open packet.
type handshakeData struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

// parseOpen decodes an open packet ("0" and JSON).
func parseOpen(t *testing.T, packet string) handshakeData {
	t.Helper()
	js, ok := strings.CutPrefix(packet, "0")
	var h handshakeData
	if !ok || json.Unmarshal([]byte(js), &h) != nil || h.SID == "" {
		t.Fatalf("open packet = %q, want 0{\"sid\":...}", packet)
	}
	return h
}

// checkSettings checks the open packet against docs/TEST-SERVERS.md 1.1.
func checkSettings(t *testing.T, h handshakeData, upgrades []string) {
	t.Helper()
	if h.PingInterval != 300 || h.PingTimeout != 200 || h.MaxPayload != 1_000_000 || !slices.Equal(h.Upgrades, upgrades) {
		t.Errorf("handshake = %+v, want pingInterval 300, pingTimeout 200, maxPayload 1000000, upgrades %q", h, upgrades)
	}
}

// handshake opens a polling session.
func (c *eioClient) handshake() handshakeData {
	c.t.Helper()
	resp, body := c.do("GET", c.base+"?EIO=4&transport=polling", nil, "")
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("handshake: HTTP %d %q", resp.StatusCode, body)
	}
	return parseOpen(c.t, body)
}

// post sends a polling payload.
func (c *eioClient) post(sid, payload string) {
	c.t.Helper()
	resp, body := c.do("POST", c.base+"?EIO=4&transport=polling&sid="+sid, http.Header{"Content-Type": {"text/plain;charset=UTF-8"}}, payload)
	if resp.StatusCode != http.StatusOK || body != "ok" {
		c.t.Fatalf("POST %q: HTTP %d %q, want 200 \"ok\"", payload, resp.StatusCode, body)
	}
}

// messages polls until n packets other than pings and noops arrived,
// answering pings, and returns them.
func (c *eioClient) messages(sid string, n int) []string {
	c.t.Helper()
	var got []string
	for poll := 0; len(got) < n; poll++ {
		if poll == 20 {
			c.t.Fatalf("after 20 polls got %q, want %d messages", got, n)
		}
		resp, body := c.do("GET", c.base+"?EIO=4&transport=polling&sid="+sid, nil, "")
		if resp.StatusCode != http.StatusOK {
			c.t.Fatalf("poll: HTTP %d %q", resp.StatusCode, body)
		}
		for p := range strings.SplitSeq(body, "\x1e") {
			switch p {
			case "2":
				c.post(sid, "3")
			case "6":
			default:
				got = append(got, p)
			}
		}
	}
	return got
}

func TestTestServerPollingEcho(t *testing.T) {
	c := newEIOClient(t, startTestServer(t))
	h := c.handshake()
	checkSettings(t, h, []string{"websocket"})
	// Text, empty text, binary (base64) and multi-byte text in one payload.
	sent := []string{"4hello", "4", "bAAEC/w==", "4héllo ✓"}
	c.post(h.SID, strings.Join(sent, "\x1e"))
	if got := c.messages(h.SID, len(sent)); !slices.Equal(got, sent) {
		t.Fatalf("echoed %q, want %q", got, sent)
	}
	c.post(h.SID, "1") // close
	// A poll that comes right after the close is released with a noop (it may have been sent
	// with the close, as the official suite does); the session is gone after it.
	if resp, body := c.do("GET", c.base+"?EIO=4&transport=polling&sid="+h.SID, nil, ""); resp.StatusCode != http.StatusOK || body != "6" {
		t.Errorf("poll right after close: HTTP %d %q, want 200 \"6\"", resp.StatusCode, body)
	}
	if resp, body := c.do("GET", c.base+"?EIO=4&transport=polling&sid="+h.SID, nil, ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("second poll after close: HTTP %d %q, want 400 (unknown sid)", resp.StatusCode, body)
	}
}

// dialEIO opens an Engine.IO session over WebSocket directly and returns
// the connection after the open packet.
func dialEIO(t *testing.T, addr string) (*websocket.Conn, handshakeData) {
	t.Helper()
	c := dial(t, "ws://"+addr+"/engine.io/?EIO=4&transport=websocket", nil)
	typ, open, err := c.Read(testCtx(t))
	if err != nil || typ != websocket.MessageText {
		t.Fatalf("first frame: %v %q %v, want the open packet", typ, open, err)
	}
	return c, parseOpen(t, string(open))
}

// readMessage reads the next frame other than a ping, answering pings.
func readMessage(t *testing.T, c *websocket.Conn) (websocket.MessageType, []byte) {
	t.Helper()
	ctx := testCtx(t)
	for range 100 {
		typ, p, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if typ == websocket.MessageText && string(p) == "2" {
			if err := c.Write(ctx, websocket.MessageText, []byte("3")); err != nil {
				t.Fatalf("pong: %v", err)
			}
			continue
		}
		return typ, p
	}
	t.Fatal("100 pings in a row")
	return 0, nil
}

// readUntilClosed reads c until the server closes it, allowing only a close
// packet and noops before the end.
func readUntilClosed(t *testing.T, c *websocket.Conn) {
	t.Helper()
	ctx := testCtx(t)
	var got []string
	for range 10 {
		typ, p, err := c.Read(ctx)
		if err != nil {
			return
		}
		got = append(got, string(p))
		if typ != websocket.MessageText || (string(p) != "1" && string(p) != "6") {
			t.Fatalf("read %q while waiting for the server to close, want only a close packet", got)
		}
	}
	t.Fatalf("read %q and the connection is still open", got)
}

func TestTestServerWebSocketEcho(t *testing.T) {
	addr := startTestServer(t)
	c, h := dialEIO(t, addr)
	checkSettings(t, h, []string{})
	ctx := testCtx(t)
	sent := []struct {
		typ websocket.MessageType
		msg []byte
	}{
		{websocket.MessageText, []byte("4hello")},
		{websocket.MessageBinary, []byte{0, 1, 2, 0xff}},
		{websocket.MessageText, []byte("4")},
		{websocket.MessageBinary, bytes.Repeat([]byte{7}, 999_999)},
	}
	for _, m := range sent {
		if err := c.Write(ctx, m.typ, m.msg); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range sent {
		typ, p := readMessage(t, c)
		if typ != m.typ || !bytes.Equal(p, m.msg) {
			t.Fatalf("echo %d = %v %.20q (%d bytes), want %v %.20q (%d bytes)", i, typ, p, len(p), m.typ, m.msg, len(m.msg))
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}

func TestTestServerNotFound(t *testing.T) {
	addr := startTestServer(t)
	c := newEIOClient(t, addr)
	for _, path := range []string{"/", "/other", "/engine.ioX/?EIO=4&transport=polling", "/socket.iox/?EIO=4&transport=polling", "/socket.io"} {
		if resp, body := c.do("GET", "http://"+addr+path, nil, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: HTTP %d %q, want 404", path, resp.StatusCode, body)
		}
	}
}

func TestTestServerCORS(t *testing.T) {
	c := newEIOClient(t, startTestServer(t))
	const origin = "http://page.example"
	resp, _ := c.do("OPTIONS", c.base+"?EIO=4&transport=polling", http.Header{
		"Origin":                        {origin},
		"Access-Control-Request-Method": {"POST"},
	}, "")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != origin {
		t.Errorf("preflight: HTTP %d, Access-Control-Allow-Origin %q, want * or %s", resp.StatusCode, got, origin)
	}
	resp, body := c.do("GET", c.base+"?EIO=4&transport=polling", http.Header{"Origin": {origin}}, "")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != http.StatusOK || (got != "*" && got != origin) {
		t.Errorf("handshake from %s: HTTP %d %q, Access-Control-Allow-Origin %q", origin, resp.StatusCode, body, got)
	}
}

// TestTestServerShutdown checks that a canceled server ends its sessions,
// answers a pending poll and returns.
func TestTestServerShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		// Long pings, so that the pending poll below waits for the shutdown.
		done <- newTestServer(testServerConfig{pingInterval: time.Minute, pingTimeout: time.Minute}).serve(ctx, ln)
	}()

	ws, _ := dialEIO(t, addr)
	pc := newEIOClient(t, addr)
	h := pc.handshake()
	wrote := make(chan struct{})
	pollDone := make(chan string, 1)
	go func() {
		// Not through pc.do: t.Fatal must not run on this goroutine.
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", pc.base+"?EIO=4&transport=polling&sid="+h.SID, nil)
		resp, err := pc.http.Do(req)
		if err != nil {
			pollDone <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pollDone <- fmt.Sprintf("HTTP %d %s", resp.StatusCode, b)
	}()
	<-wrote
	// Nothing tells a client its poll is pending; a round trip through the
	// server on another connection gives the request, already written,
	// ample time to reach its handler first.
	if err := ws.Write(testCtx(t), websocket.MessageText, []byte("4x")); err != nil {
		t.Fatal(err)
	}
	if _, p := readMessage(t, ws); string(p) != "4x" {
		t.Fatalf("echo = %q", p)
	}
	cancel()

	readUntilClosed(t, ws)
	select {
	case got := <-pollDone:
		body, ok := strings.CutPrefix(got, "HTTP 200 ")
		for p := range strings.SplitSeq(body, "\x1e") {
			ok = ok && (p == "1" || p == "6")
		}
		if !ok {
			t.Errorf("pending poll ended with %q, want HTTP 200 with a close or noop packet", got)
		}
	case <-time.After(2 * shutdownTimeout):
		t.Fatal("pending poll not answered by the shutdown")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * shutdownTimeout):
		t.Fatal("serve did not return after shutdown")
	}
}

// TestRunTestServer runs the command as main does, with its flags.
func TestRunTestServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr testenv.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"testserver", "--addr", "127.0.0.1:0", "--ping-interval", "1s", "--ping-timeout", "500ms"}, nil, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "tether testserver: listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line = %q, want \"tether testserver: listening on http://127.0.0.1:PORT\"", line)
	}
	c := newEIOClient(t, strings.TrimPrefix(url, "http://"))
	if h := c.handshake(); h.PingInterval != 1000 || h.PingTimeout != 500 {
		t.Errorf("handshake = %+v, want the flags' pingInterval 1000 and pingTimeout 500", h)
	}
	cancel()
	io.Copy(io.Discard, pr)
	if got := <-code; got != 0 {
		t.Fatalf("exit code = %d, stderr: %s", got, stderr.String())
	}
	if stderr.String() != "" {
		t.Errorf("unexpected stderr: %s", stderr.String())
	}
}

func TestRunTestServerUsage(t *testing.T) {
	tests := []runCase{
		{[]string{"testserver", "-h"}, 0, "Usage: tether testserver", ""},
		{[]string{"testserver", "--help"}, 0, "/socket.io/", ""},
		{[]string{"help", "testserver"}, 0, "-ping-interval", ""},
		{[]string{"testserver", "--nope"}, 2, "", "flag provided but not defined"},
		{[]string{"testserver", "extra"}, 2, "", "unexpected argument"},
		{[]string{"testserver", "--ping-timeout", "0s"}, 2, "", "must be positive"},
		{[]string{"testserver", "--connect-timeout", "0s"}, 2, "", "must be positive"},
		{[]string{"testserver", "--addr", "256.0.0.1:1"}, 1, "", "tether testserver:"},
		{[]string{"testserver", "-h"}, 0, "-debug-addr", ""},
		{[]string{"testserver", "--debug-addr", "0.0.0.0:6060"}, 2, "", "must be a loopback host:port"},
		{[]string{"testserver", "--debug-addr", ":6060"}, 2, "", "must be a loopback host:port"},
		{[]string{"testserver", "--debug-addr", "127.0.0.1"}, 2, "", "must be a loopback host:port"},
	}
	checkRuns(t, tests)
}

func TestIsLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:6060": true, "127.3.2.1:0": true, "[::1]:6060": true, "localhost:6060": true,
		"0.0.0.0:6060": false, ":6060": false, "[::]:6060": false, "192.0.2.1:6060": false,
		"example.com:6060": false, "127.0.0.1": false, "": false,
	} {
		if got := isLoopbackAddr(addr); got != want {
			t.Errorf("isLoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

// runTestServerCmd runs "tether testserver args..." in-process until the test
// ends, reads the first n lines of its output, and returns them; the first is
// checked to be the listening line and is given as the server's address. The
// command must exit 0 without a warning on stderr: it runs with --log-level warn,
// as the info lines are about what the tests' clients do wrong on purpose.
func runTestServerCmd(t *testing.T, n int, args ...string) (addr string, lines []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr testenv.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"testserver", "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...), nil, pw, &stderr)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		io.Copy(io.Discard, pr)
		if got := <-code; got != 0 || stderr.String() != "" {
			t.Errorf("exit code = %d, stderr: %s", got, stderr.String())
		}
	})
	out := bufio.NewReader(pr)
	for i := range n {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("line %d: %v (stderr %s)", i+1, err, stderr.String())
		}
		lines = append(lines, strings.TrimSpace(line))
	}
	addr, ok := strings.CutPrefix(lines[0], "tether testserver: listening on http://")
	if !ok {
		t.Fatalf("first line = %q, want the listening line", lines[0])
	}
	return addr, lines
}

func TestRunTestServerConnectTimeout(t *testing.T) {
	addr, _ := runTestServerCmd(t, 1, "--ping-timeout", "5s", "--connect-timeout", "100ms")
	c := dialSIO(t, addr, "websocket")
	m, err := c.c.Read(testCtx(t))
	var ce *engineio.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("read %q, %v; want the session closed by the server", m.Data, err)
	}
}

// TestRunTestServerDebugAddr runs the command with --debug-addr: the second
// listener serves /debug/stats, counting the connected sockets, and the
// pprof handlers, and the main listener serves neither. The debug listener
// closes with the server.
func TestRunTestServerDebugAddr(t *testing.T) {
	var debugAddr string
	t.Run("serve", func(t *testing.T) { // its cleanup stops the server
		addr, lines := runTestServerCmd(t, 2, "--debug-addr", "127.0.0.1:0", "--ping-timeout", "5s")
		rest, ok := strings.CutPrefix(lines[1], "tether testserver: debug figures on http://")
		debugAddr, _ = strings.CutSuffix(rest, "/debug/stats, profiles on /debug/pprof/")
		if !ok || !strings.HasPrefix(debugAddr, "127.0.0.1:") || debugAddr == addr || strings.Contains(debugAddr, "/") {
			t.Fatalf("second line = %q, want \"tether testserver: debug figures on http://127.0.0.1:PORT/debug/stats, profiles on /debug/pprof/\"", lines[1])
		}

		c := newEIOClient(t, addr)
		stats := func() debugStats {
			t.Helper()
			resp, body := c.do("GET", "http://"+debugAddr+"/debug/stats", nil, "")
			var st debugStats
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &st) != nil {
				t.Fatalf("GET /debug/stats: HTTP %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if st.Goroutines <= 0 || st.HeapAlloc == 0 || st.HeapInuse == 0 || st.HeapGoal == 0 || st.StackInuse == 0 || st.Sys == 0 {
				t.Fatalf("GET /debug/stats = %+v, want every runtime figure positive", st)
			}
			return st
		}
		if st := stats(); st.Sockets != 0 {
			t.Errorf("sockets before any client = %d, want 0", st.Sockets)
		}
		sio := dialSIO(t, addr, "websocket")
		sio.connect("/", "")
		sio.connect("/custom", "")
		runtime.GC() // the server runs in this process: heap_live is known after a GC
		if st := stats(); st.Sockets != 2 || st.HeapLive == 0 || st.NumGC == 0 {
			t.Errorf("GET /debug/stats = %+v with one client in / and /custom, after a GC; want 2 sockets, heap_live and num_gc positive", st)
		}

		for path, want := range map[string]string{
			"/debug/pprof/":                  "goroutine",
			"/debug/pprof/goroutine?debug=1": "goroutine profile:",
			"/debug/pprof/heap?debug=1":      "heap profile:",
			"/debug/pprof/cmdline":           "-test.",
			"/debug/pprof/symbol":            "num_symbols:",
			"/debug/pprof/profile?seconds=1": "", // gzipped protobuf
		} {
			if resp, body := c.do("GET", "http://"+debugAddr+path, nil, ""); resp.StatusCode != http.StatusOK || body == "" || !strings.Contains(body, want) {
				t.Errorf("GET %s: HTTP %d %.80q, want 200 with %q", path, resp.StatusCode, body, want)
			}
		}
		for _, path := range []string{"/debug/pprof/", "/debug/stats"} {
			if resp, body := c.do("GET", "http://"+addr+path, nil, ""); resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s on the main listener: HTTP %d %.80q, want 404", path, resp.StatusCode, body)
			}
		}
	})
	if debugAddr == "" {
		return
	}
	if c, err := net.Dial("tcp", debugAddr); err == nil {
		c.Close()
		t.Error("the debug listener is still open after the server exited")
	}
}

func TestRunTestServerDebugAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	checkRuns(t, []runCase{
		{[]string{"testserver", "--addr", "127.0.0.1:0", "--debug-addr", ln.Addr().String()}, 1, "", "address already in use"},
	})
}

// TestBinaryTestServerSignal runs the built binary: it must print the
// listening line, serve both endpoints, and on SIGINT close their sessions
// and exit 0.
func TestBinaryTestServerSignal(t *testing.T) {
	bin := buildTether(t)
	cmd, url, stderr := startServerBinary(t, bin, "tether testserver: listening on http://", "testserver", "--addr", "127.0.0.1:0")
	ws, h := dialEIO(t, url)
	checkSettings(t, h, []string{})
	if err := ws.Write(testCtx(t), websocket.MessageText, []byte("4ping?")); err != nil {
		t.Fatal(err)
	}
	if _, p := readMessage(t, ws); string(p) != "4ping?" {
		t.Fatalf("echo = %q", p)
	}
	sio := dialSIO(t, url, "websocket")
	sio.connect("/", "")

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	readUntilClosed(t, ws)
	// The Socket.IO session ends too; a DISCONNECT may come first.
	for range 3 {
		m, err := sio.c.Read(testCtx(t))
		if err != nil {
			break
		}
		if string(m.Data) != "1" {
			t.Fatalf("read %q while waiting for the shutdown", m.Data)
		}
	}
	waitExit0(t, cmd, stderr)
}

// TestRunTestServerAllowEIO3 checks that --allow-eio3 opens both endpoints to Engine.IO v3
// handshakes, which the server refuses without it.
func TestRunTestServerAllowEIO3(t *testing.T) {
	for _, allow := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		var stderr testenv.Buffer
		code := make(chan int, 1)
		args := []string{"testserver", "--addr", "127.0.0.1:0"}
		if allow {
			args = append(args, "--allow-eio3")
		}
		go func() {
			code <- run(ctx, args, nil, pw, &stderr)
			pw.Close()
		}()
		line, err := bufio.NewReader(pr).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		url := strings.TrimPrefix(strings.TrimSpace(line), "tether testserver: listening on ")
		for _, path := range []string{"/socket.io/", "/engine.io/"} {
			resp, err := http.Get(url + path + "?EIO=3&transport=polling")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ok := resp.StatusCode == 200 && strings.Contains(string(body), `:0{"sid":`)
			refused := resp.StatusCode == 400 && strings.Contains(string(body), "Unsupported protocol version")
			if (allow && !ok) || (!allow && !refused) {
				t.Errorf("allow-eio3 %v, %s: %d %q", allow, path, resp.StatusCode, body)
			}
		}
		cancel()
		io.Copy(io.Discard, pr)
		if got := <-code; got != 0 {
			t.Fatalf("exit code = %d, stderr: %s", got, stderr.String())
		}
	}
}
