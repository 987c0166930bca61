package socketio

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestSortByAddress checks the broadcast's radix sort against a comparison sort, on
// sockets allocated apart (their addresses differ in many bits, several passes) and
// shuffled, with the scratch slice reused between calls.
func TestSortByAddress(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tmp []*Socket
	for _, n := range []int{0, 1, 2, 3, 100, 5000} {
		ss := make([]*Socket, n)
		for i := range ss {
			ss[i] = &Socket{}
			if i%7 == 0 {
				_ = make([]byte, 1<<20) // move the heap on: addresses far apart
			}
		}
		want := slices.Clone(ss)
		slices.SortFunc(want, func(a, b *Socket) int {
			x, y := uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(b))
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		})
		rng.Shuffle(n, func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
		tmp = sortByAddress(ss, tmp)
		if !slices.Equal(ss, want) {
			t.Fatalf("%d sockets: not in address order", n)
		}
		for _, s := range tmp {
			if s != nil {
				t.Fatalf("%d sockets: the scratch slice keeps a socket alive", n)
			}
		}
	}
}
