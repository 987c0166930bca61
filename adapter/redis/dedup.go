package redis

import (
	"strconv"
	"sync"
	"time"
)

// A Tether node numbers what it publishes so that the Tether nodes receiving it deliver each
// message once, although Redis may run it more than once: a PUBLISH or XADD that timed out
// may still sit in Redis's socket buffer (Redis paused, a slow network) while the publishing
// loop, or go-redis itself (MaxRetries), sends it again.
//
// The number, seq, rides where Node's adapters do not look: a fourth element of the classic
// broadcast array [uid, packet, opts], a "seq" field of the JSON and MessagePack objects, and
// a "seq" field of stream entries (Node reads named fields only). Messages from Node nodes
// carry none and are delivered as before. The sender is the message's uid (a responder's uid
// is added to the classic responses, which Node sends without one).
//
// seq is n<<1 | lane. Messages of one lane reach Redis in the order of n: lane 0 is the
// link's publishing queue, which numbers messages as it queues them; lane 1 is the XADDs the
// streams adapter makes at once, outside the queue, so they can overtake queued ones by any
// number. Each lane has its own window at the receiver.

// lanes of seq.
const (
	laneQueued = 0
	laneDirect = 1
)

const (
	// windowBits is how far behind the newest number of a sender (and lane) a number may
	// arrive and still be told apart from a repeat. Repeats come from the retries of one
	// batch (at most maxBatch messages) while the next batch waits for that one; older
	// numbers are dropped unseen, as possible repeats.
	windowBits = 4096
	// maxSenders bounds the senders a receiver remembers (512 bytes each); past it the one
	// heard from least recently is forgotten.
	maxSenders = 1024
	// senderIdle is how long a silent sender is remembered. Its repeats arrive within
	// seconds of the first copy (the retries of a batch); a node that went away is forgotten.
	senderIdle = 10 * time.Minute
)

// dedup tells the first copy of a numbered message from its repeats, for one receiver (a
// namespace's subscription, or a stream reader). It is safe for concurrent use.
type dedup struct {
	now func() time.Time

	mu        sync.Mutex
	senders   map[senderKey]*window
	lastSweep time.Time
}

type senderKey struct {
	uid  string
	lane uint8
}

// window is the anti-replay window of RFC 4303 (3.4.3) for one sender: the highest number
// seen and which of the windowBits numbers up to it were seen, as a ring indexed by number.
type window struct {
	top   uint64
	bits  [windowBits / 64]uint64
	heard time.Time
}

func newDedup(now func() time.Time) *dedup {
	return &dedup{now: now, senders: map[senderKey]*window{}}
}

// fresh reports whether the message numbered seq by sender uid is one this receiver has
// not had, and records it. A message without a number (seq 0: from a Node node) is always
// fresh.
func (d *dedup) fresh(uid string, seq uint64) bool {
	n := seq >> 1
	if n == 0 {
		return true
	}
	key := senderKey{uid, uint8(seq & 1)}
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.senders[key]
	if w == nil {
		d.makeRoom(now)
		w = &window{}
		d.senders[key] = w
	}
	w.heard = now
	return w.accept(n)
}

// freshEntry is fresh for a stream entry's fields, for code reading the stream. Replaying
// a stream range for a restored session: give a new dedup the entries before and at the
// client's offset (which it had), then every entry after it, skipping those not fresh.
func (d *dedup) freshEntry(fields map[string]any) bool {
	uid, _ := fields["uid"].(string)
	s, _ := fields["seq"].(string)
	seq, _ := strconv.ParseUint(s, 10, 64)
	return d.fresh(uid, seq)
}

// makeRoom forgets senders silent for senderIdle (looking at most every half of it), and
// the least recently heard when maxSenders are remembered still.
func (d *dedup) makeRoom(now time.Time) {
	if now.Sub(d.lastSweep) >= senderIdle/2 {
		d.lastSweep = now
		for k, w := range d.senders {
			if now.Sub(w.heard) >= senderIdle {
				delete(d.senders, k)
			}
		}
	}
	if len(d.senders) < maxSenders {
		return
	}
	var oldest senderKey
	var at time.Time
	first := true
	for k, w := range d.senders {
		if first || w.heard.Before(at) {
			oldest, at, first = k, w.heard, false
		}
	}
	delete(d.senders, oldest)
}

// accept records number n (> 0), reporting whether it was new.
func (w *window) accept(n uint64) bool {
	switch {
	case n > w.top:
		w.clearAbove(n)
		w.top = n
	case w.top-n >= windowBits:
		return false // too old to tell: maybe a repeat
	case w.bits[n%windowBits/64]&(1<<(n%64)) != 0:
		return false
	}
	w.bits[n%windowBits/64] |= 1 << (n % 64)
	return true
}

// clearAbove forgets the numbers the ring holds from before top+1 to n moves over them.
func (w *window) clearAbove(n uint64) {
	if n-w.top >= windowBits {
		clear(w.bits[:])
		return
	}
	for q := w.top + 1; q <= n; {
		i := q % windowBits
		bit := i % 64
		k := min(64-bit, n-q+1) // bits to clear in this word, from bit
		w.bits[i/64] &^= (^uint64(0) >> (64 - k)) << bit
		q += k
	}
}

// seqOf reads the number of a message in the object formats (0 when it has none).
func seqOf(msg value) uint64 {
	n, ok := msg.field("seq").int()
	if !ok || n < 0 {
		return 0
	}
	return uint64(n)
}

// stamp says where an outgoing message's number goes; the link writes it when it queues the
// message, so that numbers follow the queue's order.
type stamp uint8

const (
	stampNone stamp = iota
	// stampJSON: the payload is a JSON object ending in "seq":0}.
	stampJSON
	// stampMsgpack: the payload is MessagePack ending in the 0 (one byte) of its last
	// element, "seq" of an object or the fourth element of the broadcast array.
	stampMsgpack
	// stampField: the stream entry's fields end in "seq", "0".
	stampField
)

// seqRoom is the most a number adds to a placeholder: the payload is grown by it before the
// link's lock is taken, so that stamping under it never copies the payload.
const seqRoom = 20

// withSeq adds the number's placeholder, which must be the object's last field.
func withSeq(msg value) value {
	msg.set("seq", integer(0))
	return msg
}

// write puts seq in m's placeholder.
func (s stamp) write(m *outgoing, seq uint64) {
	switch s {
	case stampJSON:
		b := strconv.AppendUint(m.payload[:len(m.payload)-2], seq, 10)
		m.payload = append(b, '}')
	case stampMsgpack:
		m.payload = appendMsgpackUint(m.payload[:len(m.payload)-1], seq)
	case stampField:
		m.fields[len(m.fields)-1] = strconv.FormatUint(seq, 10)
	}
}

// appendMsgpackUint appends n in its smallest MessagePack form, as JavaScript encoders do.
func appendMsgpackUint(b []byte, n uint64) []byte {
	switch {
	case n < 1<<7:
		return append(b, byte(n))
	case n < 1<<8:
		return append(b, 0xcc, byte(n))
	case n < 1<<16:
		return append(b, 0xcd, byte(n>>8), byte(n))
	case n < 1<<32:
		return append(b, 0xce, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, 0xcf, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
