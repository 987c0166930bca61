//go:build !race

// The race detector changes what allocates; "make test" runs the allocation guards without it.

package engineio

import "testing"

// TestFanoutAllocatesNothingPerRecipient guards the broadcast path over real WebSocket
// sessions: a Fanout's sends and writes allocate nothing per session, so a broadcast costs
// the same allocations whatever its number of recipients. The clients read nothing
// meanwhile (their socket buffers take the few small messages), so that every allocation
// counted is the server's.
func TestFanoutAllocatesNothingPerRecipient(t *testing.T) {
	m := NewPreparedMessage([]byte(`2["price","ACME",101.25]`), false)
	allocs := func(n int) float64 {
		sessions, _ := fanoutSessions(t, n, ServerOptions{})
		var f Fanout
		return testing.AllocsPerRun(20, func() {
			for _, s := range sessions {
				if err := f.Send(s, false, m); err != nil {
					t.Fatal(err)
				}
			}
			f.Flush()
		})
	}
	few, many := allocs(4), allocs(2*fanoutChunk+10)
	if many > few {
		t.Fatalf("a fan-out to %d sessions makes %.1f allocations, to 4 sessions %.1f: it allocates per recipient", 2*fanoutChunk+10, many, few)
	}
}
