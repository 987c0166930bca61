package socketio

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/logattr"
)

// engineSession is what a connection needs from Engine.IO: the Socket.IO layer knows nothing of
// transports.
type engineSession interface {
	ID() string
	Request() *engineio.RequestInfo
	Transport() string
	Protocol() int // the Engine.IO revision: 3 for a Socket.IO v4 client (see legacy.go)
	Send(ms ...*engineio.PreparedMessage) error
	SendVolatile(ms ...*engineio.PreparedMessage) error
	Close() error
}

// conn is one client connection, an Engine.IO session, over which the client joins any number
// of namespaces: one socket each.
type conn struct {
	srv *Server
	es  engineSession
	dec packetReader // used by the session's reader only

	mu      sync.Mutex
	sockets connSockets // by namespace name, connected or connecting; guarded by mu
	timer   *time.Timer
	joined  bool // a namespace was joined: the connect timer is off
	closed  bool
	// legacy marks a session of Engine.IO v3, which speaks Socket.IO v4 (see legacy.go).
	// It sits with the flags, where it costs no padding: every idle connection holds a conn.
	legacy bool
}

func newConn(srv *Server, es engineSession) *conn {
	return &conn{
		srv:    srv,
		es:     es,
		dec:    newPacketReader(srv.wire, srv.opts.MaxAttachments, srv.maxValues),
		legacy: es.Protocol() == legacyProtocol,
	}
}

// startConnectTimer closes the connection if it joins no namespace in time, so that sessions
// that never speak Socket.IO do not hold resources.
func (c *conn) startConnectTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.joined || c.closed {
		return
	}
	c.timer = time.AfterFunc(c.srv.opts.ConnectTimeout, func() {
		c.mu.Lock()
		joined := c.joined
		c.mu.Unlock()
		if !joined {
			c.srv.peers.at(slog.LevelDebug, "socketio: no namespace joined in time", logattr.SID, c.es.ID())
			c.es.Close()
		}
	})
}

// receive handles one Engine.IO message, on the session's reader.
func (c *conn) receive(m engineio.Message) {
	p, err := c.dec.read(m)
	if err != nil {
		c.srv.peers.at(slog.LevelInfo, "socketio: invalid packet, closing the connection", logattr.SID, c.es.ID(), logattr.Remote, c.es.Request().RemoteAddr(), logattr.Err, err)
		c.closeWith(ReasonParseError)
		return
	}
	if p != nil {
		c.dispatch(p)
	}
}

func (c *conn) dispatch(p *packet) {
	var legacyAuth json.RawMessage
	if c.legacy {
		// Only a CONNECT's query is of use; events pay for no parsing.
		if p.typ == packetConnect {
			p.nsp, legacyAuth = legacyNamespace(p.nsp)
		} else {
			p.nsp, _, _ = strings.Cut(p.nsp, "?")
		}
	}
	c.mu.Lock()
	s := c.sockets.get(p.nsp)
	c.mu.Unlock()
	switch p.typ {
	case packetConnect:
		if s != nil {
			return // already there: a repeated CONNECT changes nothing
		}
		if c.legacy {
			c.connect(p.nsp, legacyAuth)
		} else {
			c.connect(p.nsp, p.data)
		}
	case packetDisconnect:
		if s != nil {
			s.onClose(ReasonClientDisconnect)
		}
	case packetEvent, packetBinaryEvent:
		if s != nil {
			s.onEvent(p)
		}
	case packetAck, packetBinaryAck:
		if s != nil {
			s.onAck(p)
		}
	default: // CONNECT_ERROR is the server's to send
		c.srv.peers.at(slog.LevelInfo, "socketio: unexpected packet from a client, closing the connection", logattr.SID, c.es.ID(), logattr.Remote, c.es.Request().RemoteAddr(), "type", p.typ)
		c.closeWith(ReasonParseError)
	}
	// Packets for a namespace the client has not joined (or just left) are dropped: they can
	// cross a server-side disconnect on the wire.
}

func (c *conn) connect(name string, auth json.RawMessage) {
	n := c.srv.lookup(name)
	if n == nil {
		c.sendConnectError(name, &ConnectError{Message: "Invalid namespace"})
		return
	}
	n.connect(c, auth)
}

// add records a socket that is connecting; it returns false when the connection has closed.
func (c *conn) add(s *Socket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.sockets.put(s)
	return true
}

// joinedNamespace turns off the connect timer.
func (c *conn) joinedNamespace() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.joined = true
	if c.timer != nil {
		c.timer.Stop()
		// Dropped, not only stopped: an idle connection would keep the timer and its
		// closure (some 130 bytes) for nothing.
		c.timer = nil
	}
}

func (c *conn) remove(s *Socket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sockets.remove(s)
}

func (c *conn) takeSockets() []*Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sockets.all()
}

// connSockets is a connection's sockets by namespace name. Nearly every connection has one
// or two, and every idle connection holds this: a short slice, searched in order, costs
// nothing until the first socket and far less than a map (about 250 bytes for one entry).
// A client joining many namespaces gets a map past fewSockets, so that finding the socket
// of each packet stays cheap.
type connSockets struct {
	few  []*Socket
	many map[string]*Socket
}

const fewSockets = 8

func (cs *connSockets) get(nsp string) *Socket {
	if cs.many != nil {
		return cs.many[nsp]
	}
	for _, s := range cs.few {
		if s.nsp.name == nsp {
			return s
		}
	}
	return nil
}

// put records s, in place of any socket of the same namespace.
func (cs *connSockets) put(s *Socket) {
	if cs.many != nil {
		cs.many[s.nsp.name] = s
		return
	}
	for i, x := range cs.few {
		if x.nsp.name == s.nsp.name {
			cs.few[i] = s
			return
		}
	}
	if len(cs.few) < fewSockets {
		cs.few = append(cs.few, s)
		return
	}
	cs.many = make(map[string]*Socket, 2*fewSockets)
	for _, x := range cs.few {
		cs.many[x.nsp.name] = x
	}
	cs.many[s.nsp.name] = s
	cs.few = nil
}

// remove forgets s, if it is still the socket of its namespace.
func (cs *connSockets) remove(s *Socket) {
	if cs.many != nil {
		if cs.many[s.nsp.name] == s {
			delete(cs.many, s.nsp.name)
		}
		return
	}
	if i := slices.Index(cs.few, s); i >= 0 {
		cs.few = slices.Delete(cs.few, i, i+1)
	}
}

// all returns the sockets in a new slice.
func (cs *connSockets) all() []*Socket {
	if cs.many == nil {
		return slices.Clone(cs.few)
	}
	out := make([]*Socket, 0, len(cs.many))
	for _, s := range cs.many {
		out = append(out, s)
	}
	return out
}

// closeSockets disconnects every socket of the connection for reason, without closing it.
func (c *conn) closeSockets(reason DisconnectReason) {
	for _, s := range c.takeSockets() {
		s.onClose(reason)
	}
}

// closeWith disconnects every socket with reason, then closes the Engine.IO session.
func (c *conn) closeWith(reason DisconnectReason) {
	c.closeSockets(reason)
	c.es.Close()
}

// onClose is called once when the Engine.IO session has ended.
func (c *conn) onClose(reason DisconnectReason, detail error) {
	c.mu.Lock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	// Enabled is asked first: the arguments cost allocations even for a line nobody takes.
	if detail != nil && c.srv.peers.log.Enabled(context.Background(), slog.LevelDebug) {
		c.srv.peers.at(slog.LevelDebug, "socketio: connection closed", logattr.SID, c.es.ID(), logattr.Reason, reason, logattr.Err, detail)
	}
	c.closeSockets(reason)
}

// send writes a packet: its text message and attachments, together.
func (c *conn) send(p *Packet, volatile bool) error { return c.sendVia(nil, p, volatile) }

// sendVia is send through f, when not nil: see engineio.Fanout.
func (c *conn) sendVia(f *engineio.Fanout, p *Packet, volatile bool) error {
	if c.srv.wire != nil {
		if f != nil {
			f.Flush() // a custom parser is user code: it must not run while f holds sessions
		}
		return c.sendEncoded(p, volatile)
	}
	msgs := p.messages()
	if es, ok := c.es.(*engineio.Session); ok && f != nil {
		return f.Send(es, volatile, msgs...)
	}
	if volatile {
		return c.es.SendVolatile(msgs...)
	}
	return c.es.Send(msgs...)
}

// sendControl writes a packet for this connection alone, such as CONNECT or an ACK.
func (c *conn) sendControl(p *packet) error {
	return c.send(&Packet{pkt: *p}, false)
}

// sendLegacyConnectError refuses a v4 client's CONNECT (see legacy.go).
func (c *conn) sendLegacyConnectError(nsp string, ce *ConnectError) {
	data, err := legacyConnectError(ce)
	if err != nil {
		c.srv.peers.at(slog.LevelError, "socketio: cannot encode a connect error's data", logattr.Err, err)
		data, _ = json.Marshal(ce.Message)
	}
	c.sendControl(&packet{typ: packetConnectError, nsp: nsp, id: noID, data: data})
}

func (c *conn) sendConnectError(nsp string, ce *ConnectError) {
	body := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{ce.Message, ce.Data}
	data, err := json.Marshal(body)
	if err != nil {
		c.srv.peers.at(slog.LevelError, "socketio: cannot encode a connect error's data", logattr.Err, err)
		data, _ = json.Marshal(struct {
			Message string `json:"message"`
		}{ce.Message})
	}
	c.sendControl(&packet{typ: packetConnectError, nsp: nsp, id: noID, data: data})
}
