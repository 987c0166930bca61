package engineio

import (
	"errors"
	"slices"
	"time"
)

// The behaviour of a session speaking Engine.IO v3, where it differs from v4: the client
// pings and the server answers, and long-polling payloads take the v3 forms (see v3.go).

var errHeartbeatDirection = errors.New("engineio: invalid heartbeat direction")

// v3Timeout is how long a v3 client may go without pinging: its interval plus the time its
// ping may take, as Node's server waits.
func (s *Session) v3Timeout() time.Duration {
	return s.srv.opts.PingInterval + s.srv.opts.PingTimeout
}

// handlePacketV3 acts on a packet from a v3 client.
func (s *Session) handlePacketV3(p packet) {
	switch p.typ {
	case packetMessage:
		s.deliver(Message{Data: p.data, Binary: p.binary})
	case packetPing:
		s.mu.Lock()
		if !s.closed {
			if s.timer != nil { // set by open, before any packet is read
				s.timer.Reset(s.v3Timeout())
			}
			// Ahead of waiting messages, as pings in v4: the answer measures liveness.
			s.queue = slices.Insert(s.queue, 0, outPacket{typ: packetPong})
			s.pending++
			s.startFlushLocked()
		}
		s.mu.Unlock()
	case packetPong:
		// A v3 client never answers a ping, since the server sends none: Node ends the
		// session, and so does this.
		s.close(CloseTransportError, errHeartbeatDirection, false)
	case packetClose:
		s.mu.Lock()
		s.peerClosed = true
		s.mu.Unlock()
		s.close(CloseTransportClose, nil, false)
	}
}

// heartbeatV3 runs when a v3 client has not pinged in time.
func (s *Session) heartbeatV3() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.delivering.Load() > 0 {
		// Not the client's fault: its ping may be waiting behind what we are not reading.
		s.timer.Reset(s.v3Timeout())
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.close(ClosePingTimeout, nil, false)
}

// wsFormFor returns how a WebSocket opened by a request that asked for base64 (b64) or not
// carries binary messages: as Node decides it for each transport from its own request, a v3
// client that asks for base64 gets it there too.
func (s *Session) wsFormFor(b64 bool) wsForm {
	switch {
	case !s.v3():
		return wsFormV4
	case b64:
		return wsFormV3Base64
	}
	return wsFormV3
}

// supportsBinary reports whether a v3 polling client takes binary payloads: XHR2 clients do,
// unless they ask for base64 with a b64 parameter, as Node decides it from the handshake.
func (s *Session) supportsBinary() bool {
	return !s.b64
}

// batchV3Locked takes up to maxBatch queued packets (the close packet alone, as in v4) and
// encodes them as one v3 payload: binary if the client supports it and a binary message is
// among them, text otherwise. It returns the payload, whether it is binary, and whether it
// may be compressed. s.mu is held.
func (s *Session) batchV3Locked() (body []byte, binary, compress bool) {
	n, size := 0, 0
	hasBinary := false
	for n < len(s.queue) && n < maxBatch && (n == 0 || size < s.srv.opts.MaxPayload) {
		p := s.queue[n]
		if p.typ == packetClose && n > 0 {
			break
		}
		if p.typ == packetMessage {
			size += p.msg.size()
			hasBinary = hasBinary || p.msg.binary
			compress = compress || !p.msg.uncompressed
		} else {
			size += len(p.data) + 1
			compress = true
		}
		n++
	}
	binary = hasBinary && s.supportsBinary()
	for _, p := range s.queue[:n] {
		body = appendPacketV3(body, p, binary)
	}
	s.sentLocked(s.queue[:n])
	clear(s.queue[:n])
	s.queue = s.queue[n:]
	return body, binary, compress
}
