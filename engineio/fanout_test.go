package engineio

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// fanoutSessions opens n WebSocket sessions on a server with opts and returns the server's
// sessions and the clients, in the same order, each client past its open packet.
func fanoutSessions(t testing.TB, n int, opts ServerOptions) ([]*Session, []*websocket.Conn) {
	t.Helper()
	opened := make(chan *Session, n)
	opts.OnOpen = func(s *Session) { opened <- s }
	if opts.PingInterval == 0 {
		opts.PingInterval = time.Hour
	}
	srv := NewServer(&opts)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/engine.io/?EIO=4&transport=websocket"
	sessions := make([]*Session, n)
	clients := make([]*websocket.Conn, n)
	for i := range n {
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		if _, b, err := c.Read(ctx); err != nil || b[0] != '0' {
			t.Fatalf("open packet %q, %v", b, err)
		}
		clients[i], sessions[i] = c, <-opened
	}
	return sessions, clients
}

// TestFanoutKeepsEachSessionsOrder sends numbered messages to more sessions than a chunk
// holds, through two Fanouts at once that take the sessions in opposite orders (each may
// find a session held by the other: it must not wait for it while holding others), and
// through direct Sends of a third goroutine. Every client must get each sender's messages
// in order, and all of them.
func TestFanoutKeepsEachSessionsOrder(t *testing.T) {
	const n, rounds = fanoutChunk + 30, 20
	sessions, clients := fanoutSessions(t, n, ServerOptions{})
	msgs := func(sender string) []*PreparedMessage {
		ms := make([]*PreparedMessage, rounds)
		for r := range ms {
			ms[r] = NewPreparedMessage([]byte(sender+strconv.Itoa(r)), false)
		}
		return ms
	}
	fwd, back, direct := msgs("f"), msgs("b"), msgs("d")
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		var f Fanout
		for r := range rounds {
			for _, s := range sessions {
				_ = f.Send(s, false, fwd[r])
			}
			f.Flush()
		}
	}()
	go func() {
		defer wg.Done()
		var f Fanout
		for r := range rounds {
			for i := range sessions {
				_ = f.Send(sessions[len(sessions)-1-i], false, back[r])
			}
			f.Flush()
		}
	}()
	go func() {
		defer wg.Done()
		for r := range rounds {
			for _, s := range sessions {
				_ = s.Send(direct[r])
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make(chan error, n)
	for i, c := range clients {
		go func() {
			next := map[byte]int{}
			for range 3 * rounds {
				_, b, err := c.Read(ctx)
				if err != nil {
					errs <- fmt.Errorf("client %d: %v after %v", i, err, next)
					return
				}
				// "4" then the sender's letter and the round.
				sender, r := b[1], string(b[2:])
				if want := strconv.Itoa(next[sender]); r != want {
					errs <- fmt.Errorf("client %d: %q from %c, want round %s", i, b, sender, want)
					return
				}
				next[sender]++
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

// TestFanoutSlowClient checks the back-pressure rules through a Fanout: a client that
// reads nothing gets its messages queued (its socket full), within the queue's bounds, and
// is disconnected past them; the others receive every message meanwhile.
func TestFanoutSlowClient(t *testing.T) {
	const n, size, rounds = 4, 64 << 10, 200 // 12.5 MiB each: more than a socket buffers
	closed := make(chan *Session, n)
	sessions, clients := fanoutSessions(t, n, ServerOptions{
		SendQueueBytes: 1 << 20,
		OnClose: func(s *Session, r CloseReason, _ error) {
			if r == CloseSendQueueFull {
				closed <- s
			}
		},
	})
	m := NewPreparedMessage([]byte(strings.Repeat("x", size)), false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The readers keep pace with the sender: each round leaves when they have the last.
	got := make(chan error, n-1)
	for i, c := range clients[1:] { // clients[0] never reads
		go func() {
			for r := range rounds {
				_, b, err := c.Read(ctx)
				if err == nil && len(b) != size+1 {
					err = fmt.Errorf("%d bytes", len(b))
				}
				if err != nil {
					got <- fmt.Errorf("client %d, message %d: %v", i+1, r, err)
					return
				}
				got <- nil
			}
		}()
	}
	var f Fanout
	for range rounds {
		for _, s := range sessions {
			_ = f.Send(s, false, m)
		}
		f.Flush()
		for range n - 1 {
			if err := <-got; err != nil {
				t.Fatal(err)
			}
		}
	}
	select {
	case s := <-closed:
		if s != sessions[0] {
			t.Fatalf("session %s closed for a full queue, want the slow one, %s", s.ID(), sessions[0].ID())
		}
	case <-ctx.Done():
		t.Fatal("the client that reads nothing was not disconnected")
	}
}

// TestFanoutFallsBack checks what a Fanout leaves to Session.send: several messages at once,
// and a closed session, whose close reason Send returns.
func TestFanoutFallsBack(t *testing.T) {
	sessions, clients := fanoutSessions(t, 2, ServerOptions{})
	var f Fanout
	a, b := NewPreparedMessage([]byte("a"), false), NewPreparedMessage([]byte("b"), false)
	if err := f.Send(sessions[0], false, a); err != nil {
		t.Fatal(err)
	}
	// Two messages: the deferred write is made first, then these, in order.
	if err := f.Send(sessions[0], false, b, a); err != nil {
		t.Fatal(err)
	}
	sessions[1].Close()
	if err := f.Send(sessions[1], false, a); err != CloseServerClose {
		t.Fatalf("Send to a closed session: %v, want %v", err, CloseServerClose)
	}
	f.Flush()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, want := range []string{"4a", "4b", "4a"} {
		if _, got, err := clients[0].Read(ctx); err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
}
