package redis

import (
	"runtime"
	"sync"
)

// A node reads the broadcasts of the other nodes from one goroutine (the link's subscription,
// or the streams adapter's reader). Delivered there one socket after another, a broadcast to
// many local sockets would hold the node to one core's pace (about 100,000 deliveries a
// second), however many it has. So the recipients of one broadcast are split among a few
// goroutines, and the next message waits until they are all done: every socket still gets the
// messages of the goroutine reading Redis in the order Redis gave them, which is each
// publisher's order, and offsets reach each socket in order. Nothing is queued, so a node that
// falls behind holds no more memory than before: Redis buffers what it has not read yet, up to
// its client-output-buffer-limit for pub/sub clients, then drops the subscription (logged once
// by the link as an outage of the subscription, which go-redis renews); what was published
// meanwhile is lost to this node, as pub/sub is at most once. The streams adapter's reader
// then resumes from its last offset and loses nothing still in the stream.
//
// Two alternatives were set aside. Workers each owning a shard of the sockets would need their
// own copy of the rooms (memory per idle connection) and a hand-off per broadcast per worker,
// even for a room of two. Workers each owning the broadcasts of some publishers would leave a
// single publisher (an Emitter, say) one core still.

// minShare is the fewest recipients worth a goroutine of their own: starting one and waiting
// for it costs a few µs, the time of one delivery or two, so a broadcast to fewer than two
// shares is delivered where it was read, as before, and costs nothing more.
const minShare = 64

// splitter returns the split function of MemoryAdapter.BroadcastSplit for up to workers
// goroutines (GOMAXPROCS when workers is 0 or less), the calling one included, each given at
// least share recipients (minShare when share is 0 or less: a test makes it 1).
func splitter(workers, share int) func(n int, deliver func(from, to int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if share <= 0 {
		share = minShare
	}
	return func(n int, deliver func(from, to int)) {
		parts := min(workers, n/share)
		if parts <= 1 {
			deliver(0, n)
			return
		}
		var wg sync.WaitGroup
		for i := 1; i < parts; i++ {
			from, to := i*n/parts, (i+1)*n/parts
			wg.Go(func() { deliver(from, to) })
		}
		deliver(0, n/parts)
		wg.Wait()
	}
}
