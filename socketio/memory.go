package socketio

import (
	"context"
	"errors"
	"math/bits"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/tether-rt/tether/engineio"
)

// MemoryAdapter is the in-memory Adapter: rooms and broadcasts of one node, and, when the
// server has connection state recovery on, the sessions and packets a recovery needs. Cluster
// adapters embed one for what happens on their node: see "Writing an adapter" in the package
// documentation.
type MemoryAdapter struct {
	nsp    *Namespace
	events *nsHost // told of room changes

	mu    sync.RWMutex
	rooms map[string]strSet // room -> socket ids; a room has at least one
	sids  map[string]strSet // socket id -> rooms

	recovery *RecoveryOptions
	recMu    sync.Mutex
	sessions map[string]keptSession // by pid
	packets  []keptPacket           // oldest first
	offsets  uint64
	epoch    string
}

type keptSession struct {
	state   SessionState
	expires time.Time
}

type keptPacket struct {
	offset string
	at     time.Time
	opts   BroadcastOptions
	p      *Packet
}

// NewMemoryAdapter returns the in-memory adapter of the namespace host stands for. It keeps
// packets and sessions for recoveries when host.Recovery is not nil, and reports its room
// changes to the host's OnRoomEvent listeners.
func NewMemoryAdapter(host AdapterHost) *MemoryAdapter {
	nsp := host.host()
	a := &MemoryAdapter{
		nsp:    nsp,
		events: nsp.host,
		rooms:  map[string]strSet{},
		sids:   map[string]strSet{},
	}
	if rec := host.Recovery(); rec != nil {
		a.recovery = rec
		a.sessions = map[string]keptSession{}
		// Offsets are "m" epoch-counter in decimal, so that they compare as the server
		// expects (see Adapter), with each other but not with Redis stream ids; the epoch
		// keeps a restarted server from taking another process's offsets for its own.
		a.epoch = "m" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	}
	return a
}

// HasRoom reports whether room has at least one socket on this node.
func (a *MemoryAdapter) HasRoom(room string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.rooms[room].len() > 0
}

// IsSocket reports whether id is a socket of this node (every socket is in the room of its id).
func (a *MemoryAdapter) IsSocket(id string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	_, ok := a.sids[id]
	return ok
}

// AddAll puts socket id in rooms.
func (a *MemoryAdapter) AddAll(id string, rooms []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mine := a.sids[id]
	for _, r := range rooms {
		mine.add(r)
		members, exists := a.rooms[r]
		joined := members.add(id)
		a.rooms[r] = members
		if !exists {
			a.events.roomEvent(RoomCreated, r, "")
		}
		if joined {
			a.events.roomEvent(RoomJoined, r, id)
		}
	}
	a.sids[id] = mine
}

// Del takes socket id out of room.
func (a *MemoryAdapter) Del(id, room string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if mine, ok := a.sids[id]; ok {
		mine.del(room)
		a.sids[id] = mine
	}
	a.leaveLocked(id, room)
}

// DelAll takes socket id out of every room.
func (a *MemoryAdapter) DelAll(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for r := range a.sids[id].all {
		a.leaveLocked(id, r)
	}
	delete(a.sids, id)
}

func (a *MemoryAdapter) leaveLocked(id, room string) {
	members, ok := a.rooms[room]
	if !ok || !members.del(id) {
		return
	}
	if members.len() == 0 {
		delete(a.rooms, room)
	} else {
		a.rooms[room] = members
	}
	a.events.roomEvent(RoomLeft, room, id)
	if members.len() == 0 {
		a.events.roomEvent(RoomDeleted, room, "")
	}
}

// SocketRooms returns the rooms socket id is in.
func (a *MemoryAdapter) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	mine := a.sids[id]
	out := make([]string, 0, mine.len())
	for r := range mine.all {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Rooms returns the rooms with at least one socket.
func (a *MemoryAdapter) Rooms() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]string, 0, len(a.rooms))
	for r := range a.rooms {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// socketList is a reusable list of recipients, so that a broadcast costs no allocation per
// recipient nor, in steady state, per broadcast; fan is its reusable engineio.Fanout.
type socketList struct {
	s   []*Socket
	tmp []*Socket // sortByAddress's
	fan engineio.Fanout
}

var socketLists = sync.Pool{New: func() any { return new(socketList) }}

// selectSockets appends to list the local sockets opts selects. They are collected first and
// acted on after, without the adapter's lock held: delivering can run user code (outgoing
// listeners), which may join rooms.
func (a *MemoryAdapter) selectSockets(opts BroadcastOptions, list *socketList) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var except map[string]struct{}
	for _, r := range opts.Except {
		for id := range a.rooms[r].all {
			if except == nil {
				except = map[string]struct{}{}
			}
			except[id] = struct{}{}
		}
	}
	a.nsp.mu.RLock()
	defer a.nsp.mu.RUnlock()
	add := func(id string) {
		if _, skip := except[id]; skip {
			return
		}
		if s := a.nsp.sockets[id]; s != nil {
			list.s = append(list.s, s)
		}
	}
	switch len(opts.Rooms) {
	case 0:
		for id := range a.sids {
			add(id)
		}
	case 1:
		for id := range a.rooms[opts.Rooms[0]].all {
			add(id)
		}
	default:
		seen := map[string]struct{}{}
		for _, r := range opts.Rooms {
			for id := range a.rooms[r].all {
				if _, dup := seen[id]; !dup {
					seen[id] = struct{}{}
					add(id)
				}
			}
		}
	}
}

// sortByAddress puts sockets in the order of their addresses, which is about the order
// they connected in: sockets made one after the other get neighbouring memory, and so,
// in the kernel, do their connections' descriptors and socket objects. The rooms are
// maps, and a broadcast in their random order makes each write's walk through the
// kernel's objects for its socket (descriptor table, file, the receiving socket's
// lookup) a run of cache and TLB misses: bench/cmd/writefloor's bare writes to 10,000
// loopback sockets cost 6.3 to 7.5 µs each in a random order against 4.7 µs in the
// order of their accept. The addresses are only compared, never turned back into
// pointers, and Go's heap objects do not move.
//
// It is a radix sort, least significant digit first, over the bits in which the
// addresses differ (about 20 for 10,000 sockets: two passes), into tmp and back, and
// reads nothing of the sockets themselves: a comparison sort cost 80 ns per recipient.
// It returns tmp, grown if needed, for reuse.
func sortByAddress(ss, tmp []*Socket) []*Socket {
	if len(ss) < 2 {
		return tmp
	}
	addr := func(s *Socket) uintptr { return uintptr(unsafe.Pointer(s)) }
	var differ uintptr
	first := addr(ss[0])
	for _, s := range ss {
		differ |= addr(s) ^ first
	}
	if differ == 0 {
		return tmp
	}
	lo, hi := bits.TrailingZeros64(uint64(differ)), bits.Len64(uint64(differ))
	tmp = slices.Grow(tmp[:0], len(ss))[:len(ss)]
	const digitBits = 11
	var count [1 << digitBits]int
	src, dst := ss, tmp
	for shift := lo; shift < hi; shift += digitBits {
		clear(count[:])
		for _, s := range src {
			count[addr(s)>>shift&(1<<digitBits-1)]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, s := range src {
			d := addr(s) >> shift & (1<<digitBits - 1)
			dst[count[d]] = s
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &ss[0] {
		copy(ss, src)
	}
	clear(tmp)
	return tmp
}

// forEach calls f for each local socket opts selects.
func (a *MemoryAdapter) forEach(opts BroadcastOptions, f func(s *Socket)) {
	list := socketLists.Get().(*socketList)
	a.selectSockets(opts, list)
	for _, s := range list.s {
		f(s)
	}
	clear(list.s)
	list.s = list.s[:0]
	socketLists.Put(list)
}

// Broadcast sends p to the local sockets opts selects. With recovery on, an event that asks
// for no acknowledgement and is not volatile gets an offset and is kept for the sockets that
// will come back.
func (a *MemoryAdapter) Broadcast(p *Packet, opts BroadcastOptions) error {
	n := a.broadcast(p, opts)
	if o := a.nsp.srv.opts.Observer; o != nil {
		o.Broadcast(a.nsp.name, n)
	}
	return nil
}

// broadcast is Broadcast without the Observer (a SocketEmit is no broadcast to it); it
// returns the number of sockets reached.
func (a *MemoryAdapter) broadcast(p *Packet, opts BroadcastOptions) int {
	if a.recovery != nil && p.pkt.id == noID && !opts.Flags.Volatile {
		p = a.keep(p, opts)
	}
	return a.deliverAll(p, opts)
}

// deliverAll sends p to the local sockets opts selects, and returns their number. The
// sockets' checks come first and their WebSocket writes after, back to back, a chunk at a
// time (see engineio.Fanout): work between two writes lets the receivers fall asleep, and
// each write then costs a wake-up.
func (a *MemoryAdapter) deliverAll(p *Packet, opts BroadcastOptions) int {
	list := socketLists.Get().(*socketList)
	a.selectSockets(opts, list)
	list.tmp = sortByAddress(list.s, list.tmp)
	for _, s := range list.s {
		s.deliverVia(&list.fan, p, opts.Flags.Volatile)
	}
	list.fan.Flush()
	n := len(list.s)
	clear(list.s)
	list.s = list.s[:0]
	socketLists.Put(list)
	return n
}

// SocketEmit sends p to local socket id as a broadcast to its own room: with recovery on, it
// gets an offset and is kept like any broadcast.
func (a *MemoryAdapter) SocketEmit(p *Packet, id string, flags BroadcastFlags) error {
	flags.Local = true
	a.broadcast(p, BroadcastOptions{Rooms: []string{id}, Flags: flags})
	return nil
}

// deliver sends p to the local sockets opts selects, as it is: no offset, nothing kept for
// recovery. (A cluster adapter gets this from Broadcast by handing its MemoryAdapter a host
// whose Recovery is nil.)
func (a *MemoryAdapter) deliver(p *Packet, opts BroadcastOptions) {
	a.deliverAll(p, opts)
}

// BroadcastWithAck sends p to the local sockets opts selects, each asked for an
// acknowledgement under one id.
func (a *MemoryAdapter) BroadcastWithAck(p *Packet, opts BroadcastOptions, onCount func(int), onAck func(Args)) error {
	p = p.withID(a.nsp.nextAckID())
	n := 0
	a.forEach(opts, func(s *Socket) {
		if s.expectAck(p.pkt.id, onAck) {
			n++
			s.deliver(p, opts.Flags.Volatile)
		}
	})
	onCount(n)
	return nil
}

// ServerCount returns 1: this adapter knows no other node.
func (a *MemoryAdapter) ServerCount(context.Context) (int, error) { return 1, nil }

// FetchSockets returns the local sockets opts selects.
func (a *MemoryAdapter) FetchSockets(_ context.Context, opts BroadcastOptions) ([]SocketInfo, error) {
	var out []SocketInfo
	a.forEach(opts, func(s *Socket) {
		out = append(out, SocketInfo{ID: s.id, Namespace: a.nsp.name, Handshake: s.Handshake(), Rooms: a.SocketRooms(s.id), Data: s.Data(), nsp: a.nsp})
	})
	return out, nil
}

// AddSockets puts the local sockets opts selects in rooms.
func (a *MemoryAdapter) AddSockets(opts BroadcastOptions, rooms []string) error {
	a.forEach(opts, func(s *Socket) { a.AddAll(s.id, rooms) })
	return nil
}

// DelSockets takes the local sockets opts selects out of rooms.
func (a *MemoryAdapter) DelSockets(opts BroadcastOptions, rooms []string) error {
	a.forEach(opts, func(s *Socket) {
		for _, r := range rooms {
			a.Del(s.id, r)
		}
	})
	return nil
}

// DisconnectSockets disconnects the local sockets opts selects.
func (a *MemoryAdapter) DisconnectSockets(opts BroadcastOptions, closeConn bool) error {
	a.forEach(opts, func(s *Socket) { s.Disconnect(closeConn) })
	return nil
}

// ServerSideEmit does nothing: there is no other node.
func (a *MemoryAdapter) ServerSideEmit(*Packet) error { return nil }

// ServerSideEmitWithAck returns no answers at once: there is no other node.
func (a *MemoryAdapter) ServerSideEmitWithAck(context.Context, *Packet) ([]Args, error) {
	return []Args{}, nil
}

// Close releases nothing: the adapter holds only memory.
func (a *MemoryAdapter) Close() error { return nil }

// keep numbers an event with an offset, as its last argument, and keeps it for recoveries.
func (a *MemoryAdapter) keep(p *Packet, opts BroadcastOptions) *Packet {
	a.recMu.Lock()
	defer a.recMu.Unlock()
	a.offsets++
	offset := a.epoch + "-" + strconv.FormatUint(a.offsets, 10)
	p = p.WithOffset(offset)
	now := time.Now()
	a.pruneLocked(now)
	opts.Rooms = slices.Clone(opts.Rooms)
	opts.Except = slices.Clone(opts.Except)
	a.packets = append(a.packets, keptPacket{offset: offset, at: now, opts: opts, p: p})
	return p
}

// pruneLocked forgets the packets and sessions older than a recovery can be.
func (a *MemoryAdapter) pruneLocked(now time.Time) {
	cutoff := now.Add(-a.recovery.MaxDisconnectionDuration)
	drop := 0
	for drop < len(a.packets) && a.packets[drop].at.Before(cutoff) {
		drop++
	}
	if drop > 0 {
		clear(a.packets[:drop])
		a.packets = a.packets[drop:]
	}
	for pid, s := range a.sessions {
		if now.After(s.expires) {
			delete(a.sessions, pid)
		}
	}
}

// PersistSession keeps a session for MaxDisconnectionDuration.
func (a *MemoryAdapter) PersistSession(s *SessionState) error {
	if a.recovery == nil {
		return nil
	}
	a.recMu.Lock()
	defer a.recMu.Unlock()
	now := time.Now()
	a.pruneLocked(now)
	a.sessions[s.PID] = keptSession{state: *s, expires: now.Add(a.recovery.MaxDisconnectionDuration)}
	return nil
}

// TakeSession takes back the session of pid. It returns nil when the session is unknown or
// expired, or when offset is no longer kept.
func (a *MemoryAdapter) TakeSession(_ context.Context, pid, offset string) (*SessionState, error) {
	if a.recovery == nil {
		return nil, nil
	}
	a.recMu.Lock()
	defer a.recMu.Unlock()
	kept, ok := a.sessions[pid]
	if !ok || time.Now().After(kept.expires) || a.indexLocked(offset) < 0 {
		return nil, nil
	}
	delete(a.sessions, pid)
	state := kept.state
	state.Rooms = slices.Clone(state.Rooms)
	return &state, nil
}

// errOffsetGone is MissedPackets' error for an offset no longer kept.
var errOffsetGone = errors.New("socketio: recovery offset no longer kept")

// MissedPackets returns the packets kept after offset that a socket in rooms would have
// received.
func (a *MemoryAdapter) MissedPackets(_ context.Context, offset string, rooms []string) ([]*Packet, error) {
	if a.recovery == nil {
		return nil, errOffsetGone
	}
	a.recMu.Lock()
	defer a.recMu.Unlock()
	idx := a.indexLocked(offset)
	if idx < 0 {
		return nil, errOffsetGone
	}
	var out []*Packet
	for _, k := range a.packets[idx+1:] {
		if missed(rooms, k.opts) {
			out = append(out, k.p)
		}
	}
	return out, nil
}

// indexLocked returns the position of the packet kept with offset, or -1. Packets are kept in
// the order of their offsets.
func (a *MemoryAdapter) indexLocked(offset string) int {
	i, found := slices.BinarySearchFunc(a.packets, offset, func(k keptPacket, o string) int {
		c, ok := compareOffsets(k.offset, o)
		if !ok {
			return -1 // another form: not one of ours
		}
		return c
	})
	if !found {
		return -1
	}
	return i
}

// missed reports whether a socket in rooms would have received a broadcast with opts.
func missed(rooms []string, opts BroadcastOptions) bool {
	in := len(opts.Rooms) == 0
	for _, r := range opts.Rooms {
		if slices.Contains(rooms, r) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, r := range opts.Except {
		if slices.Contains(rooms, r) {
			return false
		}
	}
	return true
}

// strSet is a set of strings that costs no allocation while it has one member: nearly every
// socket is in one room (its own), and that room has one member, so two maps per socket (some
// 400 bytes of every idle connection) become two values inside the adapter's maps. A second
// member moves the set to a map.
type strSet struct {
	one  string // the member, when has1
	has1 bool
	m    map[string]struct{} // the members, when there are or were more than one
}

func (s strSet) len() int {
	if s.m != nil {
		return len(s.m)
	}
	if s.has1 {
		return 1
	}
	return 0
}

// add puts x in the set and reports whether it was not there.
func (s *strSet) add(x string) bool {
	switch {
	case s.m != nil:
		if _, in := s.m[x]; in {
			return false
		}
		s.m[x] = struct{}{}
	case !s.has1:
		s.one, s.has1 = x, true
	case s.one == x:
		return false
	default:
		s.m = map[string]struct{}{s.one: {}, x: {}}
		s.one, s.has1 = "", false
	}
	return true
}

// del takes x out of the set and reports whether it was there.
func (s *strSet) del(x string) bool {
	switch {
	case s.m != nil:
		if _, in := s.m[x]; !in {
			return false
		}
		delete(s.m, x)
	case s.has1 && s.one == x:
		s.one, s.has1 = "", false
	default:
		return false
	}
	return true
}

// all yields the members, in no particular order.
func (s strSet) all(yield func(string) bool) {
	if s.m == nil {
		if s.has1 {
			yield(s.one)
		}
		return
	}
	for x := range s.m {
		if !yield(x) {
			return
		}
	}
}
