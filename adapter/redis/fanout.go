package redis

import (
	"runtime"
	"sync/atomic"
)

// A node reads the broadcasts of the other nodes from one goroutine (the link's subscription,
// or the streams adapter's reader). Delivered there one socket after another, a broadcast to
// many local sockets would hold the node to one core's pace (about 100,000 deliveries a
// second), however many it has. So the recipients of one broadcast are split among a few
// goroutines, and the next message waits until they are all done: every socket still gets the
// messages of the goroutine reading Redis in the order Redis gave them, which is each
// publisher's order, and offsets reach each socket in order. Nothing is queued, so a node that
// falls behind holds no more memory than before: the kernel's socket buffers, then Redis, hold
// what it has not read, up to Redis's client-output-buffer-limit for pub/sub clients, past
// which Redis drops the subscription (logged once by the link as an outage of the
// subscription, which go-redis renews: TestNodeFallsBehind); what was published meanwhile is
// lost to this node, as pub/sub is at most once. The streams adapter's reader reads on from
// its last offset and loses nothing still in the stream.
//
// Two alternatives were set aside. Workers each owning a shard of the sockets would need their
// own copy of the rooms (memory per idle connection) and a hand-off per broadcast per worker,
// even for a room of two. Workers each owning the broadcasts of some publishers would leave a
// single publisher (an Emitter, say) one core still.

// minShare is the fewest recipients worth another goroutine, and the size of the pieces the
// goroutines take in turn. Measured with BenchmarkRemoteBroadcast on a busy 2-core machine, pieces
// of 64 made a broadcast to 200 sockets cost about 15% more CPU per delivery (1.8 against 2.2 µs:
// waking a helper, waiting for it, sockets' state moving between cores) for no gain in time. With
// 256, a broadcast to fewer than 512 sockets is delivered where it was read, as before, and a
// piece (a few ms of writes) is still small enough for the others to take over a stalled
// goroutine's share.
const minShare = 256

// splitter returns the split function of MemoryAdapter.BroadcastSplit for up to workers
// goroutines (GOMAXPROCS when workers is 0 or less), the calling one included, taking share
// recipients at a time (minShare when share is 0 or less: a test makes it 1).
//
// The goroutines take pieces in turn rather than a half each: on a machine whose cores are
// busy with other work, a goroutine's thread may wait long for a core, and the others then
// take its pieces. The caller waits only for the pieces under way, never for a goroutine that
// has not started yet (that one finds nothing left and ends).
func splitter(workers, share int) func(n int, deliver func(from, to int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if share <= 0 {
		share = minShare
	}
	return func(n int, deliver func(from, to int)) {
		helpers := min(workers, n/share) - 1
		if helpers <= 0 {
			deliver(0, n)
			return
		}
		p := &pieces{n: n, share: share, deliver: deliver, done: make(chan struct{})}
		for range helpers {
			go p.take()
		}
		if !p.take() {
			<-p.done
		}
	}
}

// pieces is one broadcast's recipients, delivered share at a time by whichever goroutine takes
// the next piece.
type pieces struct {
	n, share  int
	deliver   func(from, to int)
	next      atomic.Int64 // the first recipient of the next piece to take
	delivered atomic.Int64
	done      chan struct{} // closed when every recipient is delivered
}

// take delivers pieces until none is left, and reports whether it delivered the last of them.
func (p *pieces) take() (last bool) {
	for {
		from := int(p.next.Add(int64(p.share))) - p.share
		if from >= p.n {
			return last
		}
		to := min(from+p.share, p.n)
		p.deliver(from, to)
		if p.delivered.Add(int64(to-from)) == int64(p.n) {
			close(p.done)
			last = true
		}
	}
}
