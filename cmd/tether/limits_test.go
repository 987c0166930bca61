package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/httpserver"
	"github.com/tether-rt/tether/internal/testenv"
)

// limitServer is one of the HTTP servers the tether command runs, started on
// a free loopback port with the given limits until the test ends.
type limitServer struct {
	name  string
	path  string // a path answered without closing the connection
	start func(t *testing.T, limits httpserver.Limits) (addr string)
}

var limitServers = []limitServer{
	{"testserver", "/nope", func(t *testing.T, limits httpserver.Limits) string {
		srv := newTestServer(testServerConfig{pingInterval: testServerPingInterval, pingTimeout: testServerPingTimeout, limits: limits})
		return testenv.Serve(t, srv.serve)
	}},
	{"serve", "/", func(t *testing.T, limits httpserver.Limits) string {
		srv := newDemoServer(demoConfig{clientDir: t.TempDir(), stdout: io.Discard, limits: limits})
		return testenv.Serve(t, srv.serve)
	}},
	{"echo", "/", func(t *testing.T, limits httpserver.Limits) string {
		srv := newEchoServer(echoConfig{readLimit: defaultReadLimit, limits: limits})
		return testenv.Serve(t, srv.serve)
	}},
	{"testserver --debug-addr", "/debug/stats", func(t *testing.T, limits httpserver.Limits) string {
		ln := testenv.Listen(t)
		stop := serveDebug(ln, newDebugHandler(func() int { return 0 }), limits, slog.New(slog.DiscardHandler))
		t.Cleanup(stop)
		return ln.Addr().String()
	}},
}

// rawRequest writes one GET for path on c and reads the response.
func rawRequest(t *testing.T, c net.Conn, br *bufio.Reader, path string) *http.Response {
	t.Helper()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, c.RemoteAddr()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("GET %s: body: %v", path, err)
	}
	resp.Body.Close()
	return resp
}

// TestIdleTimeout checks that every server closes a keep-alive connection
// that sends one request and then nothing, after the idle timeout and not
// before.
func TestIdleTimeout(t *testing.T) {
	const idle = time.Second
	for _, srv := range limitServers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			addr := srv.start(t, httpserver.Limits{IdleTimeout: idle})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			if resp := rawRequest(t, c, br, srv.path); resp.Close {
				t.Fatalf("GET %s: %s with Connection: close; the test needs a kept-alive connection", srv.path, resp.Status)
			}
			answered := time.Now()

			// Generous bound for a slow machine; before idle timeouts, the connection stayed open.
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			n, err := br.Read(make([]byte, 1))
			waited := time.Since(answered)
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				t.Fatalf("the idle connection was still open %v after its response; the idle timeout is %v", waited.Round(time.Second), idle)
			case err == nil:
				t.Fatalf("read %d bytes from an idle connection", n)
			case waited < idle/2:
				// The server's clock starts a little before the client's: allow for it.
				t.Fatalf("closed %v after the response (%v), before the idle timeout of %v", waited, err, idle)
			}
		})
	}
}

// headOfSize returns a GET request for path, with extra headers, whose head
// (request line and headers) is exactly size bytes long.
func headOfSize(path, extra string, size int) string {
	head := "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "X-Pad: "
	const end = "\r\n\r\n"
	return head + strings.Repeat("a", size-len(head)-len(end)) + end
}

// statusLine sends req on a new connection, without waiting for all of it
// to be written, and returns the response's status line, or "" with the
// error when the connection ends first.
func statusLine(t *testing.T, addr, req string) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	// The server may answer and close before it has read everything.
	go func() { _, _ = io.WriteString(c, req) }()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// TestHeaderLimit checks that every server answers 431 to a request whose
// head is over 16 KiB, and serves one of exactly 16 KiB.
func TestHeaderLimit(t *testing.T) {
	for _, srv := range limitServers {
		t.Run(srv.name, func(t *testing.T) {
			addr := srv.start(t, httpserver.Limits{})
			const limit = 16 << 10
			if got, err := statusLine(t, addr, headOfSize(srv.path, "", limit)); err != nil || strings.Contains(got, " 431 ") {
				t.Errorf("a %d-byte head: %q %v, want an answer other than 431", limit, got, err)
			}
			if got, err := statusLine(t, addr, headOfSize(srv.path, "", limit+1)); got != "HTTP/1.1 431 Request Header Fields Too Large" {
				t.Errorf("a %d-byte head: %q %v, want 431", limit+1, got, err)
			}
		})
	}
}

// TestHugeHandshakeRefused sends WebSocket handshakes with a megabyte of
// headers, which net/http's default limit (1 MiB) let through, to the
// servers' WebSocket endpoints: each must be refused, not upgraded.
func TestHugeHandshakeRefused(t *testing.T) {
	upgrade := "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	var pad strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&pad, "X-Pad-%d: %s\r\n", i, strings.Repeat("p", 990))
	}
	endpoints := []struct {
		server string
		path   string
	}{
		{"echo", "/"},
		{"testserver", "/engine.io/?EIO=4&transport=websocket"},
		{"testserver", "/socket.io/?EIO=4&transport=websocket"},
		{"serve", "/socket.io/?EIO=4&transport=websocket"},
	}
	addrs := map[string]string{}
	for _, srv := range limitServers {
		addrs[srv.name] = srv.start(t, httpserver.Limits{})
	}
	for _, ep := range endpoints {
		addr := addrs[ep.server]
		// The same handshake with small headers is accepted.
		if got, err := statusLine(t, addr, "GET "+ep.path+" HTTP/1.1\r\nHost: 127.0.0.1\r\n"+upgrade+"\r\n"); got != "HTTP/1.1 101 Switching Protocols" {
			t.Fatalf("%s %s: a handshake: %q %v, want 101", ep.server, ep.path, got, err)
		}
		req := "GET " + ep.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade + pad.String() + "\r\n"
		if len(req) < 1_000_000 || len(req) > 1<<20 {
			t.Fatalf("the handshake is %d bytes; the test wants about a megabyte, under net/http's default limit", len(req))
		}
		if got, err := statusLine(t, addr, req); got != "HTTP/1.1 431 Request Header Fields Too Large" {
			t.Errorf("%s %s: a handshake with %d bytes of headers: %q %v, want 431", ep.server, ep.path, len(req), got, err)
		}
	}
}

// TestLimitFlags checks the flags' checks and that -h tells the defaults.
func TestLimitFlags(t *testing.T) {
	var cases []runCase
	for _, cmd := range []string{"serve", "testserver", "echo"} {
		cases = append(cases,
			runCase{[]string{cmd, "-h"}, 0, "--idle-timeout (30s)", ""},
			runCase{[]string{cmd, "-h"}, 0, "-max-header-bytes bytes", ""},
			runCase{[]string{cmd, "--idle-timeout", "0"}, 2, "", "--idle-timeout and --header-timeout must be positive"},
			runCase{[]string{cmd, "--header-timeout", "-1s"}, 2, "", "--idle-timeout and --header-timeout must be positive"},
			runCase{[]string{cmd, "--max-header-bytes", "4096"}, 2, "", "--max-header-bytes must be at least 4097"},
		)
	}
	checkRuns(t, cases)
}

// warningsOf returns the lines of log that are warnings beginning with msg.
func warningsOf(log, msg string) []string {
	var lines []string
	for line := range strings.Lines(log) {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, `msg="`+msg) {
			lines = append(lines, line)
		}
	}
	return lines
}

var failedAcceptsRE = regexp.MustCompile(`failed_accepts=(\d+)`)

// TestBinaryDescriptorExhaustion runs the test server with a limit of 128
// file descriptors, opens connections until it has none left, and checks it
// says so in one warning, not one per failed accept, and answers again as
// soon as the connections close.
func TestBinaryDescriptorExhaustion(t *testing.T) {
	bin := buildTether(t)
	const nofile = 128
	// Long header and idle timeouts: the connections, which send nothing, are held.
	args := []string{"testserver", "--addr", "127.0.0.1:0", "--header-timeout", "10m", "--idle-timeout", "10m"}
	var cmdline []string
	if prlimit, err := exec.LookPath("prlimit"); err == nil {
		cmdline = append([]string{prlimit, fmt.Sprintf("--nofile=%d:%d", nofile, nofile), bin}, args...)
	} else {
		cmdline = append([]string{"/bin/sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile), bin}, args...)
	}
	_, url, stderr := startServerBinary(t, cmdline[0], "tether testserver: listening on ", cmdline[1:]...)
	addr := strings.TrimPrefix(url, "http://")
	const outOfFDs = "accept: out of file descriptors"

	// More connections than descriptors: the rest wait in the listen backlog
	// (not many: it holds only 128 on older kernels).
	start := time.Now()
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range nofile + 32 {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", len(conns)+1, err)
		}
		conns = append(conns, c)
	}
	for len(warningsOf(stderr.String(), outOfFDs)) == 0 {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("no warning within 30s of opening %d connections to a server with %d descriptors; stderr:\n%s",
				len(conns), nofile, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Stay out of descriptors a while: accepts keep failing, with no new warning.
	time.Sleep(2 * time.Second)
	warnings := warningsOf(stderr.String(), outOfFDs)
	// One warning per 10s: more than one only if this machine took that long.
	if allowed := 1 + int(time.Since(start)/(10*time.Second)); len(warnings) < 1 || len(warnings) > allowed {
		t.Fatalf("%d warnings in %v, want at most %d; stderr:\n%s", len(warnings), time.Since(start).Round(time.Millisecond), allowed, stderr.String())
	}

	// Free the descriptors: the server must answer again, soon.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url + "/nope")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("GET /nope: %s, want 404", resp.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer within 30s of closing the connections: %v; stderr:\n%s", err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// And say once that it accepts again, counting the failed accepts the warning did not.
	var again []string
	for again = warningsOf(stderr.String(), "accept: accepting connections again"); len(again) == 0; again = warningsOf(stderr.String(), "accept: accepting connections again") {
		if time.Now().After(deadline) {
			t.Fatalf("no line saying the server accepts again; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	n := -1
	if m := failedAcceptsRE.FindStringSubmatch(again[0]); m != nil {
		n, _ = strconv.Atoi(m[1])
	}
	if n < 2 {
		t.Errorf("the end of the shortage counts %d failed accepts, want several (2 s of retries); line: %s", n, again[0])
	}
	if len(again) != 1 {
		t.Errorf("%d lines saying the server accepts again, want 1; stderr:\n%s", len(again), stderr.String())
	}
}
