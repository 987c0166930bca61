package engineio

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/websocket"
)

// Session is one client's Engine.IO session, over polling or WebSocket.
type Session struct {
	// Every idle session holds one, so the fields are grouped by size, the flags last, to leave
	// no padding; what only some sessions need (a poll's wake-up, the final drain) is made on
	// first use.
	srv      *Server
	id       string
	req      *RequestInfo
	protocol int // the Engine.IO protocol revision: 4, or 3 with AllowEIO3

	// inMu serializes the callbacks of a session: messages in order, one at a time, and
	// OnClose after the last.
	inMu sync.Mutex
	// delivering counts what is handing the client's packets over: a POST's payload, or one
	// message. The layer above may hold OnMessage up to push back on a client sending faster
	// than it can handle; the client's pong may then be waiting behind the packets we are not
	// reading, so the ping timeout waits too.
	delivering atomic.Int32
	// mayRefreshPing is set with each ping: the first packet other than a pong that arrives
	// while we wait for the pong restarts the ping timeout, once, as Node's engine.io does.
	// The client is evidently alive, and its pong may be queued behind what it is sending.
	mayRefreshPing atomic.Bool
	// ended is set when the session is closed: no message is delivered after it.
	ended atomic.Bool

	mu        sync.Mutex
	transport string
	queue     []outPacket // waiting for the transport
	spare     []outPacket // the previous batch's slice, reused
	// pending and pendingBytes count the packets not yet written, and their message bytes:
	// the queue and the batch the WebSocket writer holds. The send queue's bounds apply to
	// them. Guarded by mu.
	pending      int
	pendingBytes int
	wake         chan struct{} // made by the first poll: a session on WebSocket has none
	drained      chan struct{} // closed when a poll has taken the final close packet; see drainedChan
	ws           *websocket.Conn
	probe        *websocket.Conn // a WebSocket being upgraded to
	timer        *time.Timer
	// collectBy is when a v4 polling client that has not yet collected the current ping is
	// taken as gone: a heartbeat's start plus PingInterval and PingTimeout, or later after a
	// refresh. A poll arriving after it finds the session timed out even if the timer, run
	// late on a busy machine, has not yet queued or expired the ping.
	collectBy time.Duration // on Server.clock; zero until the heartbeat starts
	pingAt    time.Duration // when the ping awaiting its pong was queued, on Server.clock
	reason    CloseReason

	wsForm     wsForm // how ws carries binary messages; set with ws
	b64        bool   // a v3 client asked, in its handshake, for binary data as base64
	peerClosed bool   // the client sent a close packet
	upgrading  bool   // the probe was answered: polls are released at once
	// closeOnUpgrade is set when the server closed the session while a probe was under
	// way: a completed upgrade then delivers the queue and the close packet.
	closeOnUpgrade bool
	flushing       bool // a goroutine is writing the queue to ws
	getActive      bool
	postActive     bool
	closed         bool
	awaitingPong   bool
	drainClosed    bool // drained is closed; guarded by mu
}

// outPacket is a packet queued for a client.
type outPacket struct {
	typ  packetType
	msg  *PreparedMessage // for message packets
	data []byte           // for other packets, e.g. "probe"
}

// newSession opens a session for the handshake request r, whose query the caller parsed,
// keeping only a compact copy of
// what the layers above may ask of it later (RequestInfo).
func newSession(srv *Server, id string, r *http.Request, query requestQuery) *Session {
	return &Session{
		srv: srv,
		id:  id,
		req: NewRequestInfo(r),
		b64: query.Get("b64") != "",
	}
}

// ID returns the session id, the sid of the protocol.
func (s *Session) ID() string { return s.id }

// Protocol returns the Engine.IO protocol revision the session speaks: 4, or 3 for a client
// accepted with ServerOptions.AllowEIO3.
func (s *Session) Protocol() int { return s.protocol }

// v3 reports whether the session speaks Engine.IO v3.
func (s *Session) v3() bool { return s.protocol == 3 }

// Request returns what the handshake request said.
func (s *Session) Request() *RequestInfo { return s.req }

// Transport returns the transport in use: "polling" or "websocket".
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

// Send queues messages for the client, one after the other with nothing in between (a packet
// of the layer above and its attachments stay together). It never waits for the network. A
// client so far behind that SendQueueSize packets, or SendQueueBytes bytes, wait for it is
// disconnected with CloseSendQueueFull, and Send returns that reason; after the session ended,
// Send returns its close reason.
func (s *Session) Send(ms ...*PreparedMessage) error {
	return s.send(ms, false)
}

// SendVolatile sends messages only if the client is keeping up: when packets are already
// waiting for it (or, on polling, no request is waiting to take them), they are all dropped.
// Use it for data that is soon stale, such as positions or prices.
func (s *Session) SendVolatile(ms ...*PreparedMessage) error {
	return s.send(ms, true)
}

func (s *Session) send(ms []*PreparedMessage, volatile bool) error {
	s.mu.Lock()
	if s.closed {
		defer s.mu.Unlock()
		return s.reasonLocked()
	}
	if volatile && (len(s.queue) > 0 || s.flushing || (s.transport == TransportPolling && !s.getActive)) {
		s.mu.Unlock()
		if o := s.srv.opts.Observer; o != nil {
			o.VolatileDropped()
		}
		return nil
	}
	size := 0
	for _, m := range ms {
		size += m.size()
	}
	// A message larger than the byte bound still goes to a client that has nothing waiting.
	if s.pending+len(ms) > s.srv.opts.SendQueueSize ||
		(s.pending > 0 && s.pendingBytes+size > s.srv.opts.SendQueueBytes) {
		s.mu.Unlock()
		s.close(CloseSendQueueFull, nil, false)
		return CloseSendQueueFull
	}
	if o := s.srv.opts.Observer; o != nil {
		o.MessageSent(size)
	}
	if len(s.queue) == 0 && !s.flushing {
		ms = s.writeNowLocked(ms)
		if len(ms) == 0 {
			s.mu.Unlock()
			return nil
		}
	}
	for _, m := range ms {
		s.queue = append(s.queue, outPacket{typ: packetMessage, msg: m})
		s.pending++
		s.pendingBytes += m.size()
	}
	s.startFlushLocked()
	s.mu.Unlock()
	return nil
}

// writeNowLocked writes messages on the WebSocket from the sending goroutine for as long as
// the socket takes them without waiting, and returns those left for the writer goroutine.
// Sending to many sessions then costs no goroutine per message. s.mu is held, so nothing
// can be queued meanwhile and the order holds.
func (s *Session) writeNowLocked(ms []*PreparedMessage) []*PreparedMessage {
	if s.transport != TransportWebSocket || s.ws == nil {
		return ms
	}
	for len(ms) > 0 {
		if ok, _ := s.ws.TryWritePrepared(ms[0].preparedFor(s.wsForm)); !ok {
			break // full, busy or failing: the writer goroutine waits, or meets the error
		}
		ms = ms[1:]
	}
	return ms
}

// reasonLocked returns why the session closed; s.mu is held and s.closed is true.
func (s *Session) reasonLocked() error { return s.reason }

// Close ends the session from the server side: the client receives a close packet.
func (s *Session) Close() error {
	s.close(CloseServerClose, nil, true)
	return nil
}

// enqueueLocked queues a packet and gets it moving: a waiting poll is woken, or a WebSocket
// writer started. s.mu is held.
func (s *Session) enqueueLocked(p outPacket) {
	s.queue = append(s.queue, p)
	s.pending++
	s.startFlushLocked()
}

// pingLocked queues a ping ahead of the messages waiting: the ping timeout measures the
// client's liveness, not how long it takes to drain a backlog, and a polling client takes
// a backlog 16 packets per request. s.mu is held.
//
// It runs on the heartbeat timer's goroutine, which has nothing else to do: when the ping
// goes out over a WebSocket no one is writing to, that goroutine writes it, and pingLocked
// returns the connection to flush once s.mu is released. A flush goroutine of its own would
// cost a second goroutine start, wake-up and stack on every ping.
func (s *Session) pingLocked() (flushHere *websocket.Conn) {
	s.queue = slices.Insert(s.queue, 0, outPacket{typ: packetPing})
	s.pending++
	if s.transport == TransportWebSocket && s.ws != nil && !s.flushing {
		s.flushing = true
		return s.ws
	}
	s.startFlushLocked()
	return nil
}

// sentLocked records that packets left the queue, written or dropped; s.mu is held.
func (s *Session) sentLocked(pkts []outPacket) {
	for _, p := range pkts {
		s.pending--
		if p.msg != nil {
			s.pendingBytes -= p.msg.size()
		}
	}
}

// startFlushLocked gets the queue moving: a waiting poll is woken, or a WebSocket writer
// started. s.mu is held.
func (s *Session) startFlushLocked() {
	if s.transport == TransportWebSocket && s.ws != nil {
		if !s.flushing {
			s.flushing = true
			go s.flush(s.ws)
		}
		return
	}
	s.signalLocked()
}

// signalLocked wakes the poll waiting for packets, if any.
func (s *Session) signalLocked() {
	if s.wake == nil {
		return // no poll ever waited
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// drainedChan returns the channel closed once the final close packet has been taken, made on
// first use: most sessions never get that far, and an idle one should not pay for it.
func (s *Session) drainedChan() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drained == nil {
		s.drained = make(chan struct{})
	}
	return s.drained
}

// markDrained closes the channel of drainedChan, once.
func (s *Session) markDrained() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drained == nil {
		s.drained = make(chan struct{})
	}
	if !s.drainClosed {
		s.drainClosed = true
		close(s.drained)
	}
}

// deliver hands a received message to the user, unless the session has ended.
func (s *Session) deliver(m Message) {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.ended.Load() {
		return
	}
	if o := s.srv.opts.Observer; o != nil {
		o.MessageReceived(len(m.Data))
	}
	if s.srv.opts.OnMessage != nil {
		s.delivering.Add(1)
		s.srv.opts.OnMessage(s, m)
		s.delivering.Add(-1)
	}
}

// handlePacket acts on a packet from the client, whatever its transport.
func (s *Session) handlePacket(p packet) {
	if s.v3() {
		s.handlePacketV3(p)
		return
	}
	if p.typ != packetPong && s.mayRefreshPing.Load() && s.mayRefreshPing.CompareAndSwap(true, false) {
		s.mu.Lock()
		if s.awaitingPong && !s.closed {
			s.timer.Reset(s.srv.opts.PingTimeout)
			s.extendCollectByLocked(s.srv.opts.PingTimeout)
		}
		s.mu.Unlock()
	}
	switch p.typ {
	case packetMessage:
		s.deliver(Message{Data: p.data, Binary: p.binary})
	case packetPong:
		s.mu.Lock()
		if s.awaitingPong && !s.closed {
			// The next ping is due PingInterval after this one, not after its pong: pings
			// keep their period however long each round trip takes on a busy machine.
			s.awaitingPong = false
			now := s.srv.clock()
			next := max(0, s.srv.opts.PingInterval-(now-s.pingAt))
			s.timer.Reset(next)
			s.collectBy = now + next + s.srv.opts.PingTimeout
		}
		s.mu.Unlock()
	case packetClose:
		s.mu.Lock()
		s.peerClosed = true
		s.mu.Unlock()
		s.close(CloseTransportClose, nil, false)
	}
	// Pings, upgrades and noops outside an upgrade carry nothing for us.
}

// startHeartbeat starts the heartbeat. In v4 the server pings and the client must answer in
// time; in v3 the client pings, and must do so within PingInterval+PingTimeout of the last.
func (s *Session) startHeartbeat() {
	f, first := s.heartbeat, s.srv.opts.PingInterval
	if s.v3() {
		f, first = s.heartbeatV3, s.v3Timeout()
	}
	t := time.AfterFunc(time.Hour, f)
	t.Stop()
	s.mu.Lock()
	s.timer = t // set before the first tick can read it
	if !s.closed {
		t.Reset(first)
		s.collectBy = s.srv.clock() + s.srv.opts.PingInterval + s.srv.opts.PingTimeout
	}
	s.mu.Unlock()
}

func (s *Session) heartbeat() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.awaitingPong {
		if s.delivering.Load() > 0 {
			// Not the client's fault: we are not reading what it sent. Ping again, which
			// keeps the client from timing us out, and wait again.
			ws := s.pingLocked()
			s.timer.Reset(s.srv.opts.PingTimeout)
			s.extendCollectByLocked(s.srv.opts.PingTimeout)
			s.mu.Unlock()
			if ws != nil {
				s.flush(ws)
			}
			return
		}
		s.mu.Unlock()
		s.close(ClosePingTimeout, nil, false)
		return
	}
	s.awaitingPong = true
	s.pingAt = s.srv.clock()
	s.mayRefreshPing.Store(true)
	ws := s.pingLocked()
	s.timer.Reset(s.srv.opts.PingTimeout)
	s.mu.Unlock()
	if ws != nil {
		s.flush(ws)
	}
}

// extendCollectByLocked gives the client at least d from now to collect the ping; s.mu is held.
func (s *Session) extendCollectByLocked(d time.Duration) {
	if t := s.srv.clock() + d; t > s.collectBy {
		s.collectBy = t
	}
}

// missedPingLocked reports whether a v4 client polling now has let its heartbeat lapse
// without collecting the ping, which a client that is alive never does; s.mu is held.
// A client that collected the ping is judged by the timer alone, which started when the ping
// was queued.
func (s *Session) missedPingLocked() bool {
	if s.v3() || s.closed || s.transport != TransportPolling || s.collectBy == 0 || s.srv.clock() <= s.collectBy || s.delivering.Load() > 0 {
		return false
	}
	return !s.awaitingPong || (len(s.queue) > 0 && s.queue[0].typ == packetPing)
}

// open runs the user's OnOpen hook, before any message of the session is delivered.
func (s *Session) open(transport string) {
	s.mu.Lock()
	s.transport = transport
	s.mu.Unlock()
	if o := s.srv.opts.Observer; o != nil {
		o.SessionOpened(transport)
	}
	if f := s.srv.opts.OnOpen; f != nil {
		s.inMu.Lock()
		f(s)
		s.inMu.Unlock()
	}
	s.startHeartbeat()
}

// close ends the session once, for reason. notify asks for a close packet to the client, when
// the client did not end the session itself. The callbacks and the cleanup run in their own
// goroutine, so close may be called from anywhere, OnMessage included.
func (s *Session) close(reason CloseReason, detail error, notify bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.reason = reason
	if s.timer != nil {
		s.timer.Stop()
	}
	ws, probe, transport := s.ws, s.probe, s.transport
	linger := false
	if probe != nil && notify && s.transport == TransportPolling {
		// The client may be about to finish an upgrade, having stopped polling: the queue
		// and the close packet then go out over the WebSocket (see runUpgrade), as the
		// JavaScript server lets an upgrade complete while it is closing.
		s.closeOnUpgrade = true
		probe = nil
	}
	if s.transport == TransportPolling {
		// What a poll gets, as the JavaScript server does it: after the client's own close
		// packet, a pending poll is released with a noop; otherwise the packets still queued go
		// out, and the close packet follows in a payload of its own (see poll), so a server-side
		// close may wait for one or two more polls. Any other close drops the session at once:
		// later requests get 400.
		switch {
		case reason == CloseTransportClose:
			clear(s.queue)
			s.queue = append(s.queue[:0], outPacket{typ: packetNoop})
			// A client may send its close while its poll is on the way (the official suite's
			// "forcefully closes the session" does): the JavaScript server, which takes a
			// request's head before another's body, always sees that poll first. Here the two
			// race, so a poll that comes just after the close gets the noop too.
			linger = !s.getActive
		case s.getActive || notify:
			linger = !s.getActive || len(s.queue) > 0
			s.queue = append(s.queue, outPacket{typ: packetClose})
		default:
			clear(s.queue)
			s.queue = s.queue[:0]
		}
		s.signalLocked()
	} else if !notify {
		// Nothing more goes to this client: let the queued messages go now, not when the
		// session is collected.
		clear(s.queue)
		s.queue = nil
	}
	s.mu.Unlock()
	s.ended.Store(true)
	// Enabled is asked first: the arguments cost allocations even for a record nobody takes,
	// and most sessions end without one.
	if level := closeLevel(reason); s.srv.log.Enabled(context.Background(), level) {
		args := []any{logattr.SID, s.id, logattr.Reason, string(reason), logattr.Transport, transport,
			logattr.Remote, s.req.RemoteAddr(), logattr.Err, detail}
		if level == slog.LevelDebug {
			s.srv.log.Debug("engineio: session closed", args...)
		} else {
			s.srv.endLog.LogKey(context.Background(), s.srv.log, level, string(reason), "engineio: session closed", args...)
		}
	}
	if o := s.srv.opts.Observer; o != nil {
		o.SessionClosed(reason)
	}
	if reason == CloseSendQueueFull || errors.Is(detail, websocket.ErrWriteTimeout) {
		if o := s.srv.opts.Observer; o != nil {
			o.SlowClient()
		}
		// The server's own policy at work, which the operator should hear of, but once in
		// a while: the next line counts the sessions dropped meanwhile (suppressed=N).
		s.srv.slowLog.Log(context.Background(), s.srv.log, slog.LevelWarn,
			"engineio: disconnected a client that is not reading what it is sent",
			logattr.SID, s.id, logattr.Reason, string(reason), logattr.Transport, transport,
			logattr.Remote, s.req.RemoteAddr(), logattr.Err, detail)
	}
	go s.finish(reason, detail, ws, probe, notify, linger)
}

// closeLevel is the level of a session's end: debug for the ends of a working connection
// (either side closed it), info for those an operator looks into when clients drop
// (timeouts, broken connections, protocol errors).
func closeLevel(reason CloseReason) slog.Level {
	switch reason {
	case CloseTransportClose, CloseServerClose, CloseServerShutdown:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// closeLinger bounds how long a closed polling session waits for a poll to collect its close
// packet before it is forgotten.
const closeLinger = time.Second

func (s *Session) finish(reason CloseReason, detail error, ws, probe *websocket.Conn, notify, linger bool) {
	if probe != nil {
		probe.CloseNow()
	}
	if ws != nil && notify {
		s.closeWebSocket(ws)
	}
	s.srv.clients.Add(-1) // closed now, though its entry lingers below
	s.inMu.Lock()
	if f := s.srv.opts.OnClose; f != nil {
		f(s, reason, detail)
	}
	s.inMu.Unlock()
	if ws != nil && !notify {
		// After OnClose: a peer that has gone quiet must not delay it.
		s.mu.Lock()
		peerClosed := s.peerClosed
		s.mu.Unlock()
		dropWebSocket(ws, reason, peerClosed)
	}
	if linger {
		t := time.NewTimer(min(closeLinger, s.srv.opts.PingInterval+s.srv.opts.PingTimeout))
		select {
		case <-s.drainedChan():
		case <-t.C:
		}
		t.Stop()
	}
	s.srv.remove(s)
}

// closeBudget bounds a server-side close of a WebSocket: the packets still queued, the close
// packet and the close handshake. A client that does not read gets its connection closed
// without them when the time is up.
const closeBudget = 2 * time.Second

// closeWebSocket ends a session's WebSocket from the server's side: once the writer has
// finished its batch, the packets still queued, then a close packet, then the close handshake,
// all within closeBudget.
func (s *Session) closeWebSocket(conn *websocket.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeBudget)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		if !s.flushing {
			break
		}
		s.mu.Unlock()
		select {
		case <-tick.C:
		case <-ctx.Done():
			// The writer is stuck on a peer that does not read.
			conn.CloseNow()
			return
		}
	}
	rest, form := s.queue, s.wsForm
	s.queue = nil
	s.mu.Unlock()
	for _, p := range rest {
		if writePacket(ctx, conn, p, form) != nil {
			conn.CloseNow()
			return
		}
	}
	if writePacket(ctx, conn, outPacket{typ: packetClose}, wsFormV4) != nil {
		conn.CloseNow()
		return
	}
	_ = conn.CloseContext(ctx, websocket.StatusNormalClosure, "")
}
