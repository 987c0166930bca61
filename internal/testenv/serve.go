package testenv

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
)

// Listen returns a listener on a free loopback port, closed when the test ends.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Serve runs serve on a listener on a free loopback port until the test ends, and returns
// the listener's address (127.0.0.1:port). At the end of the test serve's context is canceled
// and Serve waits for it to return: a server still running when the next test starts would
// make that test's goroutine and port checks lie. An error from serve fails the test.
func Serve(t testing.TB, serve func(ctx context.Context, ln net.Listener) error) string {
	t.Helper()
	ln := Listen(t)
	// Not t.Context(): that is canceled before cleanups run, and the order of the shutdown
	// (first this server, then what other cleanups close) must be the test's to choose.
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("testenv: serve on %s: %v", ln.Addr(), err)
		}
	})
	return ln.Addr().String()
}

// Buffer is a bytes.Buffer safe for concurrent use: the output of a process or a logger that
// a test reads while it is still being written.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// BrowserUpgradeRequest is a WebSocket upgrade of target (a path and query) as a browser
// sends it, minus cookies: a benchmark writes it on a raw connection, so that what it measures
// is the server's side of a handshake.
func BrowserUpgradeRequest(target string) string {
	return "GET " + target + " HTTP/1.1\r\n" +
		"Host: 127.0.0.1\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: */*\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate\r\n" +
		"Origin: http://127.0.0.1\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Connection: keep-alive, Upgrade\r\n" +
		"Pragma: no-cache\r\n" +
		"Cache-Control: no-cache\r\n" +
		"Upgrade: websocket\r\n\r\n"
}
