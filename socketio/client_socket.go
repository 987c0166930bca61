package socketio

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/tether-rt/tether/internal/logattr"
)

type clientState int

const (
	clientIdle         clientState = iota // not joined, and not trying to
	clientConnecting                      // CONNECT sent on cc, awaiting the answer
	clientConnected                       // joined over cc
	clientReconnecting                    // joined before the connection was lost; will join again
)

// ClientSocket is a client's presence in one namespace of a server, over its Client's
// connection: from Client.Of, or the Client itself for its main namespace. Its methods are
// safe for concurrent use.
type ClientSocket struct {
	c    *Client
	nsp  string
	auth json.RawMessage
	exec executor

	mu         sync.Mutex
	state      clientState
	cc         *clientConn  // the connection joined, or being joined, on
	waiters    []chan error // Connect calls awaiting the join
	id         string
	pid        string // the session's private id, from a server with recovery on
	offset     string // the last offset received, sent back with pid to recover
	recovered  bool
	handlers   map[string][]*handler
	anyIn      listenerList[func(event string, args []any)]
	anyOut     listenerList[func(event string, args []any)]
	onConnect  listenerList[func()]
	onDisc     listenerList[func(DisconnectReason)]
	onConnErr  listenerList[func(error)]
	nextAck    int64
	acks       map[int64]*clientAck
	buffer     []*packet     // emitted while disconnected, in order
	retryQueue []*retryEntry // with ClientOptions.Retries: emits in order, the head in flight
	early      []*packet     // events received while joining: Node sends missed ones before CONNECT
	flushing   bool          // the buffer is being sent: new emits queue behind it
	everJoined bool          // joined since the last time the socket was idle: a loss means rejoin
}

// clientAck is an acknowledgement awaited by EmitWithAck, or by an EmitWithAckFunc callback.
type clientAck struct {
	reply chan clientAckResult       // buffered: the answer never waits; nil with fn
	fn    func(args Args, err error) // run on the handlers' goroutine
	stop  func() bool                // stops fn's deadline
	sent  bool                       // the packet went out; a lost connection cannot answer it
}

type clientAckResult struct {
	args Args
	err  error
}

func newClientSocket(c *Client, nsp string, auth json.RawMessage) *ClientSocket {
	s := &ClientSocket{c: c, nsp: nsp, auth: auth, acks: map[int64]*clientAck{}}
	s.exec.init(c.opts.HandlerQueueSize, c.workers)
	return s
}

// Namespace returns the socket's namespace.
func (s *ClientSocket) Namespace() string { return s.nsp }

// ID returns the socket id the server gave on the last join, or "" before the first.
func (s *ClientSocket) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// Connected reports whether the socket is in its namespace now.
func (s *ClientSocket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == clientConnected
}

// Recovered reports whether the last join restored the session the connection lost, through
// the server's connection state recovery: same id and rooms, and the events missed meanwhile
// delivered.
func (s *ClientSocket) Recovered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recovered
}

// Connect joins the namespace, connecting the Client first if needed, and returns once the
// server has answered: nil, or a *ConnectError when it refused. ctx bounds the wait; when it
// ends first the join is abandoned. Connect on a connected socket returns nil at once.
func (s *ClientSocket) Connect(ctx context.Context) error {
	wait := make(chan error, 1)
	s.mu.Lock()
	switch s.state {
	case clientConnected:
		s.mu.Unlock()
		return nil
	case clientIdle:
		s.everJoined = false
	}
	s.waiters = append(s.waiters, wait)
	s.mu.Unlock()

	cc, err := s.c.connection(ctx)
	if err == nil {
		err = s.join(cc)
	}
	if err == nil {
		select {
		case err = <-wait:
			return err
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	// Abandoned: unless the socket joined meanwhile, it goes back to idle.
	s.mu.Lock()
	s.waiters = slices.DeleteFunc(s.waiters, func(w chan error) bool { return w == wait })
	select {
	case e := <-wait:
		s.mu.Unlock()
		return e
	default:
	}
	if s.state == clientConnected || len(s.waiters) > 0 || s.everJoined {
		s.mu.Unlock()
		return err
	}
	cc, s.state, s.cc = s.cc, clientIdle, nil
	s.mu.Unlock()
	if cc != nil {
		cc.send(&packet{typ: packetDisconnect, nsp: s.nsp, id: noID}) // in case the answer is on its way
	}
	s.c.release()
	return err
}

// join sends the CONNECT packet on cc, unless the socket is already joined or joining there.
func (s *ClientSocket) join(cc *clientConn) error {
	s.mu.Lock()
	if s.cc == cc && (s.state == clientConnecting || s.state == clientConnected) {
		s.mu.Unlock()
		return nil
	}
	s.state, s.cc = clientConnecting, cc
	data := s.connectData()
	s.mu.Unlock()
	return cc.send(&packet{typ: packetConnect, nsp: s.nsp, id: noID, data: data})
}

// connectData returns the CONNECT payload: the auth, with the session's pid and offset when
// there is a session to recover, as the JavaScript client sends them.
func (s *ClientSocket) connectData() json.RawMessage {
	if s.pid == "" {
		return s.auth
	}
	m := map[string]json.RawMessage{}
	if len(s.auth) > 0 {
		_ = json.Unmarshal(s.auth, &m) // an object: checked by encodeAuth
	}
	if _, ok := m["pid"]; !ok {
		m["pid"] = json.RawMessage(strconv.Quote(s.pid))
	}
	if _, ok := m["offset"]; !ok && s.offset != "" {
		m["offset"] = json.RawMessage(strconv.Quote(s.offset))
	}
	b, _ := json.Marshal(m)
	return b
}

// isActive reports whether the socket wants to be connected.
func (s *ClientSocket) isActive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state != clientIdle
}

// rejoin sends CONNECT on a new connection if the socket lost its previous one.
func (s *ClientSocket) rejoin(cc *clientConn) {
	s.mu.Lock()
	again := s.state == clientReconnecting
	s.mu.Unlock()
	if again {
		if err := s.join(cc); err != nil {
			s.c.opts.Logger.Debug("socketio: rejoining failed", logattr.Namespace, s.nsp, logattr.Err, err)
		}
	}
}

// Disconnect leaves the namespace (socket.disconnect() in the JavaScript client): the server
// is told, OnDisconnect hooks get ReasonIOClientDisconnect, pending acknowledgements fail and
// buffered emits are dropped. The connection closes once no socket uses it. Connect joins
// again. Disconnect is idempotent. Client.Close closes the whole connection, every namespace's
// socket with it.
func (s *ClientSocket) Disconnect() error {
	s.terminate(ReasonIOClientDisconnect, true, ErrDisconnected)
	s.c.release()
	return nil
}

// terminate makes the socket idle, telling the server when polite.
func (s *ClientSocket) terminate(reason DisconnectReason, polite bool, err error) {
	s.mu.Lock()
	prev, cc := s.state, s.cc
	s.state, s.cc, s.everJoined, s.flushing, s.early = clientIdle, nil, false, false, nil
	waiters := s.takeWaiters()
	failed := s.failAcks(true)
	s.buffer = nil
	s.mu.Unlock()
	s.resolveAll(failed, err)
	s.failRetries(err)
	for _, w := range waiters {
		w <- err
	}
	if prev == clientConnected || prev == clientConnecting {
		if polite && cc != nil {
			cc.send(&packet{typ: packetDisconnect, nsp: s.nsp, id: noID})
		}
	}
	if prev == clientConnected {
		s.runDisconnect(reason)
	}
}

// connLost handles the loss of connection cc: a socket that had joined, or was rejoining,
// waits to rejoin on the next one; a first join fails.
func (s *ClientSocket) connLost(cc *clientConn, reason DisconnectReason) {
	s.mu.Lock()
	if s.cc != cc {
		s.mu.Unlock()
		return
	}
	prev := s.state
	s.cc, s.flushing, s.early = nil, false, nil
	waiters := s.takeWaiters()
	if s.everJoined {
		s.state = clientReconnecting
	} else {
		s.state = clientIdle
	}
	failed := s.failAcks(false)
	s.mu.Unlock()
	s.resolveAll(failed, ErrDisconnected)
	err := fmt.Errorf("socketio: joining %s: %w", s.nsp, &ConnectionLostError{Reason: reason})
	for _, w := range waiters {
		w <- err
	}
	if prev == clientConnected {
		s.runDisconnect(reason)
	}
}

func (s *ClientSocket) takeWaiters() []chan error {
	w := s.waiters
	s.waiters = nil
	return w
}

// failAcks takes the acknowledgements awaited that cannot come any more, for resolveAll: all
// of them, or those whose packet went out (the others are still in the buffer, to be sent
// after a reconnection). s.mu is held.
func (s *ClientSocket) failAcks(all bool) []*clientAck {
	var failed []*clientAck
	for id, a := range s.acks {
		if all || a.sent {
			failed = append(failed, a)
			delete(s.acks, id)
		}
	}
	return failed
}

// resolveAll fails acks with err; s.mu is not held, since a callback waits for room in the
// handler queue.
func (s *ClientSocket) resolveAll(acks []*clientAck, err error) {
	for _, a := range acks {
		s.resolve(a, clientAckResult{err: err})
	}
}

// resolve delivers an acknowledgement's outcome, once: to EmitWithAck, or to the callback,
// which runs in order with the socket's handlers.
func (s *ClientSocket) resolve(a *clientAck, r clientAckResult) {
	if a.fn == nil {
		a.reply <- r
		return
	}
	if a.stop != nil {
		a.stop()
	}
	s.exec.submit(func() { s.safely("acknowledgement callback", func() { a.fn(r.args, r.err) }) })
}

func (s *ClientSocket) runDisconnect(reason DisconnectReason) {
	s.mu.Lock()
	hooks := s.onDisc
	s.mu.Unlock()
	s.exec.submit(func() {
		for _, e := range hooks {
			s.safely("disconnect hook", func() { e.f(reason) })
		}
	})
}

// safely runs user code, turning a panic into a logged error.
func (s *ClientSocket) safely(what string, f func()) {
	protect(s.c.peers, what, "", f, logattr.Namespace, s.nsp)
}

// errNotConnected is returned by emits on a socket that is not joined and not rejoining.
var errNotConnected = fmt.Errorf("%w: call Connect first", ErrDisconnected)

// idleErr returns the error for emits on an idle socket.
func (s *ClientSocket) idleErr() error {
	if err := s.c.Err(); err != nil {
		return err
	}
	return errNotConnected
}
