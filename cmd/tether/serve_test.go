package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/testenv"
)

// startDemo runs a demo server reading the client bundle from clientDir on
// a free loopback port until the test ends, and returns its address and
// what it printed.
func startDemo(t *testing.T, clientDir string) (string, *testenv.Buffer) {
	t.Helper()
	out := &testenv.Buffer{}
	return testenv.Serve(t, newDemoServer(demoConfig{clientDir: clientDir, stdout: out}).serve), out
}

// fakeBundle writes stand-ins for the bundle's files into a new directory.
func fakeBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"socket.io.min.js":     "/* the bundle */",
		"socket.io.min.js.map": "{}",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// get fetches url without keep-alives, so that no connection outlives the test.
func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, string(b)
}

func TestServeFiles(t *testing.T) {
	addr, _ := startDemo(t, fakeBundle(t))
	tests := []struct {
		path   string
		status int
		ctype  string // prefix of Content-Type
		body   string // contained in the body
	}{
		{"/", 200, "text/html", `<script src="/socket.io/socket.io.min.js">`},
		{"/", 200, "text/html", `<script src="chat.js">`},
		{"/chat.js", 200, "text/javascript", "socket.emit('message'"},
		{"/style.css", 200, "text/css", "#messages"},
		{"/socket.io/socket.io.min.js", 200, "text/javascript", "/* the bundle */"},
		{"/socket.io/socket.io.min.js.map", 200, "application/json", "{}"},
		{"/socket.io/socket.io.js", 404, "text/plain", "npm ci"},
		{"/socket.io/?EIO=4&transport=polling", 200, "text/plain", `"sid":`},
		{"/nope", 404, "text/plain", ""},
		{"/web.go", 404, "text/plain", ""},
	}
	for _, tt := range tests {
		resp, body := get(t, "http://"+addr+tt.path)
		if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.ctype) || !strings.Contains(body, tt.body) {
			t.Errorf("GET %s: HTTP %d, Content-Type %q, body %.80q; want %d, %s, containing %q",
				tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status, tt.ctype, tt.body)
		}
	}
}

// TestServeBundleMissing checks that the page is served without the bundle,
// whose URL then says how to install it, and that installing it is enough.
func TestServeBundleMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dist")
	addr, _ := startDemo(t, dir)
	if resp, body := get(t, "http://"+addr+"/"); resp.StatusCode != 200 || !strings.Contains(body, "npm ci") {
		t.Errorf("GET /: HTTP %d, want 200 and the page saying how to install the bundle", resp.StatusCode)
	}
	resp, body := get(t, "http://"+addr+"/socket.io/socket.io.min.js")
	if resp.StatusCode != 404 || !strings.Contains(body, `"npm ci" in web/`) {
		t.Errorf("GET the missing bundle: HTTP %d %q, want 404 saying how to install it", resp.StatusCode, body)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, clientBundle), []byte("/* now */"), 0o644); err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, "http://"+addr+"/socket.io/socket.io.min.js"); resp.StatusCode != 200 || body != "/* now */" {
		t.Errorf("GET the bundle once installed: HTTP %d %q", resp.StatusCode, body)
	}
}

// TestServeChat checks the tutorial's behaviour: every message is printed
// with its sender's id, and relayed to the other pages only.
func TestServeChat(t *testing.T) {
	addr, out := startDemo(t, fakeBundle(t))
	a, b := dialSIO(t, addr), dialSIO(t, addr, "websocket")
	sidA, sidB := a.join("/", ""), b.join("/", "")

	a.send(`2["message","Hello, Server!"]`)
	b.expect(`2["message","` + sidA + `","Hello, Server!"]`)
	b.send(`2["message",{"text":"hi","n":[1,2]}]`)
	// a's next packet is b's message: its own was not sent back.
	a.expect(`2["message","` + sidB + `",{"n":[1,2],"text":"hi"}]`)

	// Handlers run before the relay, so both messages are printed by now.
	want := "Socket ID: " + sidA + "\nHello, Server!\nSocket ID: " + sidB + "\n{\"n\":[1,2],\"text\":\"hi\"}\n"
	if got := out.String(); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct {
		msg  any
		want string
	}{
		{"text as is", "text as is"},
		{[]byte{1, 2, 3}, "<3 bytes of binary data>"},
		{nil, "null"},
		{3.5, "3.5"},
		{[]any{"a", true}, `["a",true]`},
	}
	for _, tt := range tests {
		if got := printable(tt.msg); got != tt.want {
			t.Errorf("printable(%#v) = %q, want %q", tt.msg, got, tt.want)
		}
	}
}

// TestRunServe runs the command as main does, without the bundle: it
// must say so on stderr and serve anyway.
func TestRunServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr testenv.Buffer
	missing := filepath.Join(t.TempDir(), "dist")
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--client-dir", missing}, nil, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "tether serve: listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line = %q, want \"tether serve: listening on http://127.0.0.1:PORT\"", line)
	}
	want := "tether serve: no Socket.IO client bundle at " + filepath.Join(missing, clientBundle) + `: run "make run" from the repository root, or "npm ci" in web/`
	if got := stderr.String(); !strings.HasPrefix(got, want) || strings.Count(got, "\n") != 1 {
		t.Errorf("stderr = %q, want one line starting %q", got, want)
	}
	if resp, _ := get(t, url+"/"); resp.StatusCode != 200 {
		t.Errorf("GET /: HTTP %d", resp.StatusCode)
	}
	cancel()
	io.Copy(io.Discard, pr)
	if got := <-code; got != 0 {
		t.Fatalf("exit code = %d, stderr: %s", got, stderr.String())
	}
}

func TestRunServeUsage(t *testing.T) {
	checkRuns(t, []runCase{
		{[]string{"serve", "-h"}, 0, "Usage: tether serve", ""},
		{[]string{"help", "serve"}, 0, "-client-dir", ""},
		{[]string{"help"}, 0, "serve ", ""},
		{[]string{"serve", "--nope"}, 2, "", "flag provided but not defined"},
		{[]string{"serve", "extra"}, 2, "", "unexpected argument"},
		{[]string{"serve", "--addr", "256.0.0.1:1", "--client-dir", "."}, 1, "", "tether serve:"},
	})
}

// TestBinaryServeSignal runs the built binary: it must print the listening
// line, serve, and on SIGTERM close its sessions and exit 0.
func TestBinaryServeSignal(t *testing.T) {
	bin := buildTether(t)
	cmd, addr, stderr := startServerBinary(t, bin, "tether serve: listening on http://", "serve", "--addr", "127.0.0.1:0", "--client-dir", fakeBundle(t))
	c := dialSIO(t, addr, "websocket")
	c.join("/", "")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*shutdownTimeout+10*time.Second)
	defer cancel()
	for range 10 {
		if _, err := c.c.Read(ctx); err != nil {
			break
		}
	}
	waitExit0(t, cmd, stderr)
}

// TestServeAllowedHosts: on loopback the Socket.IO endpoint answers the loopback names only,
// which a DNS-rebinding page (Host and Origin both on the attacker's domain) does not use.
func TestServeAllowedHosts(t *testing.T) {
	srv := newDemoServer(demoConfig{clientDir: t.TempDir(), allowedHosts: hostList("", "127.0.0.1:0")})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.sio.Shutdown(ctx)
		hs.Close()
	})
	port := hs.URL[strings.LastIndex(hs.URL, ":")+1:]
	for host, want := range map[string]int{
		"127.0.0.1:" + port:             http.StatusOK,
		"localhost:" + port:             http.StatusOK,
		"[::1]:" + port:                 http.StatusOK,
		"evil.example:" + port:          http.StatusForbidden,
		"127.0.0.1.nip.example:" + port: http.StatusForbidden,
	} {
		req, _ := http.NewRequest("GET", hs.URL+"/socket.io/?EIO=4&transport=polling", nil)
		req.Host = host
		req.Header.Set("Origin", "http://"+host)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: HTTP %d, want %d", host, resp.StatusCode, want)
		}
	}
	if got := hostList("", "0.0.0.0:8080"); got != nil {
		t.Errorf("hostList for every interface = %q, want nil (any host)", got)
	}
	if got := hostList(" a.example , *.b.example,", "127.0.0.1:1"); strings.Join(got, "|") != "a.example|*.b.example" {
		t.Errorf("hostList = %q", got)
	}
}
