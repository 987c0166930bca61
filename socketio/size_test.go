package socketio

import (
	"testing"
	"unsafe"
)

// TestIdleSocketSizeClasses guards the size of what every idle Socket.IO connection holds:
// each struct is one allocation, rounded up by the runtime to a size class, so a field that
// crosses a class boundary costs the whole step (32 bytes past 448, 16 past 144) on every
// connection.
func TestIdleSocketSizeClasses(t *testing.T) {
	for _, c := range []struct {
		name        string
		size, limit uintptr
	}{
		{"Socket", unsafe.Sizeof(Socket{}), 448},
		{"conn", unsafe.Sizeof(conn{}), 144},
	} {
		if c.size > c.limit {
			t.Errorf("%s is %d bytes, over its %d-byte size class: order its fields so that it has no padding, or make a field that only some sockets need lazy", c.name, c.size, c.limit)
		}
	}
}
