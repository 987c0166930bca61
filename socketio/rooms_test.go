package socketio

import (
	"slices"
	"testing"
)

// Socket.Leave takes any number of rooms, as Join does.
func TestSocketLeaveRooms(t *testing.T) {
	srv, _ := hostServer(t, nil)
	conns := fakeConnect(t, srv, 1)
	defer closeFakes(conns)
	s := srv.Of("/").Sockets()[0]
	s.Join("a", "b", "c")
	s.Leave("a", "c", "not-in")
	want := []string{"b", s.ID()}
	slices.Sort(want)
	if got := s.Rooms(); !slices.Equal(got, want) {
		t.Fatalf("rooms %v, want %v", got, want)
	}
	s.Leave()
	if got := s.Rooms(); !slices.Equal(got, want) {
		t.Fatalf("after leaving none: %v", got)
	}
}
