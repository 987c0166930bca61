package engineio

import "github.com/tether-rt/tether/websocket"

// fanoutChunk is how many sessions a Fanout holds before it writes them. Each held session
// blocks its other senders until the write, so the chunk bounds that wait (a chunk's writes
// take well under a millisecond), and what a chunk touches stays in the processor's cache
// between reserving and writing.
const fanoutChunk = 128

// Fanout sends one message to many sessions, as a broadcast does, with the WebSocket
// writes of the sessions that can take the message at once made back to back, at Flush
// or whenever a chunk is full, rather than one between the checks and bookkeeping of each
// session (see websocket.PreparedBatch for why that costs less).
//
// Send holds a session it defers a write for, so that nothing else is queued for it before
// that write: the caller must call Flush when done, and meanwhile must not wait for
// anything that a sender to one of those sessions may hold. A Fanout is not safe for
// concurrent use; its zero value is ready, and it can be reused after Flush.
type Fanout struct {
	batch    websocket.PreparedBatch
	sessions []*Session
	msgs     []*PreparedMessage
}

// Send is s.Send(ms...), or s.SendVolatile(ms...) with volatile, with the write possibly
// deferred to Flush. A session that cannot take the message at once from this goroutine
// (polling, packets waiting, a write under way, or more than one message) is sent to as
// by Send, after the writes deferred so far are made, so that Send never waits for a
// session while others are held.
func (f *Fanout) Send(s *Session, volatile bool, ms ...*PreparedMessage) error {
	if len(ms) != 1 {
		f.Flush()
		return s.send(ms, volatile)
	}
	m := ms[0]
	if len(f.sessions) == 0 {
		s.mu.Lock()
	} else if !s.mu.TryLock() {
		// Waiting while holding others could deadlock with another Fanout.
		f.Flush()
		s.mu.Lock()
	}
	// The common case only: what Session.send writes at once, with no packet waiting and
	// so within the queue's bounds (a volatile message is sent then too).
	if s.closed || s.transport != TransportWebSocket || s.ws == nil || len(s.queue) > 0 || s.flushing ||
		s.pending+1 > s.srv.opts.SendQueueSize {
		s.mu.Unlock()
		f.Flush()
		return s.send(ms, volatile)
	}
	if ok, _ := f.batch.Reserve(s.ws, m.preparedFor(s.wsForm)); !ok {
		s.mu.Unlock()
		f.Flush()
		return s.send(ms, volatile)
	}
	if o := s.srv.opts.Observer; o != nil {
		o.MessageSent(m.size())
	}
	f.sessions = append(f.sessions, s)
	f.msgs = append(f.msgs, m)
	if len(f.sessions) == fanoutChunk {
		f.Flush()
	}
	return nil
}

// Flush makes the deferred writes and releases their sessions. A message the socket did
// not take is queued for the session's writer, as Session.Send would have.
func (f *Fanout) Flush() {
	if len(f.sessions) == 0 {
		return
	}
	f.batch.Write()
	for i, s := range f.sessions {
		if !f.batch.Wrote(i) {
			m := f.msgs[i]
			s.queue = append(s.queue, outPacket{typ: packetMessage, msg: m})
			s.pending++
			s.pendingBytes += m.size()
			s.startFlushLocked()
		}
		s.mu.Unlock()
	}
	f.batch.Reset()
	clear(f.sessions)
	f.sessions = f.sessions[:0]
	clear(f.msgs)
	f.msgs = f.msgs[:0]
}
