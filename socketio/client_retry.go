package socketio

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tether-rt/tether/internal/logattr"
)

// Retried emits, as socket.io-client 4.6+ does them with its retries and ackTimeout options:
// with ClientOptions.Retries set, every emit but a volatile one asks the server for an
// acknowledgement and joins a queue; the queue sends one event at a time and waits for its
// acknowledgement before the next, so events keep their order. An event not acknowledged
// within AckTimeout (or before the connection is lost) is sent again, up to Retries more times,
// each time under a new acknowledgement id, as the JavaScript client does; an event in flight
// when the connection is lost is sent again after the reconnection. Delivery is therefore at least once:
// a server whose answer was lost sees the event again, and must answer every event. The queue
// holds at most ClientOptions.SendBufferSize events; an emit beyond fails with
// ErrSendBufferFull.

// retryEntry is an event in the retry queue.
type retryEntry struct {
	ctx   context.Context // the caller's: when it ends, the event is given up
	event string
	args  []any
	tries int  // sends so far
	busy  bool // a send is awaiting its answer
	// settle delivers the outcome, once, on the handlers' goroutine.
	settle func(Args, error)
}

// emitRetried queues an event for the retry queue; settle receives its outcome.
func (s *ClientSocket) emitRetried(ctx context.Context, event string, args []any, settle func(Args, error)) (*retryEntry, error) {
	if reservedEvents[event] {
		return nil, fmt.Errorf("%w %q", ErrReservedEvent, event)
	}
	e := &retryEntry{ctx: ctx, event: event, args: args, settle: settle}
	s.mu.Lock()
	if s.state == clientIdle {
		s.mu.Unlock()
		return nil, s.idleErr()
	}
	if len(s.retryQueue) >= s.c.opts.SendBufferSize {
		s.mu.Unlock()
		return nil, ErrSendBufferFull
	}
	s.retryQueue = append(s.retryQueue, e)
	s.mu.Unlock()
	s.drainRetries()
	return e, nil
}

// drainRetries sends the event at the head of the queue, unless it awaits an answer or the
// socket is not connected (the next join drains). A send the connection's loss cut short fails
// (ErrDisconnected) and so is retried, on the next connection: unlike the JavaScript client,
// a join need not force the head out again.
func (s *ClientSocket) drainRetries() {
	s.mu.Lock()
	if len(s.retryQueue) == 0 || s.state != clientConnected {
		s.mu.Unlock()
		return
	}
	e := s.retryQueue[0]
	if e.busy {
		s.mu.Unlock()
		return
	}
	if err := e.ctx.Err(); err != nil {
		// Given up before its first send, or between two: not sent again.
		s.retryQueue[0] = nil
		s.retryQueue = s.retryQueue[1:]
		s.mu.Unlock()
		s.exec.submit(func() { e.settle(Args{}, err) })
		s.drainRetries()
		return
	}
	e.busy = true
	e.tries++
	try := e.tries
	s.mu.Unlock()

	ctx, cancel := e.ctx, context.CancelFunc(func() {})
	if t := s.c.opts.AckTimeout; t > 0 {
		ctx, cancel = context.WithTimeout(ctx, t)
	}
	_, err := s.emitFunc(ctx, func(a Args, err error) {
		cancel()
		s.retryAnswered(e, try, a, err)
	}, e.event, e.args, false)
	if err != nil {
		cancel()
		s.exec.submit(func() { s.retryAnswered(e, try, Args{}, err) })
	}
}

// retryAnswered takes the outcome of try, one send of e, on the handlers' goroutine: an
// answer settles e, whichever send it answers; a failure of the latest send retries it, unless
// the tries are used up or the caller has given up.
func (s *ClientSocket) retryAnswered(e *retryEntry, try int, a Args, err error) {
	s.mu.Lock()
	if len(s.retryQueue) == 0 || s.retryQueue[0] != e || (err != nil && try != e.tries) {
		s.mu.Unlock()
		return // settled already, or a stale failure of an earlier send
	}
	done := err == nil || e.tries > s.c.opts.Retries || e.ctx.Err() != nil
	if done {
		s.retryQueue[0] = nil
		s.retryQueue = s.retryQueue[1:]
	} else {
		e.busy = false
	}
	s.mu.Unlock()
	if done {
		e.settle(a, err)
	}
	s.drainRetries()
}

// failRetries gives up every queued event with err, when the socket goes idle; s.mu is not held.
func (s *ClientSocket) failRetries(err error) {
	s.mu.Lock()
	q := s.retryQueue
	s.retryQueue = nil
	s.mu.Unlock()
	for _, e := range q {
		s.exec.submit(func() { e.settle(Args{}, err) })
	}
}

// retrying reports whether emits go through the retry queue.
func (s *ClientSocket) retrying() bool { return s.c.opts.Retries > 0 }

// emitRetriedAndWait is EmitWithAck through the retry queue.
func (s *ClientSocket) emitRetriedAndWait(ctx context.Context, event string, args []any) (Args, error) {
	reply := make(chan clientAckResult, 1)
	entry, err := s.emitRetried(ctx, event, args, func(a Args, err error) { reply <- clientAckResult{a, err} })
	if err != nil {
		return Args{}, err
	}
	select {
	case r := <-reply:
		return r.args, r.err
	case <-ctx.Done():
		// The event in flight fails with ctx and leaves the queue; one waiting is skipped.
		s.mu.Lock()
		for i, e := range s.retryQueue {
			if i > 0 && e == entry {
				s.retryQueue = append(s.retryQueue[:i:i], s.retryQueue[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
		select {
		case r := <-reply:
			return r.args, r.err
		default:
		}
		return Args{}, ctx.Err()
	}
}

// emitRetriedNoAck is Emit through the retry queue: the outcome is only logged.
func (s *ClientSocket) emitRetriedNoAck(event string, args []any) error {
	_, err := s.emitRetried(s.c.ctx, event, args, func(_ Args, err error) {
		if err != nil {
			s.c.peers.at(slog.LevelDebug, "socketio: retried event given up", logattr.Namespace, s.nsp, logattr.Event, event, logattr.Err, err)
		}
	})
	return err
}
