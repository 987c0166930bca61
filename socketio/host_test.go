package socketio

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// hostServer returns a server whose adapters are in-memory ones, and the host of its main
// namespace, as an adapter factory is given it.
func hostServer(t *testing.T, opts *ServerOptions) (*Server, AdapterHost) {
	t.Helper()
	if opts == nil {
		opts = &ServerOptions{}
	}
	var root AdapterHost
	opts.Adapter = func(h AdapterHost) Adapter {
		if h.Namespace() == "/" {
			root = h
		}
		return NewMemoryAdapter(h)
	}
	srv := NewServer(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, root
}

// roomLog records room events.
type roomLog struct {
	mu     sync.Mutex
	events []RoomEvent
}

func (l *roomLog) add(e RoomEvent) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *roomLog) take() []RoomEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// Every room listener hears each change, in order, until it is removed.
func TestAdapterHostRoomEvents(t *testing.T) {
	srv, host := hostServer(t, nil)
	var first, second roomLog
	removeFirst := host.OnRoomEvent(first.add)
	host.OnRoomEvent(second.add)

	conns := fakeConnect(t, srv, 1)
	defer closeFakes(conns)
	s := srv.Of("/").Sockets()[0]
	id := s.ID()
	own := []RoomEvent{{RoomCreated, id, ""}, {RoomJoined, id, id}}
	for _, l := range []*roomLog{&first, &second} {
		if got := l.take(); !slices.Equal(got, own) {
			t.Fatalf("on connect: %v, want %v", got, own)
		}
	}

	s.Join("a", "a")
	s.Leave("a")
	s.Leave("a") // not in it: nothing happens
	want := []RoomEvent{{RoomCreated, "a", ""}, {RoomJoined, "a", id}, {RoomLeft, "a", id}, {RoomDeleted, "a", ""}}
	for _, l := range []*roomLog{&first, &second} {
		if got := l.take(); !slices.Equal(got, want) {
			t.Fatalf("join and leave: %v, want %v", got, want)
		}
	}

	removeFirst()
	removeFirst() // a second call changes nothing
	s.Join("b")
	if got := first.take(); len(got) != 0 {
		t.Fatalf("removed listener heard %v", got)
	}
	if got := second.take(); !slices.Equal(got, []RoomEvent{{RoomCreated, "b", ""}, {RoomJoined, "b", id}}) {
		t.Fatalf("remaining listener heard %v", got)
	}
	if RoomDeleted.String() != "delete-room" || RoomEventKind(0).String() != "unknown" {
		t.Fatalf("names %q %q", RoomDeleted, RoomEventKind(0))
	}
}

// What a host says of local and remote sockets, and what it delivers.
func TestAdapterHostSockets(t *testing.T) {
	srv, host := hostServer(t, nil)
	conns := fakeConnect(t, srv, 1)
	defer closeFakes(conns)
	s := srv.Of("/").Sockets()[0]
	s.Join("r")
	s.SetData("alice")

	if host.Namespace() != "/" || host.Recovery() != nil {
		t.Fatalf("namespace %q, recovery %v", host.Namespace(), host.Recovery())
	}
	info, ok := host.LocalSocket(s.ID())
	if !ok || info.ID != s.ID() || info.Namespace != "/" || info.Data != "alice" || !slices.Equal(info.Rooms, []string{"r", s.ID()}) && !slices.Equal(info.Rooms, []string{s.ID(), "r"}) {
		t.Fatalf("local socket %+v, %v", info, ok)
	}
	if _, ok := host.LocalSocket("nobody"); ok {
		t.Fatal("a socket that is not here was found")
	}

	p, err := host.PacketFromData([]byte(`["news",{"_placeholder":true,"num":0}]`), [][]byte{{1, 2}})
	if err != nil || p.Namespace() != "/" || p.Event() != "news" {
		t.Fatalf("packet %v, %v", p, err)
	}
	if _, err := host.PacketFromData([]byte(`"news"`), nil); err == nil {
		t.Fatal("an event that is no array was taken")
	}
	if a, err := host.ArgsFromData([]byte(`[1,{"_placeholder":true,"num":0}]`), [][]byte{{7}}); err != nil || a.Len() != 2 || len(a.Attachments()) != 1 {
		t.Fatalf("args %v, %v", a, err)
	}
	if _, err := host.ArgsFromData([]byte(`{}`), nil); err == nil {
		t.Fatal("arguments that are no array were taken")
	}
	fs := conns[0].es.(*fakeSession)
	before := fs.sent.Load()
	if !host.Deliver(p, s.ID(), BroadcastFlags{}) {
		t.Fatal("not delivered to a local socket")
	}
	if got := fs.sent.Load() - before; got != 2 { // the event and its attachment
		t.Fatalf("%d messages sent", got)
	}
	if host.Deliver(p, "nobody", BroadcastFlags{}) {
		t.Fatal("delivered to a socket that is not here")
	}

	remote := host.RemoteSocket("elsewhere", &Handshake{Address: "10.0.0.1"}, []string{"x"}, 42)
	if remote.ID != "elsewhere" || remote.Namespace != "/" || remote.Data != 42 || remote.Handshake.Address != "10.0.0.1" {
		t.Fatalf("remote socket %+v", remote)
	}
	// Its methods act through the adapter, which here knows no other node: nothing fails.
	if err := remote.Emit("hi"); err != nil {
		t.Fatal(err)
	}
}

// A server-side emit another node sent reaches the handlers, and the first one's results are
// the node's answer.
func TestAdapterHostServerSideEmit(t *testing.T) {
	srv, host := hostServer(t, nil)
	srv.Of("/").OnServerSideEmit("next", func(n int) int { return n + 1 })
	srv.Of("/").OnServerSideEmit("next", func(n int) int { return n + 100 })
	p, err := host.PacketFromData([]byte(`["next",1]`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var answers []Args
	host.ReceiveServerSideEmit(p, func(a Args) { answers = append(answers, a) })
	if len(answers) != 1 {
		t.Fatalf("%d answers", len(answers))
	}
	var n int
	if err := answers[0].Decode(&n); err != nil || n != 2 {
		t.Fatalf("answer %d, %v", n, err)
	}
}

// A MemoryAdapter given a host whose Recovery is nil keeps nothing, whatever the server's
// settings: what a cluster adapter that numbers packets itself relies on.
func TestMemoryAdapterUnderUnnumberedHost(t *testing.T) {
	srv, host := hostServer(t, &ServerOptions{Recovery: &RecoveryOptions{}})
	if host.Recovery() == nil || host.Recovery().MaxDisconnectionDuration != defaultRecoveryDuration {
		t.Fatalf("recovery %+v", host.Recovery())
	}
	conns := fakeConnect(t, srv, 1)
	defer closeFakes(conns)
	a := NewMemoryAdapter(noRecoveryHost{host})
	a.AddAll(srv.Of("/").Sockets()[0].ID(), []string{"r"})
	p, _ := NewPacket("/", "e")
	if err := a.Broadcast(p, BroadcastOptions{Rooms: []string{"r"}}); err != nil {
		t.Fatal(err)
	}
	if len(a.packets) != 0 {
		t.Fatalf("%d packets kept", len(a.packets))
	}
}

type noRecoveryHost struct{ AdapterHost }

func (noRecoveryHost) Recovery() *RecoveryOptions { return nil }
