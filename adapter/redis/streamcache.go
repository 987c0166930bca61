package redis

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tether-rt/tether/socketio"
)

// recentBroadcasts keeps, decoded, the broadcasts the stream reader went through last, so
// that restoring a session reads what the socket missed from memory. Reading it from Redis
// costs a round trip per hundred entries and a decoding of every entry, for every client:
// when a node goes away, its clients come back at once, each wanting the same few seconds of
// the stream, which under recovery also holds every direct emit of the cluster. Bounded in
// entries and in bytes; an offset older than what it holds is read from Redis as before.
type recentBroadcasts struct {
	maxEntries, maxBytes int

	mu      sync.Mutex
	entries []recentBroadcast // in stream order, from head on
	head    int
	bytes   int
	readTo  streamID      // the last entry the reader went through, broadcast or not
	read    chan struct{} // closed, and replaced, when readTo moves
}

type recentBroadcast struct {
	id     streamID
	offset string // the entry's id as Redis wrote it
	nsp    string
	opts   socketio.BroadcastOptions
	packet value // the broadcast's packet, made into a socketio.Packet only when missed
	size   int
}

// streamID is a stream entry's id, milliseconds and sequence, which order the stream.
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) (streamID, bool) {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, false
	}
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	return streamID{a, b}, err1 == nil && err2 == nil
}

func (a streamID) compare(b streamID) int {
	if a.ms != b.ms {
		if a.ms < b.ms {
			return -1
		}
		return 1
	}
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

// add keeps a broadcast the reader read at offset; the reader calls it before it delivers
// the broadcast, so that a restoration either finds it here or, having joined its rooms
// first, gets it delivered (and drops the copy, by offset).
func (r *recentBroadcasts) add(offset, nsp string, opts socketio.BroadcastOptions, packet value, size int) {
	id, ok := parseStreamID(offset)
	if !ok || r.maxEntries <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.entries); n > r.head && r.entries[n-1].id.compare(id) >= 0 {
		return // not after the last one: the stream's order is what lookups rely on
	}
	r.entries = append(r.entries, recentBroadcast{id: id, offset: offset, nsp: nsp, opts: opts, packet: packet, size: size})
	r.bytes += size
	for len(r.entries)-r.head > r.maxEntries || (r.bytes > r.maxBytes && len(r.entries)-r.head > 1) {
		r.bytes -= r.entries[r.head].size
		r.entries[r.head] = recentBroadcast{}
		r.head++
	}
	if r.head > len(r.entries)/2 && r.head > 64 {
		r.entries = append(r.entries[:0], r.entries[r.head:]...)
		clear(r.entries[len(r.entries):cap(r.entries)])
		r.head = 0
	}
}

// reset forgets every entry.
func (r *recentBroadcasts) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.entries)
	r.entries, r.head, r.bytes, r.readTo = r.entries[:0], 0, 0, streamID{}
}

// advance records that the reader went through the stream up to offset, every broadcast up
// to it added.
func (r *recentBroadcasts) advance(offset string) {
	id, ok := parseStreamID(offset)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if id.compare(r.readTo) > 0 {
		r.readTo = id
		if r.read != nil {
			close(r.read)
			r.read = nil
		}
	}
}

// waitRead waits until the reader has gone through the stream up to last, and reports
// whether it did before ctx ended.
func (r *recentBroadcasts) waitRead(ctx context.Context, last string) bool {
	id, ok := parseStreamID(last)
	if !ok {
		return false
	}
	for {
		r.mu.Lock()
		if r.readTo.compare(id) >= 0 {
			r.mu.Unlock()
			return true
		}
		if r.read == nil {
			r.read = make(chan struct{})
		}
		read := r.read
		r.mu.Unlock()
		select {
		case <-read:
		case <-ctx.Done():
			return false
		}
	}
}

// missed returns the broadcasts of host's namespace after offset that a socket in rooms was
// among the recipients of, each with its offset, and true; or false when offset is not
// among the entries kept (older, or not read yet), and the stream must be read instead.
func (r *recentBroadcasts) missed(host socketio.AdapterHost, offset string, rooms []string) ([]*socketio.Packet, bool) {
	nsp := host.Namespace()
	id, ok := parseStreamID(offset)
	if !ok {
		return nil, false
	}
	r.mu.Lock()
	kept := r.entries[r.head:]
	i, found := slices.BinarySearchFunc(kept, id, func(e recentBroadcast, id streamID) int { return e.id.compare(id) })
	if !found {
		r.mu.Unlock()
		return nil, false
	}
	type hit struct {
		offset string
		packet value
	}
	var hits []hit
	for _, e := range kept[i+1:] {
		if e.nsp == nsp && missedBy(rooms, e.opts) {
			hits = append(hits, hit{e.offset, e.packet})
		}
	}
	r.mu.Unlock()
	missed := make([]*socketio.Packet, 0, len(hits))
	for _, h := range hits {
		if p, err := eventPacket(host, h.packet); err == nil {
			missed = append(missed, p.WithOffset(h.offset))
		}
	}
	return missed, true
}

// pendingDeliveries are local deliveries waiting for the reader to reach their stream entry,
// by the entry's uid and number. One that waits longer than pendingDeliveryTTL is given up:
// its entry is in the stream (a recovery replays it) or never made it.
type pendingDeliveries struct {
	mu      sync.Mutex
	waiting map[string]pendingDelivery
	adds    int // since the last sweep of the deliveries the reader never reached
}

type pendingDelivery struct {
	deliver func(offset string)
	since   time.Time
}

const pendingDeliveryTTL = time.Minute

func (p *pendingDeliveries) add(key string, deliver func(offset string)) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waiting == nil {
		p.waiting = map[string]pendingDelivery{}
	}
	if p.adds++; p.adds >= 1024 {
		// Now and then, not on every add: forget the deliveries the reader never reached.
		p.adds = 0
		for k, d := range p.waiting {
			if now.Sub(d.since) > pendingDeliveryTTL {
				delete(p.waiting, k)
			}
		}
	}
	p.waiting[key] = pendingDelivery{deliver, now}
}

// take removes and returns the delivery waiting for key, or nil.
func (p *pendingDeliveries) take(key string) func(offset string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.waiting[key]
	if !ok {
		return nil
	}
	delete(p.waiting, key)
	return d.deliver
}
