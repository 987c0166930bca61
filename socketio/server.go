package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// Server is a Socket.IO v5 server, an http.Handler. Namespaces are made with Of (static) or
// OfMatch (dynamic); the main namespace "/" always exists.
type Server struct {
	opts    ServerOptions
	log     *slog.Logger
	engine  *engineio.Server
	workers *workerPool // goroutines for the sockets' handlers
	// maxValues is the MaxDecodedValues option as a bound: 0 for none.
	maxValues int
	wire      *wireFormat // the Parser option, nil for JSON
	peers     peerLog     // log, rate-limited, for what clients cause

	mu       sync.RWMutex
	nsps     map[string]*Namespace
	parents  []*Namespace // dynamic namespaces' parents, in the order they were made
	conns    map[*engineio.Session]*conn
	shutdown bool
	newNsp   listenerList[func(*Namespace)] // OnNewNamespace's hooks
}

// NewServer returns a server with the given options; opts may be nil.
func NewServer(opts *ServerOptions) *Server {
	s := &Server{
		opts:    opts.withDefaults(),
		nsps:    map[string]*Namespace{},
		conns:   map[*engineio.Session]*conn{},
		workers: newWorkerPool(workerIdleTime),
	}
	s.log = s.opts.Logger
	s.peers = newPeerLog(s.log)
	s.maxValues = maxDecodedValues(s.opts.MaxDecodedValues)
	s.wire = newWireFormat(s.opts.Parser)
	eopts := s.opts.engineOptions()
	eopts.OnOpen = s.onOpen
	eopts.OnMessage = s.onMessage
	eopts.OnClose = s.onClose
	s.engine = engineio.NewServer(&eopts)
	s.Of("/")
	return s
}

// ServeHTTP answers Socket.IO requests under the configured path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.engine.ServeHTTP(w, r)
}

// Of returns the namespace with the given name, making it on first use. A name without a
// leading slash gets one.
func (s *Server) Of(name string) *Namespace {
	name = normalizeNamespace(name)
	s.mu.RLock()
	n := s.nsps[name]
	s.mu.RUnlock()
	if n != nil {
		return n
	}
	s.mu.Lock()
	n, made := s.ofLocked(name, nil)
	hooks := s.newNsp.funcs()
	s.mu.Unlock()
	if made {
		n.announce(hooks)
	}
	return n
}

// ofLocked returns the namespace name, making it if needed (made); the caller then announces
// it, without the server's lock held.
func (s *Server) ofLocked(name string, parent *Namespace) (n *Namespace, made bool) {
	if n := s.nsps[name]; n != nil {
		return n, false
	}
	n = newNamespace(s, name, parent)
	s.nsps[name] = n
	if parent != nil {
		parent.addChild(n)
	}
	return n, true
}

// OnNewNamespace registers a function called with each namespace made from now on, as Node's
// io.on("new_namespace"): by Of, or as a dynamic namespace for the first client that asks
// for it (again after CleanupEmptyChildNamespaces removed it). It is called before any client
// joins the namespace: the place to add middleware and handlers to every namespace. For a
// dynamic namespace it runs on the reader of the connection that asked for it, so it should
// be quick. The function returned removes it.
func (s *Server) OnNewNamespace(f func(n *Namespace)) (remove func()) {
	return addListener(&s.mu, &s.newNsp, f, false)
}

// OfMatch returns a parent namespace for dynamic namespaces: a client connecting to a name
// that match accepts, and that no static namespace has, gets a namespace made on the spot,
// which inherits the parent's middleware and handlers. Emitting through the parent reaches
// the sockets of all its namespaces. Parents are tried in the order they were made.
//
// A regular expression serves as match with its MatchString method.
func (s *Server) OfMatch(match func(name string) bool) *Namespace {
	n := newNamespace(s, "", nil)
	n.match = match
	close(n.ready) // a parent is no namespace clients join
	s.mu.Lock()
	s.parents = append(s.parents, n)
	s.mu.Unlock()
	return n
}

// lookup returns the namespace a client asks for, making a dynamic one when a parent matches,
// or nil when there is none. The namespace is returned announced (OnNewNamespace), and held
// for the socket that will join it (see Namespace.hold).
func (s *Server) lookup(name string) *Namespace {
	s.mu.RLock()
	n := s.nsps[name]
	if n != nil {
		n.hold()
	}
	parents := s.parents
	s.mu.RUnlock()
	if n != nil {
		<-n.ready
		return n
	}
	for _, p := range parents {
		if p.match(name) {
			s.mu.Lock()
			n, made := s.ofLocked(name, p)
			n.hold()
			hooks := s.newNsp.funcs()
			s.mu.Unlock()
			if made {
				n.announce(hooks)
			} else {
				<-n.ready
			}
			return n
		}
	}
	return nil
}

func (s *Server) namespaces() []*Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		out = append(out, n)
	}
	return out
}

// The methods below act on the main namespace "/", as Node's io.on, io.emit and the like do.

// Use adds a middleware to the main namespace; see Namespace.Use.
func (s *Server) Use(mw func(*Socket) error) (remove func()) { return s.Of("/").Use(mw) }

// OnConnect registers a connect hook on the main namespace; see Namespace.OnConnect.
func (s *Server) OnConnect(f func(*Socket)) (remove func()) { return s.Of("/").OnConnect(f) }

// OnDisconnect registers a disconnect hook on the main namespace.
func (s *Server) OnDisconnect(f func(*Socket, DisconnectReason)) (remove func()) {
	return s.Of("/").OnDisconnect(f)
}

// On registers an event handler on the main namespace; see Namespace.On.
func (s *Server) On(event string, fn any) (remove func()) { return s.Of("/").On(event, fn) }

// Emit sends an event to every socket of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.Of("/").Emit(event, args...) }

// To selects the sockets of the main namespace in rooms.
func (s *Server) To(rooms ...string) BroadcastOperator { return s.Of("/").To(rooms...) }

// In is To.
func (s *Server) In(rooms ...string) BroadcastOperator { return s.Of("/").To(rooms...) }

// Except selects the sockets of the main namespace not in rooms.
func (s *Server) Except(rooms ...string) BroadcastOperator { return s.Of("/").Except(rooms...) }

// Local selects the sockets of the main namespace on this node.
func (s *Server) Local() BroadcastOperator { return s.Of("/").Local() }

// Volatile selects the sockets of the main namespace for a volatile event.
func (s *Server) Volatile() BroadcastOperator { return s.Of("/").Volatile() }

// FetchSockets returns the sockets of the main namespace, on every node.
func (s *Server) FetchSockets(ctx context.Context) ([]SocketInfo, error) {
	return s.Of("/").FetchSockets(ctx)
}

// SocketsJoin puts every socket of the main namespace in rooms.
func (s *Server) SocketsJoin(rooms ...string) error { return s.Of("/").SocketsJoin(rooms...) }

// SocketsLeave takes every socket of the main namespace out of rooms.
func (s *Server) SocketsLeave(rooms ...string) error { return s.Of("/").SocketsLeave(rooms...) }

// DisconnectSockets disconnects every socket of the main namespace.
func (s *Server) DisconnectSockets(closeConn bool) error {
	return s.Of("/").DisconnectSockets(closeConn)
}

// ServerSideEmit sends an event to the main namespace of the other nodes.
func (s *Server) ServerSideEmit(event string, args ...any) error {
	return s.Of("/").ServerSideEmit(event, args...)
}

// ServerSideEmitWithAck sends an event to the main namespace of the other nodes and collects
// their handlers' answers until every node has answered or ctx is done.
func (s *Server) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return s.Of("/").ServerSideEmitWithAck(ctx, event, args...)
}

// Shutdown stops accepting connections, lets the handlers finish the events already received
// (for shutdownDrain at most, or until ctx is done), disconnects every socket with the reason
// ReasonServerShuttingDown (the clients see their transport close, so they reconnect to
// another node), closes the adapters and waits until every connection has ended or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// A JavaScript server has run the handler of every event it received by the time it
	// closes; here events may wait for their socket's handlers. Run them while their sockets
	// can still answer: an answer sent after the disconnect would be lost, or, under recovery,
	// come from another node only.
	var sockets []*Socket
	for _, c := range conns {
		sockets = append(sockets, c.takeSockets()...)
	}
	drain, cancel := context.WithTimeout(ctx, shutdownDrain)
	for _, sock := range sockets {
		sock.exec.waitIdle(drain)
	}
	cancel()
	for _, c := range conns {
		c.closeSockets(ReasonServerShuttingDown)
	}
	// The disconnect hooks run, and the sessions recovery will need are kept, before the
	// adapters close: a session kept after its adapter closed would be lost.
	drain, cancel = context.WithTimeout(ctx, shutdownDrain)
	for _, sock := range sockets {
		sock.exec.waitIdle(drain)
	}
	cancel()
	var errs []error
	for _, n := range s.namespaces() {
		if err := n.adapter.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.engine.Shutdown(ctx))
	s.workers.close()
	return errors.Join(errs...)
}

// shutdownDrain bounds how long Shutdown waits for handlers to finish the events received,
// and then for the disconnect hooks.
const shutdownDrain = 2 * time.Second

func (s *Server) onOpen(es *engineio.Session) {
	c := newConn(s, es)
	s.mu.Lock()
	s.conns[es] = c
	s.mu.Unlock()
	c.startConnectTimer()
	if c.legacy {
		// A v4 client is in "/" without asking, with no auth, as Node puts it there.
		c.connect("/", json.RawMessage(`{}`))
	}
}

func (s *Server) conn(es *engineio.Session) *conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.conns[es]
}

func (s *Server) onMessage(es *engineio.Session, m engineio.Message) {
	if c := s.conn(es); c != nil {
		c.receive(m)
	}
}

func (s *Server) onClose(es *engineio.Session, reason engineio.CloseReason, detail error) {
	s.mu.Lock()
	c := s.conns[es]
	delete(s.conns, es)
	s.mu.Unlock()
	if c != nil {
		c.onClose(DisconnectReason(reason), detail)
	}
}

// workerIdleTime is how long a handler goroutine waits for more work before it exits.
const workerIdleTime = 5 * time.Second

func normalizeNamespace(name string) string {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return name
}
