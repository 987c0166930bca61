package socketio

import (
	"encoding/json"
	"log/slog"

	"github.com/tether-rt/tether/internal/logattr"
)

// receive acts on a packet for this socket's namespace, on connection cc's reader, in
// arrival order.
func (s *ClientSocket) receive(cc *clientConn, p *packet) {
	switch p.typ {
	case packetConnect:
		s.onJoined(cc, p)
	case packetConnectError:
		s.onRefused(cc, p)
	case packetDisconnect:
		s.onServerDisconnect(cc)
	case packetEvent, packetBinaryEvent:
		s.onEvent(cc, p)
	case packetAck, packetBinaryAck:
		s.onAck(p)
	}
}

// onJoined handles the server's CONNECT: the socket is in, and what was buffered goes out.
func (s *ClientSocket) onJoined(cc *clientConn, p *packet) {
	var d struct {
		SID string `json:"sid"`
		PID string `json:"pid"`
	}
	_ = json.Unmarshal(p.data, &d) // the parser checked it is an object, if present
	s.mu.Lock()
	if s.cc != cc || s.state != clientConnecting {
		s.mu.Unlock()
		return
	}
	s.state, s.id, s.everJoined = clientConnected, d.SID, true
	s.recovered = d.PID != "" && d.PID == s.pid
	if !s.recovered {
		s.offset = ""
	}
	s.pid = d.PID
	s.flushing = len(s.buffer) > 0
	early := s.early
	s.early = nil
	for _, e := range early {
		s.trackOffset(e)
	}
	waiters := s.takeWaiters()
	hooks := s.onConnect
	s.mu.Unlock()

	// As in the JavaScript client: the events that came first, then the connect hooks.
	for _, e := range early {
		s.exec.submit(func() { s.handleEvent(cc, e) })
	}
	s.exec.submit(func() {
		for _, e := range hooks {
			s.safely("connect hook", e.f)
		}
	})
	s.flush(cc)
	s.exec.submit(s.drainRetries) // what was queued while disconnected
	for _, w := range waiters {
		w <- nil
	}
}

// onRefused handles CONNECT_ERROR: the socket stays out, as the JavaScript client does, until
// Connect is called again.
func (s *ClientSocket) onRefused(cc *clientConn, p *packet) {
	ce := &ConnectError{}
	if firstByte(p.data) == '"' {
		_ = json.Unmarshal(p.data, &ce.Message) // python-socketio sends a bare string
	} else {
		var d struct {
			Message string `json:"message"`
			Data    any    `json:"data"`
		}
		_ = json.Unmarshal(p.data, &d)
		ce.Message, ce.Data = d.Message, d.Data
	}
	s.mu.Lock()
	if s.cc != cc || s.state != clientConnecting {
		s.mu.Unlock()
		return
	}
	s.state, s.cc, s.everJoined, s.flushing, s.early = clientIdle, nil, false, false, nil
	waiters := s.takeWaiters()
	failed := s.failAcks(true)
	s.buffer = nil
	hooks := s.onConnErr
	s.mu.Unlock()
	s.resolveAll(failed, ce)
	s.exec.submit(func() {
		for _, e := range hooks {
			s.safely("connect error hook", func() { e.f(ce) })
		}
	})
	for _, w := range waiters {
		w <- ce
	}
	s.c.release()
}

// onServerDisconnect handles DISCONNECT: the server put the socket out, which does not
// reconnect.
func (s *ClientSocket) onServerDisconnect(cc *clientConn) {
	s.mu.Lock()
	if s.cc != cc || s.state == clientIdle {
		s.mu.Unlock()
		return
	}
	prev := s.state
	s.state, s.cc, s.everJoined, s.flushing, s.early = clientIdle, nil, false, false, nil
	waiters := s.takeWaiters()
	failed := s.failAcks(true)
	s.buffer = nil
	s.mu.Unlock()
	s.resolveAll(failed, ErrDisconnected)
	for _, w := range waiters {
		w <- ErrDisconnected
	}
	if prev == clientConnected {
		s.runDisconnect(ReasonIOServerDisconnect)
	}
	s.c.release()
}

// onEvent keeps the recovery offset and queues the event for the handlers.
func (s *ClientSocket) onEvent(cc *clientConn, p *packet) {
	s.mu.Lock()
	switch {
	case s.cc == cc && s.state == clientConnecting && len(s.early) < maxEarlyEvents:
		// Node's server sends the events a recovered session missed before its CONNECT.
		s.early = append(s.early, p)
		s.mu.Unlock()
		return
	case s.cc != cc || s.state != clientConnected:
		s.mu.Unlock()
		return // for a join abandoned, or crossed with a DISCONNECT
	}
	s.trackOffset(p)
	s.mu.Unlock()
	s.exec.submit(func() { s.handleEvent(cc, p) })
}

// maxEarlyEvents bounds the events kept while a join is answered.
const maxEarlyEvents = 10_000

// trackOffset applies the JavaScript client's rule: with a session to recover, the last
// argument of an event without ack id, when a string, is the offset to send back on
// reconnecting. s.mu is held.
func (s *ClientSocket) trackOffset(p *packet) {
	if s.pid == "" || p.id != noID || len(p.args) < 2 {
		return
	}
	if last := p.args[len(p.args)-1]; firstByte(last) == '"' {
		var off string
		if json.Unmarshal(last, &off) == nil {
			s.offset = off
		}
	}
}

func (s *ClientSocket) handleEvent(cc *clientConn, p *packet) {
	raw := p.args
	event := eventName(raw[0])
	args := raw[1:]
	log, maxValues := s.c.peers, s.c.maxValues
	if p.tooManyArgs {
		log.event(slog.LevelWarn, "socketio: event not handled", logattr.Namespace, s.nsp, logattr.Err, tooManyArgsError(event, len(args)))
		return
	}
	r := &eventReply{ack: s.ackFunc(cc, p.id)}

	s.mu.Lock()
	anyIn, hs := s.anyIn, s.handlers[event]
	s.mu.Unlock()
	if len(anyIn) > 0 {
		values, err := decodeValues(event, args, p.attachments, maxValues)
		if err != nil {
			log.event(slog.LevelWarn, "socketio: event not passed to catch-all listeners", logattr.Namespace, s.nsp, logattr.Err, err)
			anyIn = nil
		}
		for _, e := range anyIn {
			s.safely("catch-all listener", func() { e.f(event, values) })
		}
	}
	callHandlers(log, nil, event, args, p.attachments, maxValues, r, hs, where{nsp: s.nsp})
}

// onAck delivers an acknowledgement to the EmitWithAck waiting for it.
func (s *ClientSocket) onAck(p *packet) {
	s.mu.Lock()
	a := s.acks[p.id]
	delete(s.acks, p.id)
	s.mu.Unlock()
	if a == nil {
		return // late, or never asked for
	}
	if p.tooManyArgs {
		s.resolve(a, clientAckResult{err: tooManyArgsError("", len(p.args))})
		return
	}
	s.resolve(a, clientAckResult{args: Args{raw: p.args, attachments: p.attachments}})
}
