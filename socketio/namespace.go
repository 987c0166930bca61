package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/logattr"
)

// Namespace is a communication channel multiplexed over a client's connection: its own
// middleware, handlers, sockets and rooms. A client joins a namespace by name ("/" first).
type Namespace struct {
	srv     *Server
	name    string
	parent  *Namespace             // the dynamic parent this namespace was made from
	match   func(name string) bool // set on a dynamic parent
	adapter Adapter
	host    *nsHost // what the adapter sees of the namespace
	ackIDs  atomic.Int64

	ready chan struct{} // closed once the OnNewNamespace hooks have run

	mu sync.RWMutex
	// members counts a dynamic namespace's sockets from the lookup that finds the namespace
	// for them to the end of their life, so that it is removed only when it has none, not
	// even one joining or leaving (CleanupEmptyChildNamespaces).
	members         int
	removed         bool
	middleware      listenerList[func(*Socket) error]
	handlers        map[string][]*handler
	anyIn           listenerList[func(s *Socket, event string, args []any)]
	onConnect       listenerList[func(*Socket)]
	onDisconnecting listenerList[func(*Socket, DisconnectReason)]
	onDisconnect    listenerList[func(*Socket, DisconnectReason)]
	serverSide      map[string][]*handler
	sockets         map[string]*Socket
	children        []*Namespace
}

func newNamespace(srv *Server, name string, parent *Namespace) *Namespace {
	n := &Namespace{
		srv:        srv,
		name:       name,
		parent:     parent,
		handlers:   map[string][]*handler{},
		serverSide: map[string][]*handler{},
		sockets:    map[string]*Socket{},
		ready:      make(chan struct{}),
	}
	n.host = &nsHost{n: n}
	// A dynamic parent (name "") gets the in-memory adapter whatever the option: its
	// operations go to its children's adapters, and a cluster adapter of its own would only
	// subscribe to the channels of a namespace no client can join.
	if srv.opts.Adapter != nil && name != "" {
		n.adapter = srv.opts.Adapter(n.host)
	} else {
		n.adapter = NewMemoryAdapter(n.host)
	}
	return n
}

// Name returns the namespace's name, such as "/" or "/chat". A dynamic parent has none.
func (n *Namespace) Name() string { return n.name }

// Server returns the server the namespace belongs to.
func (n *Namespace) Server() *Server { return n.srv }

// Adapter returns the adapter through which the namespace's rooms and broadcasts go.
func (n *Namespace) Adapter() Adapter { return n.adapter }

// Use adds a middleware, run for every socket joining the namespace before it is connected,
// in the order they were added. A middleware has the socket's Handshake and may SetData; an
// error refuses the connection, and the client receives it: a *ConnectError with its Message
// and Data, any other error with its text as the message. Middleware runs off the connection's
// reader and may take its time (a database lookup, say), bounded by s.Context(), which holds
// the handshake request's context values and ends if the client goes away meanwhile.
func (n *Namespace) Use(mw func(s *Socket) error) (remove func()) {
	return addListener(&n.mu, &n.middleware, mw, false)
}

// OnConnect registers a function called for every socket that joins the namespace, once it is
// connected: the place to register per-socket handlers and join rooms. The function returned
// removes it.
func (n *Namespace) OnConnect(f func(s *Socket)) (remove func()) {
	return addListener(&n.mu, &n.onConnect, f, false)
}

// OnDisconnecting registers a function called when a socket is leaving, while it is still in
// its rooms. The function returned removes it.
func (n *Namespace) OnDisconnecting(f func(s *Socket, reason DisconnectReason)) (remove func()) {
	return addListener(&n.mu, &n.onDisconnecting, f, false)
}

// OnDisconnect registers a function called once a socket has left the namespace. The function
// returned removes it.
func (n *Namespace) OnDisconnect(f func(s *Socket, reason DisconnectReason)) (remove func()) {
	return addListener(&n.mu, &n.onDisconnect, f, false)
}

// On registers a handler for an event from any socket of the namespace. The handler is a func
// whose parameters are, in order: optionally the *Socket; any number of parameters of ordinary
// Go types into which the event's arguments are decoded with encoding/json (binary values into
// []byte; into an any, JSON's generic values with binary as []byte); optionally one Ack; and
// optionally a final variadic parameter taking the remaining arguments, or a final Args taking
// them as received (to pass them on unchanged). Missing arguments
// leave zero values. What the handler returns is sent as the acknowledgement, when the client
// asked for one. For example:
//
//	nsp.On("chat", func(s *socketio.Socket, room, text string) { ... })
//	nsp.On("sum", func(a, b int) int { return a + b })
//	nsp.On("echo", func(ack socketio.Ack, args ...any) { ack(args...) })
//
// Arguments that do not decode into the parameters, or that hold more JSON values than
// ServerOptions.MaxDecodedValues, are reported to the server's Logger (slog.Default() without
// one), naming the parameter's type and what the argument is, and the handler is not called. Handlers of one socket run one at a time, in the order the events
// arrived, on a goroutine other than the connection's reader: a handler may wait, for example
// for an acknowledgement with EmitWithAck. A handler of the wrong shape panics here. The
// function returned removes the handler (see Off to remove them all).
func (n *Namespace) On(event string, fn any) (remove func()) {
	return n.addHandler(event, newHandler(fn, true))
}

// OnServerSideEmit registers a handler for an event another node sent with ServerSideEmit. Its
// shape is that of On's handlers without the *Socket. The function returned removes it.
func (n *Namespace) OnServerSideEmit(event string, fn any) (remove func()) {
	return addHandler(&n.mu, &n.serverSide, event, newHandler(fn, false))
}

// Sockets returns the sockets connected to the namespace on this node, and those being
// restored by connection state recovery.
func (n *Namespace) Sockets() []*Socket {
	if n.match != nil {
		var out []*Socket
		for _, c := range n.childList() {
			out = append(out, c.Sockets()...)
		}
		return out
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Socket, 0, len(n.sockets))
	for _, s := range n.sockets {
		out = append(out, s)
	}
	return out
}

// Socket returns the socket with the given id on this node, or nil.
func (n *Namespace) Socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// operator returns a broadcast operator over the whole namespace.
func (n *Namespace) operator() BroadcastOperator { return BroadcastOperator{nsp: n} }

// To selects the sockets in rooms.
func (n *Namespace) To(rooms ...string) BroadcastOperator { return n.operator().To(rooms...) }

// In is To.
func (n *Namespace) In(rooms ...string) BroadcastOperator { return n.operator().To(rooms...) }

// Except selects every socket but those in rooms.
func (n *Namespace) Except(rooms ...string) BroadcastOperator { return n.operator().Except(rooms...) }

// Volatile selects every socket, for events dropped on the clients not ready for them.
func (n *Namespace) Volatile() BroadcastOperator { return n.operator().Volatile() }

// Local selects the sockets on this node only.
func (n *Namespace) Local() BroadcastOperator { return n.operator().Local() }

// Compress selects every socket, for events compressed or not.
func (n *Namespace) Compress(on bool) BroadcastOperator { return n.operator().Compress(on) }

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error { return n.operator().Emit(event, args...) }

// EmitWithAck sends an event to every socket of the namespace and collects their
// acknowledgements until all have answered or ctx is done.
func (n *Namespace) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return n.operator().EmitWithAck(ctx, event, args...)
}

// FetchSockets returns the sockets of the namespace, on every node.
func (n *Namespace) FetchSockets(ctx context.Context) ([]SocketInfo, error) {
	return n.operator().FetchSockets(ctx)
}

// SocketsJoin puts every socket of the namespace in rooms.
func (n *Namespace) SocketsJoin(rooms ...string) error { return n.operator().SocketsJoin(rooms...) }

// SocketsLeave takes every socket of the namespace out of rooms.
func (n *Namespace) SocketsLeave(rooms ...string) error { return n.operator().SocketsLeave(rooms...) }

// DisconnectSockets disconnects every socket of the namespace.
func (n *Namespace) DisconnectSockets(closeConn bool) error {
	return n.operator().DisconnectSockets(closeConn)
}

// ServerSideEmit sends an event to the namespace's handlers registered with OnServerSideEmit
// on the other nodes of a cluster. On a single node it does nothing.
func (n *Namespace) ServerSideEmit(event string, args ...any) error {
	p, err := NewPacket(n.name, event, args...)
	if err != nil {
		return err
	}
	return n.adapter.ServerSideEmit(p)
}

// ServerSideEmitWithAck sends an event to the other nodes and collects their handlers'
// answers until every node has answered or ctx is done.
func (n *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	p, err := NewPacket(n.name, event, args...)
	if err != nil {
		return nil, err
	}
	return n.adapter.ServerSideEmitWithAck(ctx, p)
}

// receiveServerSideEmit runs the handlers registered with OnServerSideEmit for an event that
// another node sent (AdapterHost.ReceiveServerSideEmit). reply, when not nil, receives the
// first handler's results.
func (n *Namespace) receiveServerSideEmit(p *Packet, reply func(Args)) {
	event, args := p.Event(), p.Args()
	n.mu.RLock()
	hs := n.serverSide[event]
	n.mu.RUnlock()
	answered := false
	for _, h := range hs {
		var results []any
		var err error
		protect(n.srv.peers, "server-side handler", event, func() {
			results, err = h.call(nil, event, args.raw, args.attachments, noAck, n.srv.maxValues)
		}, logattr.Namespace, n.name)
		if err != nil {
			n.srv.log.Warn("socketio: server-side event not handled", logattr.Namespace, n.name, logattr.Err, err)
			continue
		}
		if reply != nil && !answered {
			answered = true
			a, err := NewArgs(results...)
			if err != nil {
				n.srv.log.Warn("socketio: server-side answer not encoded", logattr.Namespace, n.name, logattr.Event, event, logattr.Err, err)
			}
			reply(a)
		}
	}
}

// announce runs the OnNewNamespace hooks for a namespace just made, and lets clients in.
func (n *Namespace) announce(hooks []func(*Namespace)) {
	defer close(n.ready)
	for _, f := range hooks {
		protect(n.srv.peers, "new namespace hook", "", func() { f(n) }, logattr.Namespace, n.name)
	}
}

// hold counts one more member of a dynamic namespace: a socket about to join it. The server's
// lock must be held, so that a namespace being removed is not found.
func (n *Namespace) hold() {
	if n.parent == nil {
		return
	}
	n.mu.Lock()
	n.members++
	n.mu.Unlock()
}

// release counts one member less: a socket that did not get in, or that has left, its
// disconnect hooks run. The last one out of a dynamic namespace removes it, with
// CleanupEmptyChildNamespaces.
func (n *Namespace) release() {
	if n.parent == nil {
		return
	}
	n.mu.Lock()
	n.members--
	last := n.members == 0
	n.mu.Unlock()
	srv := n.srv
	if !last || !srv.opts.CleanupEmptyChildNamespaces {
		return
	}
	srv.mu.Lock()
	n.mu.Lock()
	// Checked again under the server's lock, which lookup holds to hold a namespace.
	gone := n.members == 0 && !n.removed && srv.nsps[n.name] == n
	if gone {
		n.removed = true
		delete(srv.nsps, n.name)
	}
	n.mu.Unlock()
	srv.mu.Unlock()
	if !gone {
		return
	}
	n.parent.removeChild(n)
	if err := n.adapter.Close(); err != nil {
		srv.log.Warn("socketio: adapter of an empty namespace not closed", logattr.Namespace, n.name, logattr.Err, err)
	}
}

// nextAckID returns an acknowledgement id unique in the namespace, so that a broadcast with
// acknowledgements can use one id for all its recipients.
func (n *Namespace) nextAckID() int64 { return n.ackIDs.Add(1) - 1 }

func (n *Namespace) addChild(c *Namespace) {
	n.mu.Lock()
	n.children = append(n.children, c)
	n.mu.Unlock()
}

func (n *Namespace) removeChild(c *Namespace) {
	n.mu.Lock()
	n.children = slices.DeleteFunc(n.children, func(o *Namespace) bool { return o == c })
	n.mu.Unlock()
}

func (n *Namespace) childList() []*Namespace {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return append([]*Namespace(nil), n.children...)
}

// listeners returns the catch-all listeners and the handlers of event, the parent's first.
// The lists are the namespace's own when the parent adds nothing: they are read without the
// lock safely, since a change replaces a list (listenerList, withoutHandler) or appends past
// the length taken here, and every event asks for them.
func (n *Namespace) listeners(event string) (listenerList[func(*Socket, string, []any)], []*handler) {
	n.mu.RLock()
	anyIn, hs := n.anyIn, n.handlers[event]
	n.mu.RUnlock()
	if n.parent == nil {
		return anyIn, hs
	}
	parentAny, parentHs := n.parent.listeners(event)
	if len(parentAny) > 0 {
		anyIn = append(slices.Clip(parentAny), anyIn...)
	}
	if len(parentHs) > 0 {
		hs = append(slices.Clip(parentHs), hs...)
	}
	return anyIn, hs
}

func (n *Namespace) connectHooks() ([]func(*Socket) error, []func(*Socket)) {
	var mw []func(*Socket) error
	var hooks []func(*Socket)
	if n.parent != nil {
		mw, hooks = n.parent.connectHooks()
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return append(mw, n.middleware.funcs()...), append(hooks, n.onConnect.funcs()...)
}

func (n *Namespace) disconnectHooks() (disconnecting, disconnect []func(*Socket, DisconnectReason)) {
	if n.parent != nil {
		disconnecting, disconnect = n.parent.disconnectHooks()
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return append(disconnecting, n.onDisconnecting.funcs()...), append(disconnect, n.onDisconnect.funcs()...)
}

func (n *Namespace) removeSocket(s *Socket) {
	n.mu.Lock()
	if n.sockets[s.id] == s {
		delete(n.sockets, s.id)
	}
	n.mu.Unlock()
}

// connect starts a client's CONNECT to the namespace: the socket is made at once, and the
// middleware (or, for a client resuming a session, the restoration) runs on its executor,
// ahead of any event the client sends next.
func (n *Namespace) connect(c *conn, auth json.RawMessage) {
	s := newSocket(n, c, auth)
	if !c.add(s) {
		n.release()
		return
	}
	// A socket that gets in is released when it leaves; one that does not, here.
	if n.srv.opts.Recovery != nil {
		if pid, offset, ok := recoveryIDs(auth); ok {
			s.exec.submit(func() {
				if !n.restore(s, pid, offset) {
					n.release()
				}
			})
			return
		}
	}
	s.exec.submit(func() {
		if !n.admit(s) {
			n.release()
		}
	})
}

// admit runs the middleware and, if they let the socket in, connects it; it reports whether
// it did.
func (n *Namespace) admit(s *Socket) bool {
	if !n.runMiddleware(s) {
		return false
	}
	s.mu.Lock()
	if s.state != stateConnecting {
		s.mu.Unlock()
		return false // the connection closed meanwhile
	}
	s.state = stateConnected
	s.mu.Unlock()
	if o := n.srv.opts.Observer; o != nil {
		o.SocketConnected(n.name)
	}
	n.mu.Lock()
	n.sockets[s.id] = s
	n.mu.Unlock()
	n.adapter.AddAll(s.id, []string{s.id})
	s.conn.joinedNamespace()
	n.sendConnect(s)
	n.runConnectHooks(s)
	return true
}

// runMiddleware runs the namespace's middleware on s, and reports whether they let it in;
// when one refuses, the client is told and s is closed.
func (n *Namespace) runMiddleware(s *Socket) bool {
	middleware, _ := n.connectHooks()
	for _, mw := range middleware {
		var err error
		s.safely("middleware", func() { err = mw(s) })
		if err != nil {
			var ce *ConnectError
			if !errors.As(err, &ce) {
				ce = &ConnectError{Message: err.Error()}
			}
			if o := n.srv.opts.Observer; o != nil {
				o.ConnectRefused(n.name)
			}
			s.onClose(ReasonServerDisconnect)
			if s.conn.legacy {
				s.conn.sendLegacyConnectError(n.name, ce)
			} else {
				s.conn.sendConnectError(n.name, ce)
			}
			return false
		}
	}
	return true
}

// sendConnect tells the client its socket is connected: its id, and the private id with
// which it can resume the session.
func (n *Namespace) sendConnect(s *Socket) {
	if s.conn.legacy {
		s.conn.sendControl(&packet{typ: packetConnect, nsp: n.name, id: noID})
		return
	}
	data := connectReply(s.id, s.pid)
	s.conn.sendControl(&packet{typ: packetConnect, nsp: n.name, id: noID, data: data})
}

// connectReply is the data of the CONNECT packet that admits a socket.
func connectReply(id, pid string) []byte {
	var data []byte
	if plainID(id) && plainID(pid) {
		// {"sid":…,"pid":…} as json.Marshal writes it, without its reflection: the ids are
		// URL-safe base64, with nothing to escape.
		data = make([]byte, 0, 64)
		data = append(append(append(data, `{"sid":"`...), id...), '"')
		if pid != "" {
			data = append(append(append(data, `,"pid":"`...), pid...), '"')
		}
		data = append(data, '}')
	} else {
		data, _ = json.Marshal(struct {
			SID string `json:"sid"`
			PID string `json:"pid,omitempty"`
		}{id, pid})
	}
	return data
}

// plainID reports whether id has only the characters of URL-safe base64, which JSON carries
// as they are.
func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (n *Namespace) runConnectHooks(s *Socket) {
	_, hooks := n.connectHooks()
	for _, f := range hooks {
		s.safely("connect hook", func() { f(s) })
	}
}

// Handshake is what a client sent when it connected: the HTTP request that opened its
// connection and the auth payload of its CONNECT packet.
type Handshake struct {
	Header  http.Header
	Query   url.Values
	Auth    json.RawMessage // the CONNECT packet's JSON object, or nil when it had none
	Address string          // the client's IP address
	Time    time.Time       // when the connection opened
	URL     string          // the request's path and query
	Secure  bool            // the connection came over TLS
	XDomain bool            // the request was cross-origin (it had an Origin header)
}

func newHandshake(req *engineio.RequestInfo, auth json.RawMessage) *Handshake {
	addr := req.RemoteAddr()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	h := req.Header()
	return &Handshake{
		Header:  h,
		Query:   req.Query(),
		Auth:    auth,
		Address: addr,
		Time:    req.Time(),
		URL:     req.URI(),
		Secure:  req.Secure(),
		XDomain: h.Get("Origin") != "",
	}
}

// DecodeAuth decodes the auth payload into v with encoding/json; without one, v is left as it is.
func (h *Handshake) DecodeAuth(v any) error {
	if len(h.Auth) == 0 {
		return nil
	}
	return json.Unmarshal(h.Auth, v)
}
