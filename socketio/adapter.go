package socketio

import (
	"context"
	"time"
)

// Adapter keeps a namespace's rooms and carries its broadcasts: every room and broadcast
// operation goes through it. The in-memory adapter (NewMemoryAdapter) serves a single node;
// an adapter for a cluster delivers locally through a MemoryAdapter and tells the other nodes.
// Adapters must be safe for concurrent use. The factory in ServerOptions.Adapter makes one
// per namespace from the namespace's AdapterHost; "Writing an adapter" in the package
// documentation walks through writing one.
//
// With connection state recovery on, an adapter numbers the events it keeps for recoveries
// (Packet.WithOffset), and a client resumes from the last offset it received. A restored
// socket joins its rooms before its missed packets are read, so an event sent in between can
// be both read and delivered to it; the server sends it once by comparing offsets. Offsets of
// the form ms-seq, two decimal numbers after a prefix of letters (none for Redis stream ids,
// "m" for the memory adapter's), compare as that pair of numbers when their prefixes are the
// same, and an adapter must number its packets in increasing order of that comparison, the
// order MissedPackets returns them in. Offsets of another form are compared for equality only,
// which still catches the event delivered while the socket was being restored but not one
// delivered late, after it is connected.
type Adapter interface {
	// AddAll puts socket id in rooms; Del takes it out of one; DelAll out of all.
	AddAll(id string, rooms []string)
	Del(id, room string)
	DelAll(id string)
	// SocketRooms returns the rooms socket id is in, on this node.
	SocketRooms(id string) []string
	// Rooms returns the rooms with at least one socket, on this node.
	Rooms() []string

	// Broadcast sends a packet to the sockets opts selects.
	Broadcast(p *Packet, opts BroadcastOptions) error
	// BroadcastWithAck sends a packet asking each recipient for an acknowledgement. Every node
	// that delivered it calls onCount once with the number of sockets it reached; onAck is
	// called for each acknowledgement, from any goroutine.
	BroadcastWithAck(p *Packet, opts BroadcastOptions, onCount func(clients int), onAck func(Args)) error
	// ServerCount returns the number of nodes, this one included.
	ServerCount(ctx context.Context) (int, error)

	// FetchSockets returns the sockets opts selects, on every node unless opts is Local.
	FetchSockets(ctx context.Context, opts BroadcastOptions) ([]SocketInfo, error)
	// AddSockets and DelSockets make the sockets opts selects join or leave rooms;
	// DisconnectSockets disconnects them.
	AddSockets(opts BroadcastOptions, rooms []string) error
	DelSockets(opts BroadcastOptions, rooms []string) error
	DisconnectSockets(opts BroadcastOptions, closeConn bool) error

	// ServerSideEmit sends an event to the other nodes, whose adapters hand it to their
	// AdapterHost.ReceiveServerSideEmit; ServerSideEmitWithAck collects their answers.
	ServerSideEmit(p *Packet) error
	ServerSideEmitWithAck(ctx context.Context, p *Packet) ([]Args, error)

	// SocketEmit sends an event to local socket id; Socket.Emit calls it when connection state
	// recovery is on, so that the event is numbered and kept like a broadcast to the
	// socket's own room (Node's server broadcasts it to that room). The offset it gets must be
	// one every node the adapter's sessions reach can resume from.
	SocketEmit(p *Packet, id string, flags BroadcastFlags) error

	// PersistSession keeps a disconnected socket's state for connection state recovery.
	PersistSession(s *SessionState) error
	// TakeSession takes back, once, the session of pid for a client whose last packet had
	// offset; it returns nil when the session is unknown or expired or when offset is no
	// longer kept (the packets missed since could not all be delivered). The session is gone
	// from the adapter once taken: the server persists it again if the restoration fails
	// before the socket is connected.
	TakeSession(ctx context.Context, pid, offset string) (*SessionState, error)
	// MissedPackets returns, in order, the packets kept after offset that a socket in rooms
	// would have received, each with its offset. The server calls it once the restored
	// socket is in its rooms, so that a packet is either among those returned or delivered to
	// the socket (or both: see above). It fails when offset is no longer kept.
	MissedPackets(ctx context.Context, offset string, rooms []string) ([]*Packet, error)

	// Close releases what the adapter holds; the server calls it on Shutdown, and when it
	// removes an empty dynamic namespace (ServerOptions.CleanupEmptyChildNamespaces). It may be
	// called more than once.
	Close() error
}

// BroadcastOptions selects the sockets of a broadcast: those in any of Rooms (every socket
// when empty), minus those in any of Except.
type BroadcastOptions struct {
	Rooms  []string
	Except []string
	Flags  BroadcastFlags
}

// BroadcastFlags modify how a broadcast is delivered.
type BroadcastFlags struct {
	Volatile     bool          // dropped for clients not ready to receive
	Local        bool          // this node's sockets only
	Uncompressed bool          // sent without compression
	Timeout      time.Duration // how long acknowledgements are awaited, for other nodes
}

// SocketInfo describes a socket, maybe on another node, as FetchSockets returns it. Its
// methods act on the socket wherever it is.
type SocketInfo struct {
	ID        string
	Namespace string
	Handshake *Handshake
	Rooms     []string
	Data      any

	nsp *Namespace
}

// Emit sends an event to the socket.
func (i SocketInfo) Emit(event string, args ...any) error { return i.op().Emit(event, args...) }

// Join puts the socket in rooms.
func (i SocketInfo) Join(rooms ...string) error { return i.op().SocketsJoin(rooms...) }

// Leave takes the socket out of rooms.
func (i SocketInfo) Leave(rooms ...string) error { return i.op().SocketsLeave(rooms...) }

// Disconnect disconnects the socket, and closes its connection with closeConn.
func (i SocketInfo) Disconnect(closeConn bool) error { return i.op().DisconnectSockets(closeConn) }

func (i SocketInfo) op() BroadcastOperator {
	nsp := i.nsp
	if nsp == nil || nsp.name != i.Namespace {
		return BroadcastOperator{err: ErrDisconnected}
	}
	return nsp.To(i.ID)
}

// SessionState is what connection state recovery keeps of a socket whose connection was cut.
type SessionState struct {
	SID   string // the socket's id
	PID   string // the private id the client proves the session is its own with
	Rooms []string
	Data  any
}
