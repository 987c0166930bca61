package socketio

import (
	"slices"
	"testing"
)

// Namespaces lists what Of made and what clients joined, and not the parents of OfMatch.
func TestServerNamespaces(t *testing.T) {
	srv, _ := hostServer(t, nil)
	srv.Of("/chat")
	srv.OfMatch(func(string) bool { return true })
	var names []string
	for _, n := range srv.Namespaces() {
		names = append(names, n.Name())
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"/", "/chat"}) {
		t.Fatalf("namespaces %q", names)
	}
}

// A namespace's room listener hears its rooms change, with the socket, until it is removed.
func TestNamespaceOnRoomEvent(t *testing.T) {
	srv, _ := hostServer(t, nil)
	var log roomLog
	remove := srv.Of("/").OnRoomEvent(log.add)
	conns := fakeConnect(t, srv, 1)
	defer closeFakes(conns)
	s := srv.Of("/").Sockets()[0]
	s.Join("a")
	s.Leave("a")
	id := s.ID()
	want := []RoomEvent{{RoomCreated, id, ""}, {RoomJoined, id, id},
		{RoomCreated, "a", ""}, {RoomJoined, "a", id}, {RoomLeft, "a", id}, {RoomDeleted, "a", ""}}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	remove()
	s.Join("b")
	if got := log.take(); len(got) != 0 {
		t.Fatalf("removed listener heard %v", got)
	}
}

// ClientID is the connection's: the same for the sockets of one connection in several
// namespaces, different between connections.
func TestSocketClientID(t *testing.T) {
	srv, _ := hostServer(t, nil)
	conns := fakeConnect(t, srv, 2)
	defer closeFakes(conns)
	got := map[string]bool{}
	for _, s := range srv.Of("/").Sockets() {
		if s.ClientID() != s.conn.es.ID() || s.ClientID() == s.ID() {
			t.Fatalf("client id %q for socket %q of session %q", s.ClientID(), s.ID(), s.conn.es.ID())
		}
		got[s.ClientID()] = true
	}
	if len(got) != 2 {
		t.Fatalf("client ids %v", got)
	}
}
