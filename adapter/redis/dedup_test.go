package redis

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// clock is a settable time for dedup.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestDedup() (*dedup, *clock) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	return newDedup(c.now), c
}

// q is number n of the queue's lane, as seq carries it.
func q(n uint64) uint64 { return n<<1 | laneQueued }

func TestDedupWindow(t *testing.T) {
	type step struct {
		n     uint64
		fresh bool
	}
	steps := func(s ...any) []step {
		var out []step
		for i := 0; i < len(s); i += 2 {
			out = append(out, step{uint64(s[i].(int)), s[i+1].(bool)})
		}
		return out
	}
	tests := []struct {
		name  string
		seen  []uint64 // accepted first, in order
		steps []step
	}{
		{"in order", nil, steps(1, true, 2, true, 3, true, 4, true)},
		{"duplicate", []uint64{1, 2, 3}, steps(3, false, 1, false, 2, false, 4, true, 4, false)},
		{"gaps are not duplicates", []uint64{1, 5, 9}, steps(2, true, 7, true, 10, true, 5, false)},
		{"reordered within the window", []uint64{100}, steps(99, true, 50, true, 100-windowBits+1, true, 99, false, 50, false)},
		{"far behind the window", []uint64{windowBits + 100}, steps(100, false, 99, false, 101, true, 1, false)},
		{"jump past the window forgets all", []uint64{1, 2, 3}, steps(3+2*windowBits, true, 4+windowBits, true, 3+windowBits, false)},
		// A jump reuses the ring's slots: those of the numbers passed over must be
		// cleared, and only those.
		{"slots reused after a jump", []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, steps(windowBits+4, true, windowBits+3, true, windowBits+5, true, 5, false, 6, false, 10, false, windowBits+2, true)},
		{"first message anywhere", nil, steps(1_000_000, true, 999_999, true, 1_000_000, false)},
		{"word boundaries", []uint64{63, 64, 65, 127, 128}, steps(64, false, 66, true, 127, false, 128+windowBits-64, true, 128, false, 129, true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := newTestDedup()
			for _, n := range tt.seen {
				if !d.fresh("a", q(n)) {
					t.Fatalf("setting up: %d not fresh", n)
				}
			}
			for i, s := range tt.steps {
				if got := d.fresh("a", q(s.n)); got != s.fresh {
					t.Fatalf("step %d: number %d: fresh %v, want %v", i, s.n, got, s.fresh)
				}
			}
		})
	}
}

// TestDedupModel checks the window against an exact record of every number, over random
// runs of in-order numbers, gaps, repeats and reorderings.
func TestDedupModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for run := range 20 {
		d, _ := newTestDedup()
		seen := map[uint64]bool{}
		var top uint64
		next := uint64(1)
		for i := range 20000 {
			var n uint64
			switch k := r.IntN(10); {
			case k < 5: // the next one, or after a gap
				n = next + uint64(r.IntN(3))*uint64(r.IntN(2))
				next = n + 1
			case k < 7: // a repeat or a late one, near the top
				back := uint64(r.IntN(300))
				if back >= next {
					back = next - 1
				}
				n = next - back
			case k < 9: // anywhere in the window and a little past it
				back := uint64(r.IntN(windowBits + 200))
				if back >= next {
					back = next - 1
				}
				n = next - back
			default: // a jump
				n = next + uint64(r.IntN(3*windowBits))
				next = n + 1
			}
			want := !seen[n] && n+windowBits > top
			if got := d.fresh("a", q(n)); got != want {
				t.Fatalf("run %d step %d: number %d (top %d): fresh %v, want %v", run, i, n, top, got, want)
			}
			if want {
				seen[n] = true
				top = max(top, n)
			}
		}
	}
}

func TestDedupSenders(t *testing.T) {
	t.Run("no number", func(t *testing.T) {
		d, _ := newTestDedup()
		for range 3 {
			if !d.fresh("node", 0) || !d.fresh("node", 1) {
				t.Fatal("a message without a number is a repeat")
			}
		}
		if len(d.senders) != 0 {
			t.Fatalf("%d senders remembered for messages without numbers", len(d.senders))
		}
	})
	t.Run("senders apart", func(t *testing.T) {
		d, _ := newTestDedup()
		if !d.fresh("a", q(7)) || !d.fresh("b", q(7)) {
			t.Fatal("the same number from two senders is a repeat")
		}
	})
	t.Run("publisher restart", func(t *testing.T) {
		// A restarted node has a new uid and counts from 1 again.
		d, _ := newTestDedup()
		for n := range uint64(1000) {
			d.fresh("old", q(n+1))
		}
		for n := range uint64(10) {
			if !d.fresh("new", q(n+1)) {
				t.Fatalf("number %d of the restarted node is a repeat", n+1)
			}
		}
	})
	t.Run("lanes apart", func(t *testing.T) {
		// A direct XADD may overtake thousands of queued messages, and the other way round.
		d, _ := newTestDedup()
		if !d.fresh("a", 5<<1|laneDirect) || !d.fresh("a", q(5)) {
			t.Fatal("number 5 of one lane is a repeat of number 5 of the other")
		}
		if !d.fresh("a", (3*windowBits)<<1|laneDirect) || !d.fresh("a", q(6)) {
			t.Fatal("the direct lane's top pushed the queued lane's window")
		}
		if d.fresh("a", 5<<1|laneDirect) {
			t.Fatal("a repeat in the direct lane is fresh")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		d, c := newTestDedup()
		for i := range maxSenders + 50 {
			c.t = c.t.Add(time.Millisecond)
			d.fresh(fmt.Sprint("node", i), q(1))
			if len(d.senders) > maxSenders {
				t.Fatalf("%d senders remembered, at most %d", len(d.senders), maxSenders)
			}
		}
		// The least recently heard went first; the most recent are still known.
		if _, ok := d.senders[senderKey{"node0", laneQueued}]; ok {
			t.Fatal("the oldest sender is still remembered")
		}
		last := fmt.Sprint("node", maxSenders+49)
		if d.fresh(last, q(1)) {
			t.Fatal("the newest sender was forgotten")
		}
	})
	t.Run("silent senders forgotten", func(t *testing.T) {
		d, c := newTestDedup()
		d.fresh("gone", q(1))
		c.t = c.t.Add(senderIdle / 2)
		d.fresh("alive", q(1))
		c.t = c.t.Add(senderIdle/2 + time.Second)
		d.fresh("new", q(1)) // a new sender makes the table look for silent ones
		if _, ok := d.senders[senderKey{"gone", laneQueued}]; ok {
			t.Fatal("a sender silent for senderIdle is remembered")
		}
		if _, ok := d.senders[senderKey{"alive", laneQueued}]; !ok {
			t.Fatal("a sender heard from within senderIdle was forgotten")
		}
	})
}

// TestStamp writes numbers of every size into each placeholder and reads them back as a
// receiver does.
func TestStamp(t *testing.T) {
	for _, seq := range []uint64{2, 126, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1 << 53, 1<<63 - 1} {
		t.Run(fmt.Sprint(seq), func(t *testing.T) {
			msg := object("uid", str("abc"), "type", integer(3), "data", object("x", binary([]byte{1})))

			j := outgoing{payload: withSeq(msg).json()}
			stampJSON.write(&j, seq)
			v, err := decodeJSON(j.payload)
			if err != nil || seqOf(v) != seq || v.field("uid").s != "abc" {
				t.Fatalf("JSON %s: seq %d, %v", j.payload, seqOf(v), err)
			}

			var buf bytes.Buffer
			if err := withSeq(msg).encodeMsgpack(&buf); err != nil {
				t.Fatal(err)
			}
			m := outgoing{payload: buf.Bytes()}
			stampMsgpack.write(&m, seq)
			if v, err := decodeMsgpack(m.payload); err != nil || seqOf(v) != seq || !v.field("data").hasBinary() {
				t.Fatalf("MessagePack % x: seq %d, %v", m.payload, seqOf(v), err)
			}

			// The classic broadcast: Node reads the first three elements.
			buf.Reset()
			if err := array(str("abc"), object("type", integer(2)), object(), integer(0)).encodeMsgpack(&buf); err != nil {
				t.Fatal(err)
			}
			a := outgoing{payload: buf.Bytes()}
			stampMsgpack.write(&a, seq)
			if v, err := decodeMsgpack(a.payload); err != nil || len(v.items) != 4 || v.items[3].i != int64(seq) {
				t.Fatalf("broadcast % x: %v", a.payload, err)
			}

			f := outgoing{fields: append(streamFields(msg), "seq", "0")}
			stampField.write(&f, seq)
			values := map[string]any{}
			for i := 0; i < len(f.fields); i += 2 {
				values[f.fields[i]] = f.fields[i+1]
			}
			d, _ := newTestDedup()
			if !d.freshEntry(values) || d.freshEntry(values) {
				t.Fatalf("stream entry %v: not told apart from its repeat", f.fields)
			}
		})
	}
}

// TestEnqueueNumbers checks that the link numbers messages in the order they are queued.
func TestEnqueueNumbers(t *testing.T) {
	l := &link{wake: make(chan struct{}, 1)}
	for i := range 5 {
		l.publish("ch", withSeq(object("i", integer(int64(i)))).json(), stampJSON)
	}
	l.enqueue(outgoing{stream: "s", fields: []string{"uid", "a", "seq", "0"}, stamp: stampField})
	l.publish("ch", []byte("not numbered"), stampNone)
	for i, m := range l.queue[:5] {
		v, err := decodeJSON(m.payload)
		if err != nil || seqOf(v) != q(uint64(i+1)) {
			t.Fatalf("message %d: %s: %v", i, m.payload, err)
		}
	}
	if got := l.queue[5].fields[3]; got != fmt.Sprint(q(6)) {
		t.Fatalf("stream entry numbered %s, want %d", got, q(6))
	}
	if string(l.queue[6].payload) != "not numbered" {
		t.Fatalf("unnumbered message changed: %s", l.queue[6].payload)
	}
	if a, b := l.nextDirectSeq(), l.nextDirectSeq(); a&1 != laneDirect || b != a+2 {
		t.Fatalf("direct numbers %d, %d", a, b)
	}
}
