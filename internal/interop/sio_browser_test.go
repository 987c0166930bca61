package interop

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/testenv"
)

// webDir is the demo page's folder, whose npm ci installs the official
// socket.io-client bundle that "tether serve" serves.
const webDir = "../../web"

// sioBrowserPeer drives the demo page in Debian's Chromium.
var sioBrowserPeer = peer{name: "chromium", client: []string{"node", "node/sio-browser.mjs"}}

// TestSIOBrowserDemo runs the README's demo as a user would: the built
// "tether serve", and its chat page in two Chromium tabs with the official
// socket.io-client bundle.
func TestSIOBrowserDemo(t *testing.T) {
	requireBrowser(t)
	bundle := webBundle(t)

	t.Run("chat", func(t *testing.T) {
		srv := startTetherServe(t, bundle)
		const text = `Hello from page A <b>✓</b> & "friends"`
		shot := filepath.Join(t.TempDir(), "demo-chat.png")
		out := runSIOBrowser(t, srv.url, "chat", "--text="+text, "--screenshot="+shot)
		var res struct{ A, B, Received string }
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.A == "" || res.B == "" || res.A == res.B {
			t.Fatalf("page result %s (%v), want two socket ids", out, err)
		}
		checkScreenshot(t, shot)
		// The tutorial's print_message: the sender's id, then the message.
		srv.waitStdout(t, "Socket ID: "+res.A+"\n"+text+"\n")
	})

	t.Run("bundle-missing", func(t *testing.T) {
		srv := startTetherServe(t, filepath.Join(t.TempDir(), "dist"))
		shot := filepath.Join(t.TempDir(), "demo-missing.png")
		runSIOBrowser(t, srv.url, "missing", "--screenshot="+shot)
		checkScreenshot(t, shot)
		if got := srv.stderr.String(); !strings.Contains(got, "no Socket.IO client bundle") || !strings.Contains(got, "npm ci") {
			t.Errorf("tether serve's stderr = %q, want a line saying how to install the bundle", got)
		}
	})
}

// webBundle returns the absolute path of the installed socket.io-client
// bundle folder. A missing or stale web/node_modules skips or fails the test
// as a missing tool: make deps (or make web-deps) installs it.
func webBundle(t *testing.T) string {
	t.Helper()
	testenv.RequireNode(t, webDir)
	dir, err := filepath.Abs(filepath.Join(webDir, "node_modules/socket.io-client/dist"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "socket.io.min.js")); err != nil {
		testenv.Missing(t, "the socket.io-client bundle in web/ is not installed (%v): run make deps", err)
	}
	return dir
}

// runSIOBrowser runs one scenario of node/sio-browser.mjs against the demo
// at url and returns the JSON of its RESULT line.
func runSIOBrowser(t *testing.T, url, scenario string, args ...string) string {
	t.Helper()
	ctx := testContext(t, 60*time.Second)
	args = append([]string{"--chromium=" + chromiumPath, "--tmpdir=" + t.TempDir()}, args...)
	out, err := runClient(ctx, sioBrowserPeer, url, scenario, args...)
	result := ""
	for line := range strings.Lines(out) {
		if j, ok := strings.CutPrefix(line, "RESULT "); ok {
			result = strings.TrimSpace(j)
		}
	}
	if err != nil || result == "" || !strings.Contains(out, "OK "+scenario+"\n") {
		t.Fatalf("sio-browser.mjs %s %q failed (exit: %v), output:\n%s", scenario, args, err, out)
	}
	t.Logf("the page reported %s", result)
	return result
}

// checkScreenshot checks that path holds a PNG, and logs where it is.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	png, err := os.ReadFile(path)
	if err != nil || len(png) < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s: %d bytes, error %v; want a PNG", path, len(png), err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// serveListening is what tether serve prints, followed by its URL, once it
// accepts connections.
const serveListening = "tether serve: listening on "

// startTetherServe starts the built "tether serve --client-dir clientDir" on
// a free port; see startServerProcess.
func startTetherServe(t *testing.T, clientDir string) *serverProcess {
	t.Helper()
	argv := []string{tetherPath(t), "serve", "--addr", "127.0.0.1:0", "--client-dir", clientDir}
	return startServerProcess(t, "tether serve", argv, serveListening)
}

// waitStdout waits, at most 10 s, until the server has printed want. The
// server prints a message before relaying it, but its output reaches us
// through a pipe, so it may lag behind what the page saw.
func (s *serverProcess) waitStdout(t *testing.T, want string) {
	t.Helper()
	for range 200 {
		if strings.Contains(s.stdout.String(), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("tether serve's stdout = %q, want it to contain %q", s.stdout.String(), want)
}
