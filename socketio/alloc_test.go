//go:build !race

// The race detector changes what allocates (sync.Pool drops items at random under it), so
// these guards run without it: "make test" runs them in a separate, race-free pass.

package socketio

import "testing"

// TestBroadcastAllocatesNothingPerRecipient guards the broadcast path: the event is encoded
// once, and handing it to each recipient's session allocates nothing, so a broadcast costs the
// same allocations whatever the room's size.
func TestBroadcastAllocatesNothingPerRecipient(t *testing.T) {
	allocs := func(n int) float64 {
		srv := NewServer(nil)
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
