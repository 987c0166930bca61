package socketio

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// countingObserver counts what it is told, with atomics only, so that it allocates nothing and
// the benchmarks and allocation guards measure the core's cost of an Observer, not its own.
type countingObserver struct {
	connected, disconnected, refused atomic.Int64
	received, sent, broadcasts       atomic.Int64
	recipients                       atomic.Int64
	ackWaiting, ackOK, ackFailed     atomic.Int64
}

func (o *countingObserver) SocketConnected(string)                      { o.connected.Add(1) }
func (o *countingObserver) SocketDisconnected(string, DisconnectReason) { o.disconnected.Add(1) }
func (o *countingObserver) ConnectRefused(string)                       { o.refused.Add(1) }
func (o *countingObserver) EventReceived(string, string)                { o.received.Add(1) }
func (o *countingObserver) EventSent(string, *Packet)                   { o.sent.Add(1) }
func (o *countingObserver) Broadcast(_ string, n int) {
	o.broadcasts.Add(1)
	o.recipients.Add(int64(n))
}
func (o *countingObserver) AckWaiting(string) { o.ackWaiting.Add(1) }
func (o *countingObserver) AckDone(_ string, _ time.Duration, ok bool) {
	if ok {
		o.ackOK.Add(1)
	} else {
		o.ackFailed.Add(1)
	}
}

// recordingObserver keeps the names and reasons it is told, for the checks that need them.
type recordingObserver struct {
	countingObserver
	mu      sync.Mutex
	events  []string // "in:nsp:event" and "out:nsp:event"
	reasons []DisconnectReason
}

func (o *recordingObserver) EventReceived(nsp, event string) {
	o.countingObserver.EventReceived(nsp, event)
	o.mu.Lock()
	o.events = append(o.events, "in:"+nsp+":"+event)
	o.mu.Unlock()
}

func (o *recordingObserver) EventSent(nsp string, p *Packet) {
	o.countingObserver.EventSent(nsp, p)
	o.mu.Lock()
	o.events = append(o.events, "out:"+nsp+":"+p.Event())
	o.mu.Unlock()
}

func (o *recordingObserver) SocketDisconnected(nsp string, reason DisconnectReason) {
	o.countingObserver.SocketDisconnected(nsp, reason)
	o.mu.Lock()
	o.reasons = append(o.reasons, reason)
	o.mu.Unlock()
}

// TestObserverSeesSocketsEventsAndBroadcasts drives three sockets through an event whose
// handler broadcasts, a refused connection and the disconnections, and checks each count.
func TestObserverSeesSocketsEventsAndBroadcasts(t *testing.T) {
	obs := &recordingObserver{}
	srv := NewServer(&ServerOptions{Observer: obs})
	done := make(chan struct{})
	srv.Of("/").On("shout", func(s *Socket, text string) {
		srv.Emit("heard", text)
		close(done)
	})
	conns := fakeConnect(t, srv, 3)
	if got := obs.connected.Load(); got != 3 {
		t.Fatalf("SocketConnected called %d times, want 3", got)
	}
	conns[0].receive(engineio.Message{Data: []byte(`2["shout","hi"]`)})
	<-done
	if got, want := obs.recipients.Load(), int64(3); obs.broadcasts.Load() != 1 || got != want {
		t.Fatalf("Broadcast: %d calls reaching %d sockets, want 1 reaching %d", obs.broadcasts.Load(), got, want)
	}
	closeFakes(conns)
	obs.mu.Lock()
	defer obs.mu.Unlock()
	want := []string{"in:/:shout", "out:/:heard", "out:/:heard", "out:/:heard"}
	if len(obs.events) != len(want) {
		t.Fatalf("events %q, want %q", obs.events, want)
	}
	for i := range want {
		if obs.events[i] != want[i] {
			t.Fatalf("events %q, want %q", obs.events, want)
		}
	}
	if len(obs.reasons) != 3 {
		t.Fatalf("SocketDisconnected called %d times, want 3", len(obs.reasons))
	}
	for _, r := range obs.reasons {
		if r != ReasonTransportClose {
			t.Fatalf("disconnect reasons %q, want transport close", obs.reasons)
		}
	}
}

// TestObserverSeesRefusals checks that a socket a middleware refuses is counted as refused,
// and never as connected or disconnected.
func TestObserverSeesRefusals(t *testing.T) {
	obs := &countingObserver{}
	srv := NewServer(&ServerOptions{Observer: obs})
	srv.Of("/").Use(func(*Socket) error { return &ConnectError{Message: "no"} })
	c := newConn(srv, &fakeSession{id: randomID()})
	c.receive(engineio.Message{Data: []byte("0")})
	deadline := time.Now().Add(10 * time.Second)
	for obs.refused.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	closeFakes([]*conn{c})
	if obs.refused.Load() != 1 || obs.connected.Load() != 0 || obs.disconnected.Load() != 0 {
		t.Fatalf("refused %d, connected %d, disconnected %d; want 1, 0, 0",
			obs.refused.Load(), obs.connected.Load(), obs.disconnected.Load())
	}
}

// TestObserverAckGivenUp has the server wait for an acknowledgement that never comes (the
// fake client answers nothing) until its context ends: AckWaiting, then AckDone not ok.
func TestObserverAckGivenUp(t *testing.T) {
	obs := &countingObserver{}
	srv := NewServer(&ServerOptions{Observer: obs})
	conns := fakeConnect(t, srv, 1)
	defer closeFakes(conns)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := srv.Of("/").Sockets()[0].EmitWithAck(ctx, "question"); !errors.Is(err, context.Canceled) {
		t.Fatalf("EmitWithAck: %v, want context.Canceled", err)
	}
	if obs.ackWaiting.Load() != 1 || obs.ackOK.Load() != 0 || obs.ackFailed.Load() != 1 || obs.sent.Load() != 1 {
		t.Fatalf("ack waiting %d, ok %d, failed %d, events sent %d; want 1, 0, 1, 1",
			obs.ackWaiting.Load(), obs.ackOK.Load(), obs.ackFailed.Load(), obs.sent.Load())
	}
}
