package socketio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/logattr"
)

type socketState uint8

const (
	stateConnecting socketState = iota // middleware running, or a session being taken back
	stateRestoring                     // in its rooms, packets held until its missed ones are out
	stateConnected
	stateClosed
)

// Socket is a client's presence in one namespace. Its methods are safe for concurrent use.
type Socket struct {
	// Every idle socket holds one: the fields are grouped by size, the flags last, so that
	// the struct has no padding.

	// id, pid and recovered are set before the socket joins its namespace (a restored
	// session's are set by the task that takes it back, on the executor) and read-only after.
	id   string
	pid  string // the private id that lets the client recover this session
	nsp  *Namespace
	conn *conn
	auth json.RawMessage // the CONNECT packet's auth payload, for Handshake
	exec executor
	// life holds the socket's context, made by the first Context call: most sockets are
	// never asked for it, and it costs some 200 bytes (the context, its cancel function and
	// its done channel).
	life atomic.Pointer[socketContext]

	mu              sync.Mutex
	closeReason     DisconnectReason // why it closed, once stateClosed; read-only once gone is set
	held            *heldPackets     // while stateRestoring
	restoredTo      string           // the restoration sent the packets with offsets up to it
	data            any
	handlers        map[string][]*handler
	anyIn           listenerList[func(event string, args []any)]
	anyOut          listenerList[func(event string, args []any)]
	middleware      listenerList[func(event string, args Args) error]
	onError         listenerList[func(error)]
	onDisconnecting listenerList[func(DisconnectReason)]
	onDisconnect    listenerList[func(DisconnectReason)]
	acks            map[int64]func(Args)

	// gone is set when the socket closes, after closeReason: a context made later starts
	// canceled.
	gone      atomic.Bool
	state     socketState
	recovered bool
}

// socketContext is a socket's context and what cancels it.
type socketContext struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func newSocket(n *Namespace, c *conn, auth json.RawMessage) *Socket {
	s := &Socket{nsp: n, conn: c, auth: auth}
	s.exec.init(n.srv.opts.HandlerQueueSize, n.srv.workers)
	s.exec.onEvent = s.handleEvent
	s.id = randomID()
	if c.legacy {
		s.id = legacySocketID(n.name, c.es.ID())
	}
	if n.srv.opts.Recovery != nil {
		s.pid = randomID()
	}
	return s
}

// randomID returns 20 URL-safe characters from 120 random bits, like the ids of Node's server.
func randomID() string {
	var b [15]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ID returns the socket's id, which is also the name of a room only it is in. It is not the
// Engine.IO session's id.
func (s *Socket) ID() string { return s.id }

// Context returns the socket's context: it carries the values of the handshake request's
// context (what HTTP middleware put there, such as the authenticated user), and is canceled
// when the socket disconnects, with a cause wrapping ErrDisconnected and naming the
// DisconnectReason (context.Cause). Namespace middleware, which receives the socket, reads it
// from there too. Node has no equivalent; pass it to what a handler starts that should stop
// with the socket.
func (s *Socket) Context() context.Context {
	if l := s.life.Load(); l != nil {
		return l.ctx
	}
	base := s.conn.es.Request().Context()
	if base == nil {
		base = context.Background()
	}
	l := &socketContext{}
	l.ctx, l.cancel = context.WithCancelCause(base)
	if !s.life.CompareAndSwap(nil, l) {
		l.cancel(nil) // another call made it first; this one's resources go
		return s.life.Load().ctx
	}
	// onClose sets gone before it looks for the context: either it found this one, or this
	// sees gone (both may; a second cancel changes nothing).
	if s.gone.Load() {
		l.cancel(disconnectCauseOf(s.closeReason))
	}
	return l.ctx
}

// Namespace returns the namespace the socket is in.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake returns what the client sent when it connected. It is built anew on each call
// from the compact copy of the handshake request the connection keeps (an idle socket holds
// no header or query map): the caller owns the result, and should keep it rather than call
// Handshake again for each field.
func (s *Socket) Handshake() *Handshake { return newHandshake(s.conn.es.Request(), s.auth) }

// Recovered reports whether the socket is a session restored by connection state recovery:
// same id, rooms and data as before the client's connection was cut, and the events it missed
// delivered.
func (s *Socket) Recovered() bool { return s.recovered }

// Connected reports whether the socket is still in its namespace. A recovered socket is
// connected once its missed events have been sent.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateConnected
}

// Transport returns the transport the connection uses now: "polling" or "websocket".
func (s *Socket) Transport() string { return s.conn.es.Transport() }

// Data returns the value last given to SetData.
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData attaches a value to the socket: who the user is, say. FetchSockets returns it, and
// connection state recovery keeps it.
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// Emit sends an event to the client. Arguments are encoded with encoding/json; []byte values,
// anywhere inside them, travel as binary.
func (s *Socket) Emit(event string, args ...any) error {
	return s.emit(event, args, BroadcastFlags{})
}

// EmitWithAck sends an event and waits for the client's acknowledgement, until ctx is done or
// the socket disconnects.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return s.emitWithAck(ctx, event, args, BroadcastFlags{})
}

// Volatile returns an emitter whose events are dropped when the client is not ready for them
// (it is behind, or between two polling requests) rather than queued.
func (s *Socket) Volatile() SocketEmitter {
	return SocketEmitter{s: s, flags: BroadcastFlags{Volatile: true}}
}

// Compress returns an emitter that compresses its events (the default, when the connection
// negotiated compression) or not.
func (s *Socket) Compress(on bool) SocketEmitter {
	return SocketEmitter{s: s, flags: BroadcastFlags{Uncompressed: !on}}
}

// SocketEmitter emits to one socket with flags, from Socket.Volatile or Socket.Compress.
type SocketEmitter struct {
	s     *Socket
	flags BroadcastFlags
}

// Volatile returns the emitter with the volatile flag set.
func (e SocketEmitter) Volatile() SocketEmitter { e.flags.Volatile = true; return e }

// Compress returns the emitter compressing or not.
func (e SocketEmitter) Compress(on bool) SocketEmitter { e.flags.Uncompressed = !on; return e }

// Emit sends an event to the socket's client.
func (e SocketEmitter) Emit(event string, args ...any) error { return e.s.emit(event, args, e.flags) }

// EmitWithAck sends an event and waits for its acknowledgement.
func (e SocketEmitter) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return e.s.emitWithAck(ctx, event, args, e.flags)
}

func (s *Socket) emit(event string, args []any, flags BroadcastFlags) error {
	if s.nsp.srv.opts.Recovery == nil && s.nsp.srv.wire == nil {
		if p := newRelayPacket(s.nsp.name, event, args, flags.Uncompressed); p != nil {
			return s.deliverIfIn(p, flags.Volatile)
		}
	}
	p, err := NewPacket(s.nsp.name, event, args...)
	if err != nil {
		return err
	}
	p.uncompressed = flags.Uncompressed
	if !s.inNamespace() {
		return ErrDisconnected
	}
	if s.nsp.srv.opts.Recovery != nil {
		// Through the adapter, which numbers the packet and keeps it for a recovery.
		return s.nsp.adapter.SocketEmit(p, s.id, flags)
	}
	return s.deliver(p, flags.Volatile)
}

func (s *Socket) emitWithAck(ctx context.Context, event string, args []any, flags BroadcastFlags) (Args, error) {
	p, err := NewPacket(s.nsp.name, event, args...)
	if err != nil {
		return Args{}, err
	}
	p.uncompressed = flags.Uncompressed
	id := s.nsp.nextAckID()
	p = p.withID(id)
	reply := make(chan Args, 1)
	if !s.expectAck(id, func(a Args) { reply <- a }) {
		return Args{}, ErrDisconnected
	}
	defer s.dropAck(id)
	start := s.ackWaiting()
	if err := s.deliver(p, flags.Volatile); err != nil {
		s.ackDone(start, false)
		return Args{}, err
	}
	select {
	case a := <-reply:
		s.ackDone(start, true)
		return a, nil
	case <-ctx.Done():
		s.ackDone(start, false)
		return Args{}, fmt.Errorf("socketio: acknowledgement of %q: %w", event, ctx.Err())
	case <-s.Context().Done(): // canceled when the socket disconnects
		s.ackDone(start, false)
		return Args{}, ErrDisconnected
	}
}

// inNamespace reports whether the socket is connected or being restored: what is sent to it
// then reaches the client.
func (s *Socket) inNamespace() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateConnected || s.state == stateRestoring
}

// deliver sends a packet to the client, telling the outgoing listeners. While the socket is
// being restored the packet waits (a volatile one is dropped: the client is not ready), and
// goes nowhere if the restoration fails; after, a packet the restoration sent is dropped.
func (s *Socket) deliver(p *Packet, volatile bool) error { return s.deliverVia(nil, p, volatile) }

// deliverVia is deliver for one recipient of a broadcast: the write may wait in f (nil:
// none) until f is flushed.
func (s *Socket) deliverVia(f *engineio.Fanout, p *Packet, volatile bool) error {
	s.mu.Lock()
	return s.deliverLocked(f, p, volatile)
}

// deliverIfIn is deliver for a socket that may have left its namespace, which then gets
// nothing and ErrDisconnected: inNamespace and deliver in one critical section.
func (s *Socket) deliverIfIn(p *Packet, volatile bool) error {
	s.mu.Lock()
	if s.state != stateConnected && s.state != stateRestoring {
		s.mu.Unlock()
		return ErrDisconnected
	}
	return s.deliverLocked(nil, p, volatile)
}

// deliverLocked is deliverVia with s.mu held; it unlocks it.
func (s *Socket) deliverLocked(f *engineio.Fanout, p *Packet, volatile bool) error {
	if s.held != nil { // being restored, or its restoration failed
		if s.state == stateRestoring && !volatile {
			s.held.add(p)
		}
		s.mu.Unlock()
		return nil
	}
	if s.restoredTo != "" && p.offset != "" && !offsetAfter(p.offset, s.restoredTo) {
		s.mu.Unlock()
		return nil
	}
	listeners := s.anyOut
	s.mu.Unlock()
	return s.send(f, p, volatile, listeners)
}

// write sends a packet the restoration had kept back.
func (s *Socket) write(p *Packet) error {
	s.mu.Lock()
	listeners := s.anyOut
	s.mu.Unlock()
	return s.send(nil, p, false, listeners)
}

// send tells the outgoing listeners about a packet and sends it to the client, through f
// when not nil.
func (s *Socket) send(f *engineio.Fanout, p *Packet, volatile bool, listeners listenerList[func(string, []any)]) error {
	if len(listeners) > 0 {
		if f != nil {
			f.Flush() // user code must not run while f holds sessions
		}
		event, args := p.Event(), p.Args()
		values, err := decodeValues(event, args.raw, args.attachments, s.nsp.srv.maxValues)
		if err != nil {
			s.nsp.srv.peers.event(slog.LevelWarn, "socketio: event not passed to outgoing listeners", logattr.Namespace, s.nsp.name, logattr.Socket, s.id, logattr.Err, err)
			listeners = nil
		}
		for _, e := range listeners {
			s.safely("outgoing listener", func() { e.f(event, values) })
		}
	}
	if o := s.nsp.srv.opts.Observer; o != nil {
		o.EventSent(s.nsp.name, p)
	}
	return s.conn.sendVia(f, p, volatile)
}

// expectAck registers the callback for acknowledgement id; false when the socket is gone.
func (s *Socket) expectAck(id int64, f func(Args)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return false
	}
	if s.acks == nil {
		s.acks = map[int64]func(Args){}
	}
	s.acks[id] = f
	return true
}

func (s *Socket) dropAck(id int64) {
	s.mu.Lock()
	delete(s.acks, id)
	s.mu.Unlock()
}

// Join puts the socket in rooms.
func (s *Socket) Join(rooms ...string) { s.nsp.adapter.AddAll(s.id, rooms) }

// Leave takes the socket out of rooms.
func (s *Socket) Leave(rooms ...string) {
	for _, r := range rooms {
		s.nsp.adapter.Del(s.id, r)
	}
}

// Rooms returns the rooms the socket is in, its own included.
func (s *Socket) Rooms() []string { return s.nsp.adapter.SocketRooms(s.id) }

// To selects the sockets in rooms, except this one, for an emit or another operation.
func (s *Socket) To(rooms ...string) BroadcastOperator {
	return s.nsp.operator().Except(s.id).To(rooms...)
}

// In is To.
func (s *Socket) In(rooms ...string) BroadcastOperator { return s.To(rooms...) }

// Broadcast selects every socket of the namespace except this one.
func (s *Socket) Broadcast() BroadcastOperator { return s.nsp.operator().Except(s.id) }

// Disconnect removes the socket from its namespace; the client is told, and does not try to
// reconnect. With closeConn, every socket of the client's connection is disconnected and the
// connection closed.
func (s *Socket) Disconnect(closeConn bool) {
	if closeConn {
		for _, o := range s.conn.takeSockets() {
			o.disconnect()
		}
		s.conn.es.Close()
		return
	}
	s.disconnect()
}

func (s *Socket) disconnect() {
	if s.inNamespace() {
		s.conn.sendControl(&packet{typ: packetDisconnect, nsp: s.nsp.name, id: noID})
	}
	s.onClose(ReasonServerDisconnect)
}

// onEvent hands an event to the socket's handlers, in order.
func (s *Socket) onEvent(p *packet) {
	s.exec.submitEvent(p)
}

func (s *Socket) handleEvent(p *packet) {
	raw := p.args
	if len(raw) == 0 {
		return // the parser split the array
	}
	event := eventName(raw[0])
	args := raw[1:]
	log, maxValues := s.nsp.srv.peers, s.nsp.srv.maxValues
	if o := s.nsp.srv.opts.Observer; o != nil {
		o.EventReceived(s.nsp.name, event)
	}
	if p.tooManyArgs {
		log.event(slog.LevelWarn, "socketio: event not handled", logattr.Namespace, s.nsp.name, logattr.Socket, s.id, logattr.Err, tooManyArgsError(event, len(args)))
		return
	}
	r := &eventReply{s: s, p: p}

	s.mu.Lock()
	anyIn, own, middleware := s.anyIn, s.handlers[event], s.middleware
	s.mu.Unlock()
	nspAny, nspHandlers := s.nsp.listeners(event)
	if len(anyIn)+len(nspAny) > 0 {
		values, err := decodeValues(event, args, p.attachments, maxValues)
		if err != nil {
			log.event(slog.LevelWarn, "socketio: event not passed to catch-all listeners", logattr.Namespace, s.nsp.name, logattr.Socket, s.id, logattr.Err, err)
			nspAny, anyIn = nil, nil
		}
		for _, f := range nspAny {
			s.safely("catch-all listener", func() { f.f(s, event, values) })
		}
		for _, e := range anyIn {
			s.safely("catch-all listener", func() { e.f(event, values) })
		}
	}
	if len(middleware) > 0 && !s.runEventMiddleware(middleware, event, Args{raw: args, attachments: p.attachments}, r.fn()) {
		return
	}
	for _, hs := range [][]*handler{nspHandlers, own} {
		callHandlers(log, s, event, args, p.attachments, maxValues, r, hs, where{s.nsp.name, s.id})
	}
}

// ackFunc returns the Ack for event p, sending at most once.
func (s *Socket) ackFunc(p *packet) Ack {
	if p.id == noID {
		return noAck
	}
	return func(args ...any) error { return s.sendAck(p, args) }
}

// noAck is the Ack of an event that asked for none.
func noAck(...any) error { return nil }

// sendAck answers event p with args, unless it was answered already or asked for no answer.
func (s *Socket) sendAck(p *packet, args []any) error {
	if p.id == noID || !p.answer() {
		return nil
	}
	ap, err := ackPacket(s.nsp.name, p.id, args)
	if err != nil {
		return err
	}
	return s.conn.sendControl(&ap)
}

// sendAckArgs is sendAck with the arguments of a handler that returns an Args. Without
// attachments, and with the JSON parser, the acknowledgement is written straight into the
// Engine.IO message: no array of its own and no Packet (two allocations of sio-ack's eight).
func (s *Socket) sendAckArgs(p *packet, a Args) error {
	if p.id == noID || !p.answer() {
		return nil
	}
	if len(a.attachments) > 0 || s.conn.srv.wire != nil {
		ap := ackArgsPacket(s.nsp.name, p.id, a)
		return s.conn.sendControl(&ap)
	}
	head := packet{typ: packetAck, nsp: s.nsp.name, id: p.id}
	size := head.textSize() + 2 // the header's bound, and the brackets
	for _, raw := range a.raw {
		size += len(raw) + 1
	}
	m := engineio.NewPreparedMessageFunc(size, func(dst []byte) []byte {
		// The header as appendText writes it for a packet with data: after a namespace other
		// than "/", the comma, since an id follows.
		return appendArgsArray(head.appendText(dst), a)
	}, false, false)
	return s.conn.es.Send(m)
}

// onAck delivers an acknowledgement, on the connection's reader.
func (s *Socket) onAck(p *packet) {
	s.mu.Lock()
	f := s.acks[p.id]
	delete(s.acks, p.id)
	s.mu.Unlock()
	if f == nil {
		return // late, or never asked for
	}
	if p.tooManyArgs {
		// The waiting EmitWithAck ends with its context.
		s.nsp.srv.peers.at(slog.LevelWarn, "socketio: acknowledgement dropped", logattr.Namespace, s.nsp.name, logattr.Socket, s.id, logattr.Err, tooManyArgsError("", len(p.args)))
		return
	}
	f(Args{raw: p.args, attachments: p.attachments})
}

// safely runs user code, turning a panic into a logged error.
func (s *Socket) safely(what string, f func()) {
	protect(s.nsp.srv.peers, what, "", f, logattr.Namespace, s.nsp.name, logattr.Socket, s.id)
}

// onClose takes the socket out of its namespace, once, and runs the disconnect hooks. It
// reports whether it closed the socket (false: it was closed already). A socket being
// restored is left to its restoration to take out.
func (s *Socket) onClose(reason DisconnectReason) bool {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return false
	}
	wasConnected := s.state == stateConnected
	s.state = stateClosed
	s.closeReason = reason
	s.acks = nil
	s.gone.Store(true)
	if l := s.life.Load(); l != nil {
		l.cancel(disconnectCauseOf(reason))
	}
	if s.held != nil {
		s.held.stop() // the restoration ends, and leaves the namespace
	}
	s.mu.Unlock()
	s.conn.remove(s)
	s.exec.close()
	if !wasConnected {
		return true
	}
	if o := s.nsp.srv.opts.Observer; o != nil {
		o.SocketDisconnected(s.nsp.name, reason)
	}
	s.nsp.removeSocket(s)
	s.exec.submit(func() { s.leave(reason) })
	return true
}

// disconnectCause is what a socket's context is canceled with: ErrDisconnected, naming the
// reason.
type disconnectCause struct{ reason DisconnectReason }

func (e *disconnectCause) Error() string { return ErrDisconnected.Error() + ": " + string(e.reason) }
func (e *disconnectCause) Unwrap() error { return ErrDisconnected }

// disconnectCauses holds one cause per reason the package gives, made once: every socket's
// disconnect needs one. Read-only after init.
var disconnectCauses = func() map[DisconnectReason]error {
	m := map[DisconnectReason]error{}
	for _, r := range []DisconnectReason{ReasonTransportClose, ReasonTransportError, ReasonPingTimeout,
		ReasonParseError, ReasonForcedClose, ReasonServerDisconnect, ReasonClientDisconnect, ReasonServerShuttingDown} {
		m[r] = &disconnectCause{r}
	}
	return m
}()

func disconnectCauseOf(reason DisconnectReason) error {
	if err, ok := disconnectCauses[reason]; ok {
		return err
	}
	return &disconnectCause{reason}
}

func (s *Socket) leave(reason DisconnectReason) {
	s.mu.Lock()
	disconnecting, disconnect := s.onDisconnecting, s.onDisconnect
	s.mu.Unlock()
	nspDisconnecting, nspDisconnect := s.nsp.disconnectHooks()
	for _, f := range nspDisconnecting {
		s.safely("disconnecting hook", func() { f(s, reason) })
	}
	for _, e := range disconnecting {
		s.safely("disconnecting hook", func() { e.f(reason) })
	}
	s.nsp.leaveRooms(s, s.pid != "" && reason.recoverable())
	for _, f := range nspDisconnect {
		s.safely("disconnect hook", func() { f(s, reason) })
	}
	for _, e := range disconnect {
		s.safely("disconnect hook", func() { e.f(reason) })
	}
	s.nsp.release()
}
