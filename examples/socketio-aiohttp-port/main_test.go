package main

import (
	"bufio"
	"context"
	"github.com/tether-rt/tether/internal/siotest"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startTutorial runs the example on a free port with clientDir and returns
// its base URL and the lines it prints; it stops when t ends.
func startTutorial(t *testing.T, clientDir string) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, ln, pw, clientDir)
		pw.Close()
		done <- err
	}()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		for range lines { // until the printer is done
		}
	})
	return "http://" + ln.Addr().String(), lines
}

func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("the server stopped printing")
		}
		return l
	case <-timer.C:
		t.Fatal("the server printed nothing within 10s")
	}
	return ""
}

func TestPrintsMessages(t *testing.T) {
	base, lines := startTutorial(t, t.TempDir())
	c := siotest.Dial(t, base)
	for _, msg := range []string{"Hello, server!", "κόσμε"} {
		c.Emit("message", msg)
		if got, want := nextLine(t, lines), "Socket ID: "+c.SID(); got != want {
			t.Fatalf("printed %q, want %q", got, want)
		}
		if got := nextLine(t, lines); got != msg {
			t.Fatalf("printed %q, want %q", got, msg)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

func TestServesPageAndBundle(t *testing.T) {
	dir := t.TempDir()
	const bundle = "/* the socket.io-client bundle */"
	if err := os.WriteFile(filepath.Join(dir, bundleName), []byte(bundle), 0o644); err != nil {
		t.Fatal(err)
	}
	base, _ := startTutorial(t, dir)

	code, body := get(t, base+"/")
	if code != http.StatusOK || !strings.Contains(body, `src="/socket.io/socket.io.min.js"`) {
		t.Fatalf("GET /: %d, page without the bundle's script tag:\n%s", code, body)
	}
	if code, body := get(t, base+"/socket.io/socket.io.min.js"); code != http.StatusOK || body != bundle {
		t.Fatalf("GET the bundle: %d %q", code, body)
	}
	if code, _ := get(t, base+"/nothing-here"); code != http.StatusNotFound {
		t.Fatalf("GET /nothing-here: %d, want 404", code)
	}
}

func TestMissingBundleSaysHowToInstall(t *testing.T) {
	base, _ := startTutorial(t, filepath.Join(t.TempDir(), "absent"))
	code, body := get(t, base+"/socket.io/socket.io.min.js")
	if code != http.StatusNotFound || !strings.Contains(body, "npm ci") {
		t.Fatalf("GET the missing bundle: %d %q, want 404 saying how to install it", code, body)
	}
}
