package engineio

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingObserver counts what an Observer is told.
type countingObserver struct {
	mu                       sync.Mutex
	opened                   []string
	closed                   []CloseReason
	refused                  []int
	upgrades, volatile, slow atomic.Int64
	msgsIn, msgsOut          atomic.Int64
	bytesIn, bytesOut        atomic.Int64
}

func (o *countingObserver) SessionOpened(transport string) {
	o.mu.Lock()
	o.opened = append(o.opened, transport)
	o.mu.Unlock()
}

func (o *countingObserver) SessionClosed(reason CloseReason) {
	o.mu.Lock()
	o.closed = append(o.closed, reason)
	o.mu.Unlock()
}

func (o *countingObserver) RequestRefused(code int) {
	o.mu.Lock()
	o.refused = append(o.refused, code)
	o.mu.Unlock()
}

func (o *countingObserver) Upgraded()             { o.upgrades.Add(1) }
func (o *countingObserver) MessageReceived(n int) { o.msgsIn.Add(1); o.bytesIn.Add(int64(n)) }
func (o *countingObserver) MessageSent(n int)     { o.msgsOut.Add(1); o.bytesOut.Add(int64(n)) }
func (o *countingObserver) VolatileDropped()      { o.volatile.Add(1) }
func (o *countingObserver) SlowClient()           { o.slow.Add(1) }

// TestObserverPolling runs a polling session through an echo, a refused request and the
// client's close, and checks what the Observer was told.
func TestObserverPolling(t *testing.T) {
	obs := &countingObserver{}
	hs, reasons := echoServer(t, ServerOptions{PingInterval: time.Minute, Observer: obs})
	o := handshakePolling(t, hs.URL)
	url := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + o.SID
	if code, _ := post(t, url, "4hello\x1ebAQID"); code != 200 {
		t.Fatal("post")
	}
	if code, body := get(t, url); code != 200 || body != "4hello\x1ebAQID" {
		t.Fatalf("poll: %d %q", code, body)
	}
	if code, _ := get(t, hs.URL+"/engine.io/?EIO=4&transport=polling&sid=nosuchsession"); code != 400 {
		t.Fatalf("unknown session: HTTP %d, want 400", code)
	}
	if code, _ := post(t, url, "1"); code != 200 {
		t.Fatal("close")
	}
	<-reasons // OnClose comes after SessionClosed
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.opened) != 1 || obs.opened[0] != TransportPolling {
		t.Errorf("opened %q, want [polling]", obs.opened)
	}
	if len(obs.closed) != 1 || obs.closed[0] != CloseTransportClose {
		t.Errorf("closed %q, want [transport close]", obs.closed)
	}
	if len(obs.refused) != 1 || obs.refused[0] != CodeUnknownSession {
		t.Errorf("refused %v, want [%d]", obs.refused, CodeUnknownSession)
	}
	// "hello" (5 bytes) and the three bytes of "AQID", each way.
	if obs.msgsIn.Load() != 2 || obs.bytesIn.Load() != 8 || obs.msgsOut.Load() != 2 || obs.bytesOut.Load() != 8 {
		t.Errorf("in %d messages, %d bytes; out %d, %d; want 2, 8 each way",
			obs.msgsIn.Load(), obs.bytesIn.Load(), obs.msgsOut.Load(), obs.bytesOut.Load())
	}
	if obs.upgrades.Load() != 0 || obs.slow.Load() != 0 || obs.volatile.Load() != 0 {
		t.Errorf("upgrades %d, slow %d, volatile drops %d; want none", obs.upgrades.Load(), obs.slow.Load(), obs.volatile.Load())
	}
}

// TestObserverUpgrade has the Go client upgrade a session to WebSocket: one session opened on
// polling, one upgrade.
func TestObserverUpgrade(t *testing.T) {
	obs := &countingObserver{}
	ts := startTestServer(t, ServerOptions{PingInterval: time.Minute, Observer: obs})
	ctx := testContext(t)
	c := dialTest(t, ctx, ts.url, nil)
	deadline := time.Now().Add(10 * time.Second)
	for obs.upgrades.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no upgrade seen; client on %s", c.Transport())
		}
		time.Sleep(5 * time.Millisecond)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.opened) != 1 || obs.opened[0] != TransportPolling || obs.upgrades.Load() != 1 {
		t.Errorf("opened %q, %d upgrades; want [polling] and 1", obs.opened, obs.upgrades.Load())
	}
}

// TestObserverSlowClient fills the send queue of a polling client that does not poll: the
// volatile message sent meanwhile is dropped, and the session is closed as a slow client.
func TestObserverSlowClient(t *testing.T) {
	obs := &countingObserver{}
	opened := make(chan *Session, 1)
	hs, reasons := echoServer(t, ServerOptions{PingInterval: time.Minute, SendQueueSize: 2, Observer: obs,
		OnOpen: func(s *Session) { opened <- s }})
	handshakePolling(t, hs.URL)
	s := <-opened
	msg := NewPreparedMessage([]byte("x"), false)
	// No poll is waiting: the first two wait in the queue, the volatile one is dropped, the
	// third is one too many.
	for i, send := range []func(...*PreparedMessage) error{s.Send, s.Send, s.SendVolatile} {
		if err := send(msg); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := s.Send(msg); err != CloseSendQueueFull {
		t.Fatalf("third Send: %v, want CloseSendQueueFull", err)
	}
	if r := <-reasons; r != CloseSendQueueFull {
		t.Fatalf("closed with %q, want %q", r, CloseSendQueueFull)
	}
	if obs.volatile.Load() != 1 || obs.slow.Load() != 1 || obs.msgsOut.Load() != 2 {
		t.Errorf("volatile drops %d, slow clients %d, messages sent %d; want 1, 1, 2",
			obs.volatile.Load(), obs.slow.Load(), obs.msgsOut.Load())
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.closed) != 1 || obs.closed[0] != CloseSendQueueFull {
		t.Errorf("closed %q, want [%s]", obs.closed, CloseSendQueueFull)
	}
}
