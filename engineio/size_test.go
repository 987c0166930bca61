package engineio

import (
	"testing"
	"unsafe"
)

// TestIdleSessionSizeClasses guards the size of what every idle session holds: each struct
// is one allocation, rounded up by the runtime to a size class, so a field that crosses a
// class boundary costs the whole step (32 bytes past 240 or 96) on every session.
func TestIdleSessionSizeClasses(t *testing.T) {
	for _, c := range []struct {
		name        string
		size, limit uintptr
	}{
		{"Session", unsafe.Sizeof(Session{}), 240},
		{"RequestInfo", unsafe.Sizeof(RequestInfo{}), 96},
	} {
		if c.size > c.limit {
			t.Errorf("%s is %d bytes, over its %d-byte size class: order its fields so that it has no padding, or make a field that only some sessions need lazy", c.name, c.size, c.limit)
		}
	}
}
