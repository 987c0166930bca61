package httpserver

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewLimits(t *testing.T) {
	tests := []struct {
		limits                 Limits
		header, idle           time.Duration
		maxHeaderBytes, wantNH int // the head limit, and http.Server.MaxHeaderBytes
	}{
		{Limits{}, 10 * time.Second, 30 * time.Second, 16384, 12288},
		{Limits{HeaderTimeout: time.Second, IdleTimeout: 2 * time.Second, MaxHeaderBytes: 8192}, time.Second, 2 * time.Second, 8192, 4096},
		{Limits{HeaderTimeout: -1, IdleTimeout: -1, MaxHeaderBytes: -1}, 10 * time.Second, 30 * time.Second, 16384, 12288},
		{Limits{MaxHeaderBytes: 100}, 10 * time.Second, 30 * time.Second, MinMaxHeaderBytes, 1},
	}
	for _, tt := range tests {
		hs := New(http.NotFoundHandler(), tt.limits, nil)
		if hs.ReadHeaderTimeout != tt.header || hs.IdleTimeout != tt.idle || hs.MaxHeaderBytes != tt.wantNH {
			t.Errorf("%+v: ReadHeaderTimeout %v, IdleTimeout %v, MaxHeaderBytes %d; want %v, %v, %d",
				tt.limits, hs.ReadHeaderTimeout, hs.IdleTimeout, hs.MaxHeaderBytes, tt.header, tt.idle, tt.wantNH)
		}
		if hs.ReadTimeout != 0 || hs.WriteTimeout != 0 {
			t.Errorf("%+v: ReadTimeout %v, WriteTimeout %v; want none (long polls, hijacked WebSockets)", tt.limits, hs.ReadTimeout, hs.WriteTimeout)
		}
		if hs.ErrorLog == nil {
			t.Errorf("%+v: no ErrorLog: net/http would write to the standard logger", tt.limits)
		}
	}
}

// serveTest serves New(h, limits, logger) on a loopback port until the test ends.
func serveTest(t *testing.T, h http.Handler, limits Limits, logger *slog.Logger) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := New(h, limits, logger)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(Listener(ln, nil))
	}()
	t.Cleanup(func() {
		hs.Close()
		<-done
	})
	return ln.Addr().String()
}

// statusOfHead sends a GET whose head (request line and headers) is size
// bytes long and returns the response's status line.
func statusOfHead(t *testing.T, addr string, size int) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	head, end := "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ", "\r\n\r\n"
	req := head + strings.Repeat("a", size-len(head)-len(end)) + end
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the answer to a %d-byte head: %v", size, err)
	}
	return strings.TrimSpace(line)
}

// TestHeadLimitExact checks that MaxHeaderBytes is the exact limit on a
// request's head, as in Node, although net/http reads past its own.
func TestHeadLimitExact(t *testing.T) {
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, limit := range []int{DefaultMaxHeaderBytes, 8192} {
		addr := serveTest(t, ok, Limits{MaxHeaderBytes: limit}, nil)
		if got := statusOfHead(t, addr, limit); got != "HTTP/1.1 200 OK" {
			t.Errorf("limit %d: a head of %d bytes: %q, want 200", limit, limit, got)
		}
		if got := statusOfHead(t, addr, limit+1); got != "HTTP/1.1 431 Request Header Fields Too Large" {
			t.Errorf("limit %d: a head of %d bytes: %q, want 431", limit, limit+1, got)
		}
	}
}
