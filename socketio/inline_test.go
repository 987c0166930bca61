package socketio

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// releasingSession is a fake Engine.IO session that can release its reader (readerReleaser),
// as a session reading a WebSocket would: its messages are delivered by one goroutine at a
// time from in, and a release starts the next reader while the released delivery goes on.
type releasingSession struct {
	fakeSession
	c        *conn
	in       chan engineio.Message
	mu       sync.Mutex
	gen      int // the current reader's generation
	readers  sync.WaitGroup
	releases atomic.Int32
}

func newReleasingSession(srv *Server) *releasingSession {
	f := &releasingSession{fakeSession: fakeSession{id: randomID()}, in: make(chan engineio.Message, 64)}
	f.c = newConn(srv, f)
	f.readers.Add(1)
	go f.read(0)
	return f
}

func (f *releasingSession) read(gen int) {
	defer f.readers.Done()
	for m := range f.in {
		f.c.receive(m)
		f.mu.Lock()
		moved := f.gen != gen
		f.mu.Unlock()
		if moved {
			return
		}
	}
}

func (f *releasingSession) ReleaseReader() bool {
	f.releases.Add(1)
	f.mu.Lock()
	f.gen++
	gen := f.gen
	f.mu.Unlock()
	f.readers.Add(1)
	go f.read(gen)
	return true
}

// close ends the session: no more messages, and the readers gone.
func (f *releasingSession) close() {
	close(f.in)
	f.readers.Wait()
	f.c.onClose(ReasonTransportClose, nil)
}

// goid returns the calling goroutine's id, for tests to tell which goroutine ran a handler.
func goid() string {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	return string(b[:bytes.IndexByte(b, ' ')])
}

func inlineServer() *Server {
	srv := NewServer(nil)
	srv.inlineHandlers = true
	return srv
}

func waitConnected(t *testing.T, srv *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.Of("/").Sockets()) < n {
		if time.Now().After(deadline) {
			t.Fatal("socket not connected")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestInlineHandlersKeepOrder sends a socket many events, some of whose handlers take a while
// so that later ones queue behind them: every event is handled once, in order, and those that
// found the socket idle ran on the reader.
func TestInlineHandlersKeepOrder(t *testing.T) {
	srv := inlineServer()
	var (
		mu     sync.Mutex
		got    []int
		inline atomic.Int32
	)
	readerID := make(chan string, 1)
	srv.On("reader", func(s *Socket, a Args) { readerID <- goid() })
	var reader string
	srv.On("n", func(s *Socket, n int) {
		if goid() == reader {
			inline.Add(1)
		}
		if n%10 == 0 {
			time.Sleep(time.Millisecond) // the next events queue behind this one
		}
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	})
	f := newReleasingSession(srv)
	f.in <- engineio.Message{Data: []byte("0")}
	waitConnected(t, srv, 1)
	f.in <- engineio.Message{Data: []byte(`2["reader"]`)}
	reader = <-readerID // set before the events below are sent
	const events = 300
	for i := range events {
		f.in <- engineio.Message{Data: []byte(`2["n",` + strconv.Itoa(i) + `]`)}
		if i%50 == 0 {
			time.Sleep(time.Millisecond) // let the socket go idle now and then
		}
	}
	f.close()
	drainHandlers(srv)
	srv.workers.close()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != events {
		t.Fatalf("%d events handled, want %d", len(got), events)
	}
	for i, n := range got {
		if n != i {
			t.Fatalf("event %d handled at position %d: order lost (%v)", n, i, got)
		}
	}
	if inline.Load() == 0 {
		t.Fatal("no event ran on the reader")
	}
	if f.releases.Load() != 0 {
		t.Fatalf("%d releases without an acknowledgement awaited", f.releases.Load())
	}
}

// TestInlineHandlerWaitsForOwnAck runs, on the reader, a handler that waits for its own
// client's acknowledgement, which only that session's reader can deliver: the reader is
// released, the acknowledgement arrives, and the events sent meanwhile are handled after the
// waiting handler, in order.
func TestInlineHandlerWaitsForOwnAck(t *testing.T) {
	srv := inlineServer()
	results := make(chan string, 10)
	srv.On("ask", func(s *Socket, a Args) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		reply, err := s.EmitWithAck(ctx, "question")
		if err != nil {
			results <- "ask: " + err.Error()
			return
		}
		var answer string
		_ = reply.Decode(&answer)
		results <- "ask: " + answer
	})
	srv.On("later", func(s *Socket, n int) { results <- fmt.Sprint("later: ", n) })
	f := newReleasingSession(srv)
	f.in <- engineio.Message{Data: []byte("0")}
	waitConnected(t, srv, 1)
	sent := f.sent.Load()
	f.in <- engineio.Message{Data: []byte(`2["ask"]`)}
	// Events for the same socket, sent before the acknowledgement: they wait for "ask".
	f.in <- engineio.Message{Data: []byte(`2["later",1]`)}
	f.in <- engineio.Message{Data: []byte(`2["later",2]`)}
	deadline := time.Now().Add(10 * time.Second)
	for f.sent.Load() == sent { // the question is out
		if time.Now().After(deadline) {
			t.Fatal("the question was never sent")
		}
		time.Sleep(time.Millisecond)
	}
	// The server's first acknowledgement id of namespace "/" is 0.
	f.in <- engineio.Message{Data: []byte(`30["forty-two"]`)}
	want := []string{"ask: forty-two", "later: 1", "later: 2"}
	for _, w := range want {
		select {
		case got := <-results:
			if got != w {
				t.Fatalf("got %q, want %q", got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q: the handler waiting for its acknowledgement holds the reader", w)
		}
	}
	if f.releases.Load() != 1 {
		t.Fatalf("%d releases, want 1", f.releases.Load())
	}
	f.close()
	drainHandlers(srv)
	srv.workers.close()
}

// TestNoInlineWithoutRelease checks that handlers stay off the reader of a session that cannot
// release it: a handler waiting for its own acknowledgement would hold the reader for good.
func TestNoInlineWithoutRelease(t *testing.T) {
	srv := inlineServer()
	ran := make(chan string, 1)
	srv.On("m", func(s *Socket, a Args) { ran <- goid() })
	c := fakeConnect(t, srv, 1)[0]
	defer closeFakes([]*conn{c})
	if c.releaser != nil {
		t.Fatal("a fakeSession cannot release its reader")
	}
	c.receive(engineio.Message{Data: []byte(`2["m"]`)})
	if id := <-ran; id == goid() {
		t.Fatal("the handler ran on the reader")
	}
}
