package websocket

import (
	"testing"
	"unsafe"
)

// TestConnSizeClass guards the size of what every idle connection holds: the Conn is one
// allocation, and the runtime rounds it up to a size class, so a field added past 512 bytes
// costs 64 bytes per connection (the next class is 576), not its own size.
func TestConnSizeClass(t *testing.T) {
	const limit = 512
	if n := unsafe.Sizeof(Conn{}); n > limit {
		t.Fatalf("Conn is %d bytes, over the %d-byte size class: order its fields so that it has no padding, or make a field that only a read or a write in progress needs lazy", n, limit)
	}
}
