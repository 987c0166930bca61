package socketio

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestBroadcastSplit: the recipients of a broadcast handed to split in two ranges delivered
// at once each get it once; with recovery on it is kept with the next offset, as Broadcast
// would keep it; the Observer hears of it with every recipient.
func TestBroadcastSplit(t *testing.T) {
	obs := &countingObserver{}
	var mem *MemoryAdapter
	srv := NewServer(&ServerOptions{
		Observer: obs,
		Recovery: &RecoveryOptions{MaxDisconnectionDuration: time.Minute},
		Adapter: func(h AdapterHost) Adapter {
			a := NewMemoryAdapter(h)
			if h.Namespace() == "/" {
				mem = a
			}
			return a
		},
	})
	const sockets = 200
	conns := fakeConnect(t, srv, sockets)
	defer closeFakes(conns)
	sent := func(c *conn) int64 { return c.es.(*fakeSession).sent.Load() }
	before := make([]int64, sockets)
	for i, c := range conns {
		before[i] = sent(c)
	}

	first, err := NewPacket("/", "first")
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Broadcast(first, BroadcastOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := NewPacket("/", "second")
	if err != nil {
		t.Fatal(err)
	}
	got := -1
	err = mem.BroadcastSplit(p, BroadcastOptions{}, func(n int, deliver func(from, to int)) {
		got = n
		var wg sync.WaitGroup
		wg.Go(func() { deliver(0, n/2) })
		wg.Go(func() { deliver(n/2, n) })
		wg.Wait()
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != sockets {
		t.Fatalf("split was given %d recipients, want %d", got, sockets)
	}
	for i, c := range conns {
		if d := sent(c) - before[i]; d != 2 {
			t.Fatalf("socket %d got %d messages, want 2 (one per broadcast)", i, d)
		}
	}
	if b, r := obs.broadcasts.Load(), obs.recipients.Load(); b != 2 || r != 2*sockets {
		t.Fatalf("observer: %d broadcasts to %d recipients, want 2 to %d", b, r, 2*sockets)
	}
	missed, err := mem.MissedPackets(context.Background(), mem.epoch+"-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(missed) != 1 || missed[0].Event() != "second" || missed[0].offset != mem.epoch+"-2" {
		t.Fatalf("kept after the first broadcast: %v, want the second with offset %s-2", missed, mem.epoch)
	}
}
