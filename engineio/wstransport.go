package engineio

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/websocket"
)

// startWebSocket serves a session that began on WebSocket: the open packet is its first frame.
func (s *Session) startWebSocket(conn *websocket.Conn) {
	// The handshake's response carried the open packet (websocket.AcceptWithMessage). The
	// connection belongs to the session before anything else is written, so that a close (a
	// shutdown, say) that came meanwhile closes it too.
	s.mu.Lock()
	s.ws = conn
	s.wsForm = s.wsFormFor(s.b64)
	closed := s.closed
	s.mu.Unlock()
	s.open(TransportWebSocket)
	if closed {
		conn.CloseNow()
		s.close(CloseTransportError, websocket.ErrClosed, false) // already closed: a no-op
		return
	}
	s.readWebSocket(conn)
}

// upgrade moves a polling session to WebSocket: probe, release of the pending poll, the
// client's upgrade packet, then the queue flushed over the new transport.
//
// A WebSocket for a session that is already upgrading or upgraded is accepted and closed at
// once, leaving the session be, as the JavaScript server does (the official protocol suite's
// "ignores WebSocket connection with same sid after upgrade" expects the handshake to complete).
func (s *Session) upgrade(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closed, upgraded := s.closed, s.transport != TransportPolling || s.probe != nil
	s.mu.Unlock()
	if closed || s.srv.opts.DisableUpgrades {
		writeError(w, errBadRequest, "")
		return
	}
	conn, err := websocket.Accept(w, r, &s.srv.wsOptions)
	if err != nil {
		// Accept has answered the client; only the operator is left to tell.
		s.srv.log.Debug("engineio: websocket handshake refused", logattr.SID, s.id, logattr.Remote, r.RemoteAddr, logattr.Err, err)
		return
	}
	if upgraded {
		s.refuseWebSocket(conn)
		return
	}
	s.mu.Lock()
	if s.probe != nil || s.closed || s.transport != TransportPolling {
		s.mu.Unlock()
		s.refuseWebSocket(conn)
		return
	}
	s.probe = conn
	s.mu.Unlock()
	go s.runUpgrade(conn, s.wsFormFor(r.URL.Query().Get("b64") != ""))
}

// refuseWebSocket closes a WebSocket the session has no use for, with a close frame without
// a status (what the JavaScript server's ws.close() sends), within closeBudget.
func (s *Session) refuseWebSocket(conn *websocket.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeBudget)
	defer cancel()
	_ = conn.CloseContext(ctx, websocket.StatusNoStatusRcvd, "")
}

var (
	probeText   = []byte("2probe")
	probeAnswer = []byte("3probe")
	upgradeText = []byte("5")
)

// upgradeReleaseDelay is how long after answering the probe the server releases the poll in
// flight with a noop: the JavaScript server's first upgrade check comes after 100 ms.
const upgradeReleaseDelay = 100 * time.Millisecond

func (s *Session) runUpgrade(conn *websocket.Conn, form wsForm) {
	ctx, cancel := context.WithTimeout(context.Background(), s.srv.opts.UpgradeTimeout)
	err := s.probeExchange(ctx, conn)
	cancel()
	s.mu.Lock()
	s.upgrading = false
	if err == nil && s.closed && s.closeOnUpgrade {
		s.probe = nil
		s.transport = TransportWebSocket
		s.ws = conn
		s.wsForm = form
		// closeWebSocket sends the queue, then a close packet of its own.
		s.queue = slices.DeleteFunc(s.queue, func(p outPacket) bool {
			return p.typ == packetNoop || p.typ == packetClose
		})
		s.mu.Unlock()
		s.closeWebSocket(conn)
		s.markDrained()
		return
	}
	if err != nil || s.closed {
		s.probe = nil
		s.mu.Unlock()
		conn.CloseNow()
		s.srv.log.Debug("engineio: upgrade failed", logattr.SID, s.id, logattr.Remote, s.req.RemoteAddr(), logattr.Err, err)
		return
	}
	s.probe = nil
	s.transport = TransportWebSocket
	if o := s.srv.opts.Observer; o != nil {
		o.Upgraded()
	}
	s.ws = conn
	s.wsForm = form
	// The noops were for polling; what else waits goes out over the WebSocket, in order.
	kept := s.queue[:0]
	for _, p := range s.queue {
		if p.typ != packetNoop {
			kept = append(kept, p)
		} else {
			s.pending--
		}
	}
	clear(s.queue[len(kept):])
	s.queue = kept
	s.signalLocked() // a poll still waiting is refused: the session is on WebSocket now
	if len(s.queue) > 0 && !s.flushing {
		s.flushing = true
		go s.flush(conn)
	}
	s.mu.Unlock()
	if !s.watchWebSocket(conn) {
		s.readWebSocketLoop(conn)
	}
}

// probeExchange runs the client's side of the upgrade handshake up to its upgrade packet.
func (s *Session) probeExchange(ctx context.Context, conn *websocket.Conn) error {
	typ, b, err := conn.Read(ctx)
	if err != nil {
		return err
	}
	if typ != websocket.MessageText || !bytes.Equal(b, probeText) {
		return errors.New("engineio: upgrade: expected the probe ping")
	}
	if err := conn.Write(ctx, websocket.MessageText, probeAnswer); err != nil {
		return err
	}
	// Release the pending poll, and answer any poll until the upgrade ends at once, so that the
	// client can pause polling and finish the upgrade. As the JavaScript server does, this
	// waits a moment first: a client that sends its upgrade packet right after the probe
	// (and then polls) finds itself upgraded, whichever of its connections we read first.
	release := time.AfterFunc(upgradeReleaseDelay, func() {
		s.mu.Lock()
		if s.probe == conn && !s.closed && s.transport == TransportPolling {
			s.upgrading = true
			s.enqueueLocked(outPacket{typ: packetNoop})
		}
		s.mu.Unlock()
	})
	defer release.Stop()
	for {
		typ, b, err = conn.Read(ctx)
		if err != nil {
			return err
		}
		switch {
		case typ == websocket.MessageText && bytes.Equal(b, upgradeText):
			return nil
		case typ == websocket.MessageText && len(b) == 1 && b[0] == '0'+byte(packetNoop):
			continue
		default:
			return errors.New("engineio: upgrade: expected the upgrade packet")
		}
	}
}

// readWebSocket has the client's packets read until the connection ends, on readiness where
// it can, or else from a goroutine of its own. It does not wait.
func (s *Session) readWebSocket(conn *websocket.Conn) {
	if !s.watchWebSocket(conn) {
		go s.readWebSocketLoop(conn)
	}
}

// watchWebSocket has the server's Poller read conn on readiness, and reports whether it does.
func (s *Session) watchWebSocket(conn *websocket.Conn) bool {
	p := s.srv.readPoller()
	if p == nil {
		return false
	}
	ready := func() {
		ctx := context.Background()
		for {
			typ, b, err := conn.TryRead(ctx)
			if err == websocket.ErrWouldBlock || !s.receiveWebSocket(typ, b, err) {
				return
			}
		}
	}
	// A refusal (a TLS connection) leaves it to a goroutine; so does a connection already
	// closed, whose read then fails at once and ends the session as it should.
	return p.Watch(conn, ready) == nil
}

// readWebSocketLoop reads the client's packets until the connection ends.
func (s *Session) readWebSocketLoop(conn *websocket.Conn) {
	ctx := context.Background()
	for {
		typ, b, err := conn.Read(ctx)
		if !s.receiveWebSocket(typ, b, err) {
			return
		}
	}
}

// receiveWebSocket handles what a read of the session's WebSocket returned, and reports
// whether to read on.
func (s *Session) receiveWebSocket(typ websocket.MessageType, b []byte, err error) bool {
	if err != nil {
		s.close(webSocketCloseReason(err), err, false)
		return false
	}
	var p packet
	switch {
	case s.v3() && typ == websocket.MessageBinary:
		p, err = decodeBinaryFrameV3(b)
	case s.v3():
		p, err = decodeTextV3(b)
	case typ == websocket.MessageBinary:
		p = packet{typ: packetMessage, data: b, binary: true}
	default:
		p, err = decodeText(b, false)
	}
	if err != nil {
		s.close(CloseParseError, err, true)
		return false
	}
	s.handlePacket(p)
	return true
}

// webSocketCloseReason maps how a WebSocket ended to the session's close reason.
func webSocketCloseReason(err error) CloseReason {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		switch {
		case ce.Local && ce.Code == websocket.StatusMessageTooBig:
			return ClosePayloadTooLarge
		case !ce.Local:
			return CloseTransportClose
		}
	}
	return CloseTransportError
}

// flush writes the queue to the WebSocket until it is empty. One runs at a time per session,
// started when packets are queued, so an idle session has no writing goroutine.
func (s *Session) flush(conn *websocket.Conn) {
	ctx := context.Background()
	for {
		s.mu.Lock()
		if len(s.queue) == 0 || s.closed {
			s.flushing = false
			s.mu.Unlock()
			return
		}
		batch := s.queue
		s.queue = s.spare[:0]
		form := s.wsForm
		s.mu.Unlock()
		for i, p := range batch {
			err := writePacket(ctx, conn, p, form)
			s.mu.Lock()
			s.sentLocked(batch[i : i+1])
			if err != nil {
				s.flushing = false
				s.mu.Unlock()
				s.close(CloseTransportError, err, false)
				return
			}
			s.mu.Unlock()
		}
		clear(batch)
		s.mu.Lock()
		s.spare = batch
		s.mu.Unlock()
	}
}

// writePacket writes one queued packet to a WebSocket, binary messages in form.
func writePacket(ctx context.Context, conn *websocket.Conn, p outPacket, form wsForm) error {
	if p.typ == packetMessage {
		return conn.WritePrepared(ctx, p.msg.preparedFor(form))
	}
	return conn.Write(ctx, websocket.MessageText, packet{typ: p.typ, data: p.data}.appendText(nil))
}

// dropWebSocket ends a session's WebSocket after the session ended for reason. A client that
// sent a close packet gets the close handshake; a connection still working (a ping timeout, a
// full queue) gets a close frame naming the reason, within closeBudget; a broken or already
// failed one is just closed.
func dropWebSocket(conn *websocket.Conn, reason CloseReason, peerClosed bool) {
	ctx, cancel := context.WithTimeout(context.Background(), closeBudget)
	defer cancel()
	switch {
	case peerClosed:
		_ = conn.CloseContext(ctx, websocket.StatusNormalClosure, "")
	case reason == CloseTransportClose, reason == CloseTransportError, reason == ClosePayloadTooLarge:
		conn.CloseNow()
	default:
		_ = conn.CloseContext(ctx, websocket.StatusNormalClosure, string(reason))
	}
}
