package engineio

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// maxBatch bounds the packets of one polling response: older python-engineio clients refuse
// payloads of more than 16 packets.
const maxBatch = 16

var (
	errOverlap     = errors.New("engineio: overlapping requests on one session")
	errPollAborted = errors.New("engineio: poll request closed by the client")
)

// serve answers a request for an existing session.
func (s *Session) serve(w http.ResponseWriter, r *http.Request, transport string) {
	switch {
	case transport == TransportWebSocket:
		s.upgrade(w, r)
	case r.Method == http.MethodGet:
		s.poll(w, r)
	case r.Method == http.MethodPost:
		s.post(w, r)
	default:
		writeError(w, errBadRequest, "")
	}
}

// startPolling answers a polling handshake with the open packet.
func (s *Session) startPolling(w http.ResponseWriter) {
	s.open(TransportPolling)
	body := s.srv.openPacket(s.id, true)
	if s.v3() {
		body = append(appendLengthV3(nil, utf16Len(body)), body...)
	}
	_ = writePayload(w, body, false, s.srv.opts.WriteTimeout) // a failure ends in a ping timeout
}

// writePayload answers a poll with body within timeout: a client that stops reading must not
// hold the handler, its connection and the payload forever (net/http's writes have no deadline
// unless the http.Server sets WriteTimeout, which long polls cannot use). The whole answer is
// flushed under the deadline, which is then lifted for the next request on the connection;
// after a failed write it stays, and the connection ends. binary marks a v3 binary payload.
func writePayload(w http.ResponseWriter, body []byte, binary bool, timeout time.Duration) error {
	h := w.Header()
	if binary {
		h.Set("Content-Type", "application/octet-stream")
	} else {
		h.Set("Content-Type", "text/plain; charset=UTF-8")
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rc := http.NewResponseController(w)
	bounded := rc.SetWriteDeadline(time.Now().Add(timeout)) == nil
	if _, err := w.Write(body); err != nil {
		return err
	}
	if !bounded {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return err
	}
	return rc.SetWriteDeadline(time.Time{})
}

// claimLocked marks a GET or POST as in progress on the session (active is getActive or
// postActive), with s.mu held. Otherwise it unlocks s.mu and answers as the protocol says: an
// overlapping request ends the session, a request for a session that moved to WebSocket is a
// bad request, and one for an ended session (with nothing left for a poll to collect) gets
// "Session ID unknown".
func (s *Session) claimLocked(w http.ResponseWriter, active *bool, method string) bool {
	switch {
	case *active:
		s.mu.Unlock()
		writeError(w, errBadRequest, "overlapping "+method+" requests")
		s.close(CloseTransportError, errOverlap, false)
	case s.transport != TransportPolling:
		s.mu.Unlock()
		writeError(w, errBadRequest, "")
	case s.closed && (method == http.MethodPost || len(s.queue) == 0):
		s.mu.Unlock()
		writeError(w, errUnknownSession, "")
	default:
		*active = true
		return true
	}
	return false
}

// poll answers a GET: it waits for packets, then sends up to maxBatch of them.
func (s *Session) poll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.missedPingLocked() {
		s.mu.Unlock()
		s.close(ClosePingTimeout, nil, false)
		writeError(w, errUnknownSession, "")
		return
	}
	if !s.claimLocked(w, &s.getActive, "GET") {
		return
	}
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
	}
	wake := s.wake
	for len(s.queue) == 0 && s.transport == TransportPolling && !s.closed && !s.upgrading {
		s.mu.Unlock()
		select {
		case <-wake:
		case <-r.Context().Done():
			// The client gave up its poll: the session ends, as with the JavaScript server.
			s.mu.Lock()
			s.getActive = false
			s.mu.Unlock()
			s.close(CloseTransportError, errPollAborted, false)
			return
		}
		s.mu.Lock()
	}
	if s.transport != TransportPolling {
		// Upgraded while waiting, which a client does not do (it pauses polling, then sends
		// its upgrade packet): the poll is refused as one arriving after the upgrade is, and
		// what is queued goes out over the WebSocket.
		s.getActive = false
		s.mu.Unlock()
		writeError(w, errBadRequest, "")
		return
	}
	var body []byte
	finished, compress, binary := false, false, false
	if s.upgrading {
		// Upgrading: this poll only has to be released, so that the client can finish.
		body = packet{typ: packetNoop}.appendText(nil)
		if s.v3() {
			body = append(appendLengthV3(nil, len(body)), body...)
		}
	} else if s.v3() {
		body, binary, compress = s.batchV3Locked()
		finished = s.closed && len(s.queue) == 0
	} else {
		n, size := 0, 0
		for n < len(s.queue) && n < maxBatch && (n == 0 || size < s.srv.opts.MaxPayload) {
			p := s.queue[n]
			if p.typ == packetClose && n > 0 {
				// The close packet never shares a payload with messages, as with the
				// JavaScript server (which closes once its buffer has drained): socket.io-client
				// handles a payload's close before the messages it decoded with it, and would
				// take them as missed (buffer them, then get them again from recovery).
				break
			}
			if n > 0 {
				body = append(body, recordSeparator)
			}
			if p.typ == packetMessage {
				body = append(body, p.msg.pollingText()...)
				compress = compress || !p.msg.uncompressed
			} else {
				body = packet{typ: p.typ, data: p.data}.appendText(body)
				compress = true
			}
			size = len(body)
			n++
		}
		s.sentLocked(s.queue[:n])
		clear(s.queue[:n])
		s.queue = s.queue[n:]
		// The last payload of a closed session (its close packet, or the noop after the
		// client's close) lets the session go.
		finished = s.closed && len(s.queue) == 0
	}
	s.getActive = false
	s.mu.Unlock()
	var release func()
	if compress {
		var coding string
		if body, coding, release = s.srv.compressor.compressed(r, body); coding != "" {
			w.Header().Set("Content-Encoding", coding)
		}
	}
	err := writePayload(w, body, binary, s.srv.opts.WriteTimeout)
	if release != nil {
		release()
	}
	if finished {
		s.markDrained()
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("%w: %w", websocket.ErrWriteTimeout, err)
		}
		s.close(CloseTransportError, err, false)
	}
}

// post takes the packets a client sends over polling.
func (s *Session) post(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if !s.claimLocked(w, &s.postActive, "POST") {
		return
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.postActive = false
		s.mu.Unlock()
	}()

	max := s.srv.opts.MaxPayload
	// A body trickling in would hold the connection and the session: bound its reading.
	// After a whole body the deadline is lifted, since it would also end net/http's watch
	// for the client going away; after a failed one it stays, or net/http would wait for the
	// rest of the body before answering. Writers that cannot set deadlines (some middleware)
	// go without.
	rc := http.NewResponseController(w)
	bounded := rc.SetReadDeadline(time.Now().Add(s.srv.opts.BodyTimeout)) == nil
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(max)+1))
	if bounded && err == nil {
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		s.close(CloseTransportError, err, false)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			w.Header().Set("Connection", "close")
			http.Error(w, "request body not received in time", http.StatusRequestTimeout)
			return
		}
		writeError(w, errBadRequest, "")
		return
	}
	if len(body) > max {
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		s.close(ClosePayloadTooLarge, nil, false) // the 413 tells the client
		return
	}
	decode := decodePayload
	if s.v3() {
		decode = decodePayloadV3
		if r.Header.Get("Content-Type") == "application/octet-stream" {
			decode = decodeBinaryPayloadV3
		}
	}
	s.delivering.Add(1)
	err = decode(body, func(p packet) error { s.handlePacket(p); return nil })
	s.delivering.Add(-1)
	if err != nil {
		writeError(w, errBadRequest, "")
		s.close(CloseParseError, err, false) // the 400 tells the client
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html")
	_, _ = io.WriteString(w, "ok")
}
