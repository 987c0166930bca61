package socketio

import (
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
)

// AdapterHost is a namespace as its adapter sees it: what an adapter needs from the server and
// that no other code calls. The server makes one for each namespace and hands it to the factory
// in ServerOptions.Adapter; the adapter keeps it for its life. See "Writing an adapter" in the
// package documentation.
//
// Only the server makes AdapterHosts (the interface has an unexported method). An adapter that
// wants a part of itself to see the namespace differently wraps the host in a struct that
// embeds it and overrides a method: a cluster adapter that numbers packets itself, say, hands
// its MemoryAdapter a host whose Recovery returns nil, so that the MemoryAdapter keeps nothing.
type AdapterHost interface {
	// Namespace returns the namespace's name, such as "/" or "/chat".
	Namespace() string
	// Recovery returns the server's connection state recovery settings, defaults filled in,
	// or nil when recovery is off. An adapter that keeps sessions and packets for recoveries
	// keeps them for Recovery().MaxDisconnectionDuration.
	Recovery() *RecoveryOptions

	// Deliver sends p to the local socket id, as it is: no offset added, nothing kept. It
	// reports whether the namespace has that socket. Adapters that keep their rooms in a
	// MemoryAdapter deliver through it instead; Deliver is for those that select the
	// recipients themselves.
	Deliver(p *Packet, id string, flags BroadcastFlags) bool
	// LocalSocket describes the local socket id, with the rooms the namespace's adapter has it
	// in, for FetchSockets; false when the namespace has no such socket here.
	LocalSocket(id string) (SocketInfo, bool)
	// RemoteSocket describes a socket another node reported, for FetchSockets: its methods
	// act on it through the namespace's adapter, wherever it is.
	RemoteSocket(id string, hs *Handshake, rooms []string, data any) SocketInfo

	// ReceiveServerSideEmit runs the handlers registered with Namespace.OnServerSideEmit for
	// an event another node sent with ServerSideEmit. reply, when not nil, receives the first
	// handler's results: the node's answer to ServerSideEmitWithAck. Handlers are user code:
	// call it off the goroutine that reads the other nodes.
	ReceiveServerSideEmit(p *Packet, reply func(Args))
	// PacketFromData makes a packet of the namespace from an event in its wire form, as
	// another node sent it: data is the JSON array [event, args...] in which binary values are
	// placeholders pointing at attachments, as the protocol has it.
	PacketFromData(data json.RawMessage, attachments [][]byte) (*Packet, error)
	// ArgsFromData makes arguments from their wire form, as another node sent them (an
	// acknowledgement, a server-side emit's answer): data is a JSON array of the arguments, in
	// which binary values are placeholders pointing at attachments.
	ArgsFromData(data json.RawMessage, attachments [][]byte) (Args, error)

	// OnRoomEvent registers f, called for each change in the namespace's rooms on this node,
	// and returns a function that removes it. Any number may be registered. The MemoryAdapter
	// reports its changes (see RoomEvent); f is called with the adapter's lock held, so it must
	// be quick and must not call the adapter.
	OnRoomEvent(f func(RoomEvent)) (remove func())

	// Logger returns the server's ServerOptions.Logger, or a logger that discards everything
	// when the program gave none: an adapter without a logger of its own logs its faults here,
	// so that one option reaches every layer. Use the server's attribute keys (see "Logging"
	// in the package documentation).
	Logger() *slog.Logger

	// host ties the interface to the server's namespaces.
	host() *Namespace
}

// RoomEvent is a change in a namespace's rooms on this node, as Node's adapter events
// create-room, delete-room, join-room and leave-room.
type RoomEvent struct {
	Kind   RoomEventKind
	Room   string
	Socket string // the socket that joined or left; "" for RoomCreated and RoomDeleted
}

// RoomEventKind says what happened to a room.
type RoomEventKind int

// The kinds of RoomEvent, in the order they happen to a room: created before its first socket
// joins, deleted after its last one leaves.
const (
	RoomCreated RoomEventKind = iota + 1 // Node's create-room
	RoomJoined                           // Node's join-room
	RoomLeft                             // Node's leave-room
	RoomDeleted                          // Node's delete-room
)

// String returns the name of Node's event.
func (k RoomEventKind) String() string {
	switch k {
	case RoomCreated:
		return "create-room"
	case RoomJoined:
		return "join-room"
	case RoomLeft:
		return "leave-room"
	case RoomDeleted:
		return "delete-room"
	}
	return "unknown"
}

// nsHost is the AdapterHost of a namespace.
type nsHost struct {
	n *Namespace
	// rooms holds the room listeners, copied on write: reading them costs a broadcast's
	// joins no lock.
	mu    sync.Mutex
	rooms atomic.Pointer[[]*roomListener]
}

type roomListener struct{ f func(RoomEvent) }

func (h *nsHost) Namespace() string          { return h.n.name }
func (h *nsHost) Recovery() *RecoveryOptions { return h.n.srv.opts.Recovery }
func (h *nsHost) host() *Namespace           { return h.n }
func (h *nsHost) Logger() *slog.Logger       { return h.n.srv.log }

func (h *nsHost) Deliver(p *Packet, id string, flags BroadcastFlags) bool {
	s := h.n.Socket(id)
	if s == nil {
		return false
	}
	s.deliver(p, flags.Volatile)
	return true
}

func (h *nsHost) LocalSocket(id string) (SocketInfo, bool) {
	s := h.n.Socket(id)
	if s == nil {
		return SocketInfo{}, false
	}
	return SocketInfo{ID: s.id, Namespace: h.n.name, Handshake: s.Handshake(), Rooms: h.n.adapter.SocketRooms(s.id), Data: s.Data(), nsp: h.n}, true
}

func (h *nsHost) RemoteSocket(id string, hs *Handshake, rooms []string, data any) SocketInfo {
	return SocketInfo{ID: id, Namespace: h.n.name, Handshake: hs, Rooms: rooms, Data: data, nsp: h.n}
}

func (h *nsHost) ReceiveServerSideEmit(p *Packet, reply func(Args)) {
	h.n.receiveServerSideEmit(p, reply)
}

func (h *nsHost) PacketFromData(data json.RawMessage, attachments [][]byte) (*Packet, error) {
	p := newEventPacket(h.n.name, data, attachments)
	if err := checkPayload(&p.pkt, len(attachments)); err != nil {
		return nil, err
	}
	return p, nil
}

func (h *nsHost) ArgsFromData(data json.RawMessage, attachments [][]byte) (Args, error) {
	return argsFromData(data, attachments)
}

func (h *nsHost) OnRoomEvent(f func(RoomEvent)) (remove func()) {
	l := &roomListener{f: f}
	h.mu.Lock()
	defer h.mu.Unlock()
	var list []*roomListener
	if old := h.rooms.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, l)
	h.rooms.Store(&list)
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		old := h.rooms.Load()
		if old == nil {
			return
		}
		list := make([]*roomListener, 0, len(*old))
		for _, o := range *old {
			if o != l {
				list = append(list, o)
			}
		}
		h.rooms.Store(&list)
	}
}

// roomEvent tells the room listeners, if any.
func (h *nsHost) roomEvent(kind RoomEventKind, room, socket string) {
	list := h.rooms.Load()
	if list == nil {
		return
	}
	for _, l := range *list {
		l.f(RoomEvent{Kind: kind, Room: room, Socket: socket})
	}
}
