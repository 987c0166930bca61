//go:build !race

// The race detector changes what allocates (sync.Pool drops items at random under it), so
// these guards run without it: "make test" runs them in a separate, race-free pass.

package socketio

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tether-rt/tether/engineio"
)

// TestBroadcastAllocatesNothingPerRecipient guards the broadcast path: the event is encoded
// once, and handing it to each recipient's session allocates nothing, so a broadcast costs the
// same allocations whatever the room's size.
func TestBroadcastAllocatesNothingPerRecipient(t *testing.T) {
	t.Run("NoObserver", func(t *testing.T) { testBroadcastAllocations(t, nil) })
	// An Observer is told of the broadcast and of each event sent; that must not allocate
	// either (the observer here allocates nothing of its own).
	t.Run("Observer", func(t *testing.T) { testBroadcastAllocations(t, &countingObserver{}) })
}

func testBroadcastAllocations(t *testing.T, obs Observer) {
	allocs := func(n int) float64 {
		srv := NewServer(&ServerOptions{Observer: obs})
		conns := fakeConnect(t, srv, n)
		defer closeFakes(conns)
		for _, s := range srv.Of("/").Sockets() {
			s.Join("room")
		}
		op := srv.To("room")
		return testing.AllocsPerRun(50, func() {
			if err := op.Emit("price", "ACME", 101.25); err != nil {
				t.Fatal(err)
			}
		})
	}
	few, many := allocs(10), allocs(2000)
	if many > few {
		t.Fatalf("a broadcast to 2,000 sockets makes %.0f allocations, to 10 sockets %.0f: delivery allocates per recipient", many, few)
	}
	if few > 16 {
		t.Fatalf("a broadcast makes %.0f allocations; it made 10 when this guard was written", few)
	}
}

// TestEventAllocationBound holds an incoming event's memory to a small multiple of its size, from
// the parser to the handler's re-emit, whatever its shape and whatever the handler's
// parameters: decoding into Go values is bounded by MaxDecodedValues, and what is beyond it is
// refused before anything is decoded. Through Args, as tether testserver takes them, an event
// costs 2 bytes per byte (the emit's copy and its text form); one string decoded and emitted
// again costs up to 5 (the string, encoding/json's buffer, which grows by doubling when its
// pool is empty, its copy, the text form). Before the bound, one array of 400,000 numbers cost
// 53 bytes per byte through an any, and 400,000 arguments 71 even through Args.
func TestEventAllocationBound(t *testing.T) {
	for _, h := range echoHandlers {
		bound := 5.25
		if h.name == "Args" {
			bound = 2.5
		}
		e := newEventServer(t, nil, h.fn)
		for _, ev := range bigEvents() {
			e.receive(ev.data) // warm up
			if got := allocatedPerByte(2, len(ev.data), func() { e.receive(ev.data) }); got > bound {
				t.Errorf("%s handler, %s: %.2f bytes allocated per byte of the event, want at most %v", h.name, ev.name, got, bound)
			}
		}
		e.close()
	}
}

// TestEventAllocationAtTheBound pins the cost of what MaxDecodedValues lets through: an event just
// within the bound allocates at most 4 bytes per byte of it plus 500 bytes per JSON value
// decoded, decoding and re-emitting included (objects of one member nested in each other,
// decoded into maps, are the costliest, at about 440; numbers cost 40). At the default of
// 10,000 values that is at most about 5 MB for one handler.
func TestEventAllocationAtTheBound(t *testing.T) {
	const maxValues = 1000
	list := func(n int, elem string) string { return strings.TrimSuffix(strings.Repeat(elem+",", n), ",") }
	// Objects of one member each, nested n deep: a map a value, the costliest.
	chain := func(n int) string { return strings.Repeat(`{"":`, n-1) + "{}" + strings.Repeat("}", n-1) }
	shapes := []struct {
		name, args string
		values     int
	}{
		{"Numbers", "[" + list(maxValues-1, "1") + "]", maxValues},
		{"Strings", "[" + list(maxValues-1, `""`) + "]", maxValues},
		{"EmptyArrays", "[" + list(maxValues-1, "[]") + "]", maxValues},
		{"EmptyObjects", "[" + list(maxValues-1, "{}") + "]", maxValues},
		{"SmallObjects", "[" + list(maxValues/2-1, `{"a":1}`) + "]", maxValues - 1},
		{"Nested", chain(maxDecodedDepth), maxDecodedDepth},
		{"Chains", "[" + list(15, chain(maxDecodedDepth-1)) + "]", 15*(maxDecodedDepth-1) + 1},
	}
	for _, h := range echoHandlers {
		e := newEventServer(t, &ServerOptions{MaxDecodedValues: maxValues}, h.fn)
		for _, sh := range shapes {
			if n, ok := countValues([]byte(sh.args), maxValues); !ok || n != sh.values {
				t.Fatalf("%s: %d values (within the bound: %v), want %d", sh.name, n, ok, sh.values)
			}
			data := []byte(`2["message",` + sh.args + `]`)
			e.receive(data)
			got := allocatedPerByte(2, len(data), func() { e.receive(data) }) * float64(len(data))
			if bound := 4*float64(len(data)) + 500*float64(sh.values); got > bound {
				t.Errorf("%s handler, %s: %.0f bytes allocated for %d bytes and %d values, want at most %.0f", h.name, sh.name, got, len(data), sh.values, bound)
			}
		}
		e.close()
	}
}

// TestReemitBinaryArgsAllocation guards passing on received arguments that carry binary after
// another binary value, whose placeholders are renumbered: by a scan, not by decoding them
// (which cost 60 bytes per byte of an array of numbers).
func TestReemitBinaryArgsAllocation(t *testing.T) {
	e := newEventServer(t, nil, func(s *Socket, args Args) { s.Emit("message-back", []byte("first"), args) })
	defer e.close()
	text := []byte(`51-["message",[` + strings.Repeat("1,", 200_000) + `{"_placeholder":true,"num":0}]]`)
	receive := func() {
		e.conn.receive(engineio.Message{Data: text})
		e.conn.receive(engineio.Message{Data: []byte("attachment"), Binary: true})
		drainHandlers(e.srv)
	}
	receive()
	if got := allocatedPerByte(2, len(text), receive); got > 3.5 {
		t.Errorf("%.2f bytes allocated per byte of the event, want at most 3.5", got)
	}
}

// TestRelayEmitAllocations guards what a relay's emit costs, Emit(name, args) of the Args a
// handler received: the name goes straight into the array (no slice of values, no boxing of the
// name, no encoding of it on its own), and straight into the Engine.IO message's buffer
// (newRelayPacket). It made 5 allocations when this guard was written, 6 before
// newRelayPacket and 9 before encodeEvent: the Args's boxing into Emit's ...any, the Packet,
// its slice of messages, and the Engine.IO message's buffer and struct.
func TestRelayEmitAllocations(t *testing.T) {
	srv := NewServer(nil)
	conns := fakeConnect(t, srv, 1)
	defer closeFakes(conns)
	s := srv.Of("/").Sockets()[0]
	args := Args{raw: []json.RawMessage{json.RawMessage(`"` + strings.Repeat("x", 64) + `"`)}}
	got := testing.AllocsPerRun(200, func() {
		if err := s.Emit("message-back", args); err != nil {
			t.Fatal(err)
		}
	})
	if got > 5 {
		t.Fatalf("a relay emit makes %.0f allocations, want at most 5", got)
	}
}

// TestEchoAllocations guards the allocations of a whole event and its answer, as
// BenchmarkEcho counts them: parsed, handed to the socket's handlers, answered by an emit of
// the Args received (Echo) or by returning them as the acknowledgement (Ack). When this guard
// was written, Echo made 8 (12 before encodeEvent and newRelayPacket) and Ack 6 (13 before its
// Ack was made only for handlers that take one, and a returned Args was written straight into
// the Engine.IO message).
func TestEchoAllocations(t *testing.T) {
	payload := `"` + strings.Repeat("x", 64) + `"`
	for _, tc := range []struct {
		name, msg string
		fn        any
		bound     float64
	}{
		{"Echo", `2["message",` + payload + `]`, func(s *Socket, args Args) { _ = s.Emit("message-back", args) }, 8},
		{"Ack", `21["message",` + payload + `]`, func(s *Socket, args Args) Args { return args }, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewServer(nil)
			srv.On("message", tc.fn)
			c, fs := fakeConnectOne(t, srv)
			defer closeFakes([]*conn{c})
			sent := make(chan struct{}, 1)
			fs.onSend = func([]*engineio.PreparedMessage) { sent <- struct{}{} }
			data := []byte(tc.msg)
			got := testing.AllocsPerRun(500, func() {
				c.receive(engineio.Message{Data: data})
				<-sent
			})
			// Half an allocation of slack: a worker goroutine started or reaped during the
			// runs allocates too, and AllocsPerRun counts every goroutine's.
			if got > tc.bound+0.5 {
				t.Fatalf("an event and its answer make %.1f allocations, want at most %.0f", got, tc.bound)
			}
		})
	}
}
