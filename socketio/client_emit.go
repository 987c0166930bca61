package socketio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/logattr"
)

// Emit sends an event to the server. Arguments are encoded with encoding/json; []byte values,
// anywhere inside them, travel as binary attachments. While the socket is disconnected and
// waiting to reconnect, the event is buffered (see ClientOptions.SendBufferSize) and sent
// after the next join. A nil error means the event was queued, not that the server got it.
// With ClientOptions.Retries, the event asks for an acknowledgement and is sent again until
// the server gives one (see Retries).
func (s *ClientSocket) Emit(event string, args ...any) error {
	if s.retrying() {
		return s.emitRetriedNoAck(event, args)
	}
	_, err := s.emit(nil, event, args, false)
	return err
}

// EmitWithAck sends an event asking for an acknowledgement and waits for it: the arguments
// the server's handler answered with. It fails when ctx ends first (ClientOptions.AckTimeout
// bounds a ctx without a deadline), or with ErrDisconnected when the connection is lost after
// the event went out: the server cannot answer it any more. An event buffered while
// disconnected waits for the reconnection. With ClientOptions.Retries, see there.
func (s *ClientSocket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	if s.retrying() {
		return s.emitRetriedAndWait(ctx, event, args)
	}
	return s.emit(ctx, event, args, false)
}

// EmitWithAckFunc sends an event asking for an acknowledgement, and returns without waiting:
// fn gets the answer, or the error EmitWithAck would return, on the goroutine that runs the
// socket's handlers, in order with them, as the JavaScript client's ack callbacks are. ctx
// bounds the wait as for EmitWithAck. The error is for an event that could not be emitted, in
// which case fn is not called.
func (s *ClientSocket) EmitWithAckFunc(ctx context.Context, fn func(args Args, err error), event string, args ...any) error {
	if s.retrying() {
		_, err := s.emitRetried(ctx, event, args, fn)
		return err
	}
	_, err := s.emitFunc(ctx, fn, event, args, false)
	return err
}

// Volatile returns an emitter whose events are dropped, rather than buffered, while the
// socket is disconnected: for values that are stale by the time a connection comes back.
func (s *ClientSocket) Volatile() ClientEmitter { return ClientEmitter{s: s} }

// ClientEmitter emits volatile events, from ClientSocket.Volatile.
type ClientEmitter struct{ s *ClientSocket }

// Emit sends an event if the socket is connected, and drops it otherwise.
func (e ClientEmitter) Emit(event string, args ...any) error {
	_, err := e.s.emit(nil, event, args, true)
	return err
}

// EmitWithAck sends an event if the socket is connected and waits for its acknowledgement; a
// dropped event fails with ErrDisconnected.
func (e ClientEmitter) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return e.s.emit(ctx, event, args, true)
}

// emit sends, buffers or drops an event; with a ctx it asks for an acknowledgement and waits.
func (s *ClientSocket) emit(ctx context.Context, event string, args []any, volatile bool) (Args, error) {
	return s.emitFunc(ctx, nil, event, args, volatile)
}

// emitFunc is emit, with fn to receive the acknowledgement rather than waiting for it.
func (s *ClientSocket) emitFunc(ctx context.Context, fn func(Args, error), event string, args []any, volatile bool) (Args, error) {
	if reservedEvents[event] {
		return Args{}, fmt.Errorf("%w %q", ErrReservedEvent, event)
	}
	data, attachments, err := encodeEvent(event, args)
	if err != nil {
		return Args{}, fmt.Errorf("socketio: encoding event %q: %w", event, err)
	}
	typ := packetEvent
	if len(attachments) > 0 {
		typ = packetBinaryEvent
	}
	p := &packet{typ: typ, nsp: s.nsp, id: noID, data: data, attachments: attachments}

	s.mu.Lock()
	listeners := s.anyOut
	if s.state == clientIdle {
		s.mu.Unlock()
		return Args{}, s.idleErr()
	}
	var ack *clientAck
	if ctx != nil {
		p.id = s.nextAck
		s.nextAck++
		ack = &clientAck{fn: fn}
		if fn == nil {
			ack.reply = make(chan clientAckResult, 1)
		} else {
			s.ackDeadline(ctx, event, p, ack)
		}
		s.acks[p.id] = ack
	}
	var cc *clientConn
	switch {
	case s.state == clientConnected && (!s.flushing || volatile):
		cc = s.cc
		if ack != nil {
			ack.sent = true
		}
	case volatile:
		if ack != nil {
			s.forget(p.id, ack)
		}
		s.mu.Unlock()
		if ack != nil {
			return Args{}, ErrDisconnected
		}
		return Args{}, nil
	case len(s.buffer) >= s.c.opts.SendBufferSize:
		if ack != nil {
			s.forget(p.id, ack)
		}
		s.mu.Unlock()
		return Args{}, ErrSendBufferFull
	default:
		s.buffer = append(s.buffer, p)
	}
	s.mu.Unlock()

	if len(listeners) > 0 {
		raw, _, _ := splitArray(nil, data, 0) // made by encodeArgs: a non-empty array
		vals, err := decodeValues(event, raw[1:], attachments, s.c.maxValues)
		if err != nil {
			s.c.peers.event(slog.LevelWarn, "socketio: event not passed to outgoing listeners", logattr.Namespace, s.nsp, logattr.Err, err)
			listeners = nil
		}
		for _, f := range listeners.funcs() {
			s.safely("outgoing listener", func() { f(event, vals) })
		}
	}
	if cc != nil {
		if err := cc.send(p); err != nil {
			if !s.rebuffer(p, volatile, err) {
				if ack != nil {
					s.mu.Lock()
					s.forget(p.id, ack)
					s.mu.Unlock()
				}
				return Args{}, err
			}
		}
	}
	switch {
	case ack == nil:
		return Args{}, nil
	case fn != nil:
		return Args{}, nil
	}
	return s.awaitAck(ctx, event, p, ack)
}

// awaitAck waits for the answer to p.
func (s *ClientSocket) awaitAck(ctx context.Context, event string, p *packet, ack *clientAck) (Args, error) {
	if _, ok := ctx.Deadline(); !ok && s.c.opts.AckTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.c.opts.AckTimeout)
		defer cancel()
	}
	select {
	case r := <-ack.reply:
		return r.args, r.err
	case <-ctx.Done():
	}
	// Given up: the event is not sent later, and a late answer is ignored.
	s.mu.Lock()
	delete(s.acks, p.id)
	s.buffer = slices.DeleteFunc(s.buffer, func(q *packet) bool { return q == p })
	s.mu.Unlock()
	select {
	case r := <-ack.reply: // answered meanwhile
		return r.args, r.err
	default:
	}
	return Args{}, fmt.Errorf("socketio: acknowledgement of %q: %w", event, ctx.Err())
}

// forget drops an acknowledgement that will not be awaited; s.mu is held.
func (s *ClientSocket) forget(id int64, ack *clientAck) {
	delete(s.acks, id)
	if ack.stop != nil {
		ack.stop()
	}
}

// ackDeadline fails the callback of p's acknowledgement when ctx ends first; s.mu is held.
func (s *ClientSocket) ackDeadline(ctx context.Context, event string, p *packet, ack *clientAck) {
	cancel := func() {}
	if _, ok := ctx.Deadline(); !ok && s.c.opts.AckTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, s.c.opts.AckTimeout)
	}
	stop := context.AfterFunc(ctx, func() {
		defer cancel()
		s.mu.Lock()
		if s.acks[p.id] != ack {
			s.mu.Unlock()
			return // answered or failed meanwhile
		}
		delete(s.acks, p.id)
		s.buffer = slices.DeleteFunc(s.buffer, func(q *packet) bool { return q == p })
		s.mu.Unlock()
		err := fmt.Errorf("socketio: acknowledgement of %q: %w", event, ctx.Err())
		s.exec.submit(func() { s.safely("acknowledgement callback", func() { ack.fn(Args{}, err) }) })
	})
	ack.stop = func() bool { defer cancel(); return stop() }
}

// rebuffer keeps a packet that did not go out because its connection was closing, to send
// after the reconnection, unless it is volatile or nobody awaits its ack any more.
func (s *ClientSocket) rebuffer(p *packet, volatile bool, err error) bool {
	var ce *engineio.CloseError
	if volatile || !errors.As(err, &ce) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == clientIdle || len(s.buffer) >= s.c.opts.SendBufferSize {
		return false
	}
	if p.id != noID {
		a := s.acks[p.id]
		if a == nil {
			return false // already failed by the connection's loss
		}
		a.sent = false
	}
	s.buffer = append(s.buffer, p)
	return true
}

// flush sends what was emitted while disconnected, after a join on cc. Emits wait behind it,
// so that events keep their order.
func (s *ClientSocket) flush(cc *clientConn) {
	for {
		s.mu.Lock()
		if len(s.buffer) == 0 || s.cc != cc || s.state != clientConnected {
			s.flushing = false
			s.mu.Unlock()
			return
		}
		batch := s.buffer
		s.buffer = nil
		for _, p := range batch {
			if a := s.acks[p.id]; p.id != noID && a != nil {
				a.sent = true
			}
		}
		s.mu.Unlock()
		for i, p := range batch {
			if err := cc.send(p); err != nil {
				// The connection is going: what was not sent waits for the next one.
				s.mu.Lock()
				s.buffer = append(slices.Clone(batch[i:]), s.buffer...)
				for _, q := range batch[i:] {
					if a := s.acks[q.id]; q.id != noID && a != nil {
						a.sent = false
					}
				}
				s.flushing = false
				s.mu.Unlock()
				return
			}
		}
	}
}

// ackFunc returns the Ack for an event from the server with acknowledgement id, answering at
// most once, over the connection the event came on.
func (s *ClientSocket) ackFunc(cc *clientConn, id int64) Ack {
	if id == noID {
		return func(...any) error { return nil }
	}
	var sent atomic.Bool
	return func(args ...any) error {
		if sent.Swap(true) {
			return nil
		}
		p, err := ackPacket(s.nsp, id, args)
		if err != nil {
			return err
		}
		s.mu.Lock()
		ok := s.cc == cc && s.state == clientConnected
		s.mu.Unlock()
		if !ok {
			return ErrDisconnected
		}
		return cc.send(&p)
	}
}
