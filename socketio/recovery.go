package socketio

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/tether-rt/tether/internal/logattr"
)

// The restoration of a socket by connection state recovery.
//
// The session is taken back from the adapter when the client's CONNECT arrives, on the
// socket's executor rather than the connection's reader (the adapter may go over the network,
// and the connection's other namespaces need not wait). The socket then joins its rooms in
// stateRestoring, in which what is delivered to it is held, and only then are its missed
// packets read: a broadcast sent meanwhile is among them or held, or both, and offsets tell
// which (see Adapter). CONNECT goes out, then the missed packets, then the held ones not
// among them; then the socket is connected. If the restoration fails before that (the
// connection closed, too much held, the missed packets unreadable), the session is persisted
// again so that the client's next attempt can restore it; a middleware's refusal ends it for
// good, as in Node.

// The most a socket holds while it is restored; more closes its connection (and keeps its
// session), so that a restoration that cannot keep up costs bounded memory.
const (
	maxHeldPackets = 1024
	maxHeldBytes   = 4 << 20
)

// heldPackets are the packets delivered to a socket being restored. The socket's mu guards it.
type heldPackets struct {
	packets  []*Packet
	bytes    int
	overflow bool
	cancel   context.CancelFunc // stops the restoration's reading
}

// add holds p; past the bounds it drops everything held and stops the restoration.
func (h *heldPackets) add(p *Packet) {
	if h.overflow {
		return
	}
	size := p.pkt.size()
	if len(h.packets) >= maxHeldPackets || h.bytes+size > maxHeldBytes {
		clear(h.packets)
		h.packets, h.bytes, h.overflow = nil, 0, true
		h.cancel()
		return
	}
	h.packets = append(h.packets, p)
	h.bytes += size
}

// stop ends the restoration: the socket closed.
func (h *heldPackets) stop() { h.cancel() }

// recoveryIDs returns the private id and offset a client sends in its CONNECT to resume a
// session.
func recoveryIDs(auth json.RawMessage) (pid, offset string, ok bool) {
	var ids struct {
		PID    string `json:"pid"`
		Offset string `json:"offset"`
	}
	if json.Unmarshal(auth, &ids) != nil || ids.PID == "" || ids.Offset == "" {
		return "", "", false
	}
	return ids.PID, ids.Offset, true
}

// restore takes back the session of pid for socket s and connects s with it; when there is no
// session to take, s connects as a new socket. It runs on s's executor, and reports whether s
// got in.
func (n *Namespace) restore(s *Socket, pid, offset string) bool {
	// Bounded like the client's wait for its CONNECT: the connect timer closes a connection
	// that joined no namespace within it. Not cancelled when the connection closes: a session
	// taken must be known to be taken, to be persisted again.
	ctx, cancel := context.WithTimeout(context.Background(), n.srv.opts.ConnectTimeout)
	state, err := n.adapter.TakeSession(ctx, pid, offset)
	cancel()
	if err != nil {
		n.srv.peers.at(slog.LevelWarn, "socketio: session not restored", logattr.Namespace, n.name, logattr.Err, err)
	}
	if state == nil {
		return n.admit(s)
	}
	s.id, s.pid, s.recovered = state.SID, state.PID, true
	s.SetData(state.Data)
	rooms := state.Rooms
	if !slices.Contains(rooms, s.id) {
		rooms = append([]string{s.id}, rooms...)
	}

	if n.srv.opts.Recovery.RunMiddlewares && !n.runMiddleware(s) {
		return false // refused: the session ends here, as in Node
	}

	ctx, cancel = context.WithTimeout(context.Background(), n.srv.opts.ConnectTimeout)
	defer cancel()
	s.mu.Lock()
	if s.state != stateConnecting {
		persist := s.closeReason.recoverable()
		s.mu.Unlock()
		if persist {
			n.persistSession(s, rooms) // the connection closed meanwhile
		}
		return false
	}
	s.state = stateRestoring
	s.held = &heldPackets{cancel: cancel}
	s.mu.Unlock()
	n.mu.Lock()
	n.sockets[s.id] = s
	n.mu.Unlock()
	n.adapter.AddAll(s.id, rooms)

	missed, err := n.adapter.MissedPackets(ctx, offset, rooms)
	if !s.stillRestoring() {
		n.endRestore(s) // no CONNECT for a client that must try again
		return false
	}
	if err != nil {
		n.srv.peers.at(slog.LevelWarn, "socketio: missed packets not read", logattr.Namespace, n.name, logattr.Socket, s.id, logattr.Err, err)
		n.endRestore(s)
		return false
	}
	s.conn.joinedNamespace()
	n.sendConnect(s)
	last := offset
	for _, p := range missed {
		s.write(p)
		last = p.offset
	}
	if !n.flushHeld(s, missed, last) {
		return false
	}
	n.runConnectHooks(s)
	return true
}

// flushHeld sends what was delivered to s while it was restored, but for what the
// restoration sent already (those with an offset up to last, or among missed), and connects
// it. It returns false, the socket having left, when the restoration ended meanwhile.
func (n *Namespace) flushHeld(s *Socket, missed []*Packet, last string) bool {
	var sent map[string]struct{} // the missed packets' offsets, for offsets that do not compare
	for {
		s.mu.Lock()
		if s.state != stateRestoring || s.held.overflow {
			s.mu.Unlock()
			n.endRestore(s)
			return false
		}
		batch := s.held.packets
		if len(batch) == 0 {
			s.state = stateConnected
			s.held = nil
			s.restoredTo = last
			s.mu.Unlock()
			if o := n.srv.opts.Observer; o != nil {
				o.SocketConnected(n.name)
			}
			return true
		}
		s.held.packets, s.held.bytes = nil, 0
		s.mu.Unlock()
		for _, p := range batch {
			if p.offset != "" {
				if _, ok := compareOffsets(p.offset, last); ok {
					if !offsetAfter(p.offset, last) {
						continue
					}
				} else {
					if sent == nil {
						sent = make(map[string]struct{}, len(missed))
						for _, m := range missed {
							sent[m.offset] = struct{}{}
						}
					}
					if _, dup := sent[p.offset]; dup {
						continue
					}
				}
			}
			s.write(p)
		}
	}
}

// stillRestoring reports whether the restoration of s goes on: s is open and has not held
// more than it may.
func (s *Socket) stillRestoring() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateRestoring && !s.held.overflow
}

// endRestore takes a socket whose restoration has ended before it was connected out of its
// namespace. If the socket is still open the restoration failed on its own (too much held,
// the missed packets unreadable): its connection is closed, and endRestore returns true.
// The session is persisted again unless the socket was told, or asked, to leave, so that the
// client, reconnecting, can try again; it is persisted before the connection closes, so
// that it is there when the client comes back.
func (n *Namespace) endRestore(s *Socket) (failed bool) {
	failed = s.onClose(ReasonForcedClose)
	s.mu.Lock()
	persist, overflow := s.closeReason.recoverable(), s.held.overflow
	s.mu.Unlock()
	n.removeSocket(s)
	n.leaveRooms(s, persist)
	if failed {
		if overflow {
			n.srv.peers.at(slog.LevelInfo, "socketio: too much sent to a socket being restored, closing its connection", logattr.Namespace, n.name, logattr.Socket, s.id)
		}
		s.conn.closeWith(ReasonForcedClose)
	}
	return failed
}

// leaveRooms takes a socket that is leaving out of its rooms and, with persist, keeps its
// session for a recovery. The session is persisted after the rooms are left, so that a client
// quick to come back cannot be restored, here, into rooms this socket is still leaving.
func (n *Namespace) leaveRooms(s *Socket, persist bool) {
	rooms := n.adapter.SocketRooms(s.id)
	n.adapter.DelAll(s.id)
	if persist {
		n.persistSession(s, rooms)
	}
}

func (n *Namespace) persistSession(s *Socket, rooms []string) {
	state := &SessionState{SID: s.id, PID: s.pid, Rooms: rooms, Data: s.Data()}
	if err := n.adapter.PersistSession(state); err != nil {
		n.srv.peers.at(slog.LevelWarn, "socketio: session not kept for recovery", logattr.Namespace, n.name, logattr.Socket, s.id, logattr.Err, err)
	}
}

// compareOffsets compares two offsets of the form ms-seq, two decimal numbers after a prefix
// of letters (none for Redis stream ids, "m" for the memory adapter's): by the first number,
// then the second. ok is false when either has another form or their prefixes differ, as
// offsets of different sequences do not compare.
func compareOffsets(a, b string) (c int, ok bool) {
	pa, a1, a2, okA := splitOffset(a)
	pb, b1, b2, okB := splitOffset(b)
	if !okA || !okB || pa != pb {
		return 0, false
	}
	switch {
	case a1 != b1:
		return cmpUint(a1, b1), true
	default:
		return cmpUint(a2, b2), true
	}
}

// offsetAfter reports whether offset a comes after b; offsets that do not compare do.
func offsetAfter(a, b string) bool {
	c, ok := compareOffsets(a, b)
	return !ok || c > 0
}

func splitOffset(o string) (prefix string, ms, seq uint64, ok bool) {
	i := strings.IndexFunc(o, func(r rune) bool { return r < 'a' || r > 'z' })
	if i < 0 {
		return "", 0, 0, false
	}
	head, tail, found := strings.Cut(o[i:], "-")
	if !found {
		return "", 0, 0, false
	}
	var err1, err2 error
	ms, err1 = strconv.ParseUint(head, 10, 64)
	seq, err2 = strconv.ParseUint(tail, 10, 64)
	return o[:i], ms, seq, err1 == nil && err2 == nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
