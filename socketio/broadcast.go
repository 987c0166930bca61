package socketio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// BroadcastOperator selects sockets of a namespace, by room, for an emit or another
// operation, like Node's io.to(room).except(other).emit(...). It is a value: each method
// returns a modified copy, so an operator can be kept and reused.
type BroadcastOperator struct {
	nsp    *Namespace
	rooms  []string
	except []string
	flags  BroadcastFlags
	err    error // an operator on something that is gone
}

// To adds rooms to those selected: sockets in any of them are.
func (b BroadcastOperator) To(rooms ...string) BroadcastOperator {
	b.rooms = slices.Concat(b.rooms, rooms)
	return b
}

// In is To.
func (b BroadcastOperator) In(rooms ...string) BroadcastOperator { return b.To(rooms...) }

// Except leaves out the sockets in rooms.
func (b BroadcastOperator) Except(rooms ...string) BroadcastOperator {
	b.except = slices.Concat(b.except, rooms)
	return b
}

// Volatile drops the event for clients not ready to receive it rather than queueing it.
func (b BroadcastOperator) Volatile() BroadcastOperator { b.flags.Volatile = true; return b }

// Local keeps the operation to this node's sockets.
func (b BroadcastOperator) Local() BroadcastOperator { b.flags.Local = true; return b }

// Compress compresses the event (the default, where the connection negotiated compression)
// or not.
func (b BroadcastOperator) Compress(on bool) BroadcastOperator { b.flags.Uncompressed = !on; return b }

func (b BroadcastOperator) options() BroadcastOptions {
	return BroadcastOptions{Rooms: b.rooms, Except: b.except, Flags: b.flags}
}

// targets returns the namespaces the operator acts on: its own, or a dynamic parent's children.
func (b BroadcastOperator) targets() []*Namespace {
	if b.nsp.match != nil {
		return b.nsp.childList()
	}
	return []*Namespace{b.nsp}
}

// Emit sends an event to the selected sockets. It is encoded once, whatever their number.
func (b BroadcastOperator) Emit(event string, args ...any) error {
	if b.err != nil {
		return b.err
	}
	var errs []error
	for _, n := range b.targets() {
		p, err := NewPacket(n.name, event, args...)
		if err != nil {
			return err
		}
		p.uncompressed = b.flags.Uncompressed
		errs = append(errs, n.adapter.Broadcast(p, b.options()))
	}
	return errors.Join(errs...)
}

// EmitWithAck sends an event to the selected sockets and collects their acknowledgements, one
// Args per socket, until every socket has answered or ctx is done; then the error wraps ctx's
// and the answers received so far are returned with it.
func (b BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	if b.err != nil {
		return nil, b.err
	}
	var all []Args
	var errs []error
	for _, n := range b.targets() {
		got, err := b.emitWithAck(ctx, n, event, args)
		all = append(all, got...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return all, errors.Join(errs...)
}

func (b BroadcastOperator) emitWithAck(ctx context.Context, n *Namespace, event string, args []any) ([]Args, error) {
	p, err := NewPacket(n.name, event, args...)
	if err != nil {
		return nil, err
	}
	p.uncompressed = b.flags.Uncompressed
	opts := b.options()
	if deadline, ok := ctx.Deadline(); ok {
		opts.Flags.Timeout = max(0, time.Until(deadline))
	}

	// Complete once every node has said how many sockets it reached and that many answers are
	// in, the way Node's server counts.
	var (
		mu              sync.Mutex
		answers         []Args
		nodes, expected = -1, 0
		reported        int
		done            = make(chan struct{})
		closed          bool
	)
	check := func() {
		if !closed && nodes == reported && len(answers) == expected {
			closed = true
			close(done)
		}
	}
	onCount := func(clients int) {
		mu.Lock()
		defer mu.Unlock()
		reported++
		expected += clients
		check()
	}
	onAck := func(a Args) {
		mu.Lock()
		defer mu.Unlock()
		if !closed {
			answers = append(answers, a)
			check()
		}
	}
	if err := n.adapter.BroadcastWithAck(p, opts, onCount, onAck); err != nil {
		return nil, err
	}
	count, err := n.adapter.ServerCount(ctx)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	nodes = count
	check()
	mu.Unlock()

	select {
	case <-done:
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	got := slices.Clone(answers)
	if !closed {
		closed = true
		return got, fmt.Errorf("socketio: %d of %d acknowledgements of %q: %w", len(got), expected, event, ctx.Err())
	}
	return got, nil
}

// FetchSockets returns the selected sockets, on every node unless Local.
func (b BroadcastOperator) FetchSockets(ctx context.Context) ([]SocketInfo, error) {
	if b.err != nil {
		return nil, b.err
	}
	var all []SocketInfo
	for _, n := range b.targets() {
		got, err := n.adapter.FetchSockets(ctx, b.options())
		if err != nil {
			return all, err
		}
		all = append(all, got...)
	}
	return all, nil
}

// SocketsJoin puts the selected sockets in rooms.
func (b BroadcastOperator) SocketsJoin(rooms ...string) error {
	return b.each(func(a Adapter) error { return a.AddSockets(b.options(), rooms) })
}

// SocketsLeave takes the selected sockets out of rooms.
func (b BroadcastOperator) SocketsLeave(rooms ...string) error {
	return b.each(func(a Adapter) error { return a.DelSockets(b.options(), rooms) })
}

// DisconnectSockets disconnects the selected sockets, closing their connections with closeConn.
func (b BroadcastOperator) DisconnectSockets(closeConn bool) error {
	return b.each(func(a Adapter) error { return a.DisconnectSockets(b.options(), closeConn) })
}

func (b BroadcastOperator) each(f func(Adapter) error) error {
	if b.err != nil {
		return b.err
	}
	var errs []error
	for _, n := range b.targets() {
		errs = append(errs, f(n.adapter))
	}
	return errors.Join(errs...)
}
