package engineio

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// settledGoroutines waits for the goroutine count to stop falling (handshake goroutines of
// net/http ending) and returns it.
func settledGoroutines() int {
	n, same := runtime.NumGoroutine(), 0
	for range 100 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			if same++; same == 15 { // 300 ms: longer than a watched connection lingers
				break
			}
		} else {
			same = 0
		}
		n = m
	}
	return n
}

// TestIdleWebSocketSessionsHoldNoGoroutine opens WebSocket sessions, one of them upgraded
// from polling, and counts the goroutines they hold while idle: none on readiness, one each
// with BlockingReads. Each then still gets its messages echoed.
func TestIdleWebSocketSessionsHoldNoGoroutine(t *testing.T) {
	if p, err := websocket.NewPoller(); errors.Is(err, websocket.ErrPollUnsupported) {
		t.Skipf("no websocket.Poller on %s", runtime.GOOS)
	} else if err != nil {
		t.Fatal(err)
	} else {
		p.Close()
	}
	const n = 40
	for _, blocking := range []bool{false, true} {
		t.Run(fmt.Sprintf("BlockingReads=%v", blocking), func(t *testing.T) {
			hs, _ := echoServer(t, ServerOptions{BlockingReads: blocking})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/engine.io/?EIO=4&transport=websocket"
			open := func(url string) *websocket.Conn {
				c, _, err := websocket.Dial(ctx, url, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.CloseNow() })
				return c
			}
			// One session first, so that the server's and the Poller's goroutines run.
			first := open(wsURL)
			if _, _, err := first.Read(ctx); err != nil {
				t.Fatal(err)
			}
			base := settledGoroutines()
			conns := []*websocket.Conn{first}
			for range n - 1 {
				c := open(wsURL)
				if _, b, err := c.Read(ctx); err != nil || b[0] != '0' {
					t.Fatalf("open packet %q %v", b, err)
				}
				conns = append(conns, c)
			}
			// And one upgraded from polling.
			o := handshakePolling(t, hs.URL)
			u := open(wsURL + "&sid=" + o.SID)
			u.Write(ctx, websocket.MessageText, []byte("2probe"))
			if _, b, err := u.Read(ctx); err != nil || string(b) != "3probe" {
				t.Fatalf("probe answer %q %v", b, err)
			}
			u.Write(ctx, websocket.MessageText, []byte("5"))
			conns = append(conns, u)
			boundedHTTP.CloseIdleConnections() // the poll's keep-alive connection has goroutines
			held := settledGoroutines() - base
			if !blocking && held > 1 {
				buf := make([]byte, 1<<16)
				t.Fatalf("%d idle sessions on readiness hold %d goroutines, want none (1 allowed for net/http's)\n%s",
					n, held, buf[:runtime.Stack(buf, true)])
			}
			if blocking && held < n {
				t.Fatalf("%d idle sessions with BlockingReads hold %d goroutines, want one each: the count does not see them", n, held)
			}
			for i, c := range conns {
				c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, "4hello %d", i))
			}
			for i, c := range conns {
				for {
					_, b, err := c.Read(ctx)
					if err != nil {
						t.Fatalf("session %d: %v", i, err)
					}
					if string(b) == "6" || string(b) == "2" {
						continue // a noop for the paused poll; a ping
					}
					if want := fmt.Sprintf("4hello %d", i); string(b) != want {
						t.Fatalf("session %d got %q, want %q", i, b, want)
					}
					break
				}
			}
		})
	}
}
