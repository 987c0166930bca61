package redis

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tether-rt/tether/socketio"
)

// requests tracks this node's requests to the other nodes, matching responses by request id.
type requests struct {
	obs     Observer // told of the requests that time out; may be nil
	mu      sync.Mutex
	pending map[string]*request
	acks    map[string]*ackRequest
}

// request is one request awaiting a known number of answers.
type request struct {
	what     string
	expected int
	got      int
	gathered gathered
	done     chan struct{}
	finished bool
}

// gathered is what the answers to a request brought.
type gathered struct {
	sockets []socketio.SocketInfo
	rooms   map[string]struct{}
	answers []socketio.Args
}

// ackRequest is a broadcast with acknowledgements: other nodes report their recipient counts
// and forward acknowledgements until the broadcast's timeout.
type ackRequest struct {
	onCount func(int)
	onAck   func(socketio.Args)
	timer   *time.Timer
}

func newRequests() *requests {
	return &requests{pending: map[string]*request{}, acks: map[string]*ackRequest{}}
}

// ask sends a request to the other nodes and waits for the answers of all of them (count
// tells how many nodes there are, this one included), for ctx's end or for timeout. send
// publishes the request under the id given. It returns what the answers brought, with an
// error wrapping ErrTimeout (or ctx's error) when some are missing; nothing when this node is
// alone.
func (r *requests) ask(ctx context.Context, what string, count func(context.Context) (int, error), id string, send func(id string) error, timeout time.Duration) (gathered, error) {
	n, err := count(ctx)
	if err != nil || n <= 1 {
		return gathered{}, err
	}
	req := r.add(id, what, n-1)
	if err := send(id); err != nil {
		r.mu.Lock()
		delete(r.pending, id)
		r.mu.Unlock()
		return gathered{}, err
	}
	err = r.wait(ctx, id, req, timeout)
	r.mu.Lock()
	defer r.mu.Unlock()
	return req.gathered, err
}

// add registers a request expecting answers from expected nodes.
func (r *requests) add(id, what string, expected int) *request {
	req := &request{what: what, expected: expected, done: make(chan struct{})}
	r.mu.Lock()
	r.pending[id] = req
	r.mu.Unlock()
	return req
}

// has reports whether id is one of this node's requests.
func (r *requests) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.pending[id]
	if !ok {
		_, ok = r.acks[id]
	}
	return ok
}

// answer records a node's answer to request id with f, under the table's lock.
func (r *requests) answer(id string, f func(what string, got *gathered)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	req := r.pending[id]
	if req == nil || req.finished {
		return
	}
	f(req.what, &req.gathered)
	req.got++
	if req.got >= req.expected {
		req.finished = true
		delete(r.pending, id)
		close(req.done)
	}
}

// wait waits for every answer to request id, ctx's end or timeout, and returns the request
// with an error wrapping ErrTimeout (or ctx's error) when answers are missing. The request
// is forgotten either way; what it gathered stays readable.
func (r *requests) wait(ctx context.Context, id string, req *request, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	var err error
	select {
	case <-req.done:
		return nil
	case <-t.C:
		err = ErrTimeout
	case <-ctx.Done():
		err = ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.finished {
		return nil
	}
	req.finished = true
	delete(r.pending, id)
	if r.obs != nil && err == ErrTimeout {
		r.obs.RequestTimeout()
	}
	return fmt.Errorf("redis adapter: %s: %d of %d nodes answered: %w", req.what, req.got, req.expected, err)
}

// addAck registers a broadcast with acknowledgements, forgotten after timeout.
func (r *requests) addAck(id string, timeout time.Duration, onCount func(int), onAck func(socketio.Args)) {
	a := &ackRequest{onCount: onCount, onAck: onAck}
	r.mu.Lock()
	r.acks[id] = a
	a.timer = time.AfterFunc(timeout, func() {
		r.mu.Lock()
		delete(r.acks, id)
		r.mu.Unlock()
	})
	r.mu.Unlock()
}

// ack returns the broadcast with acknowledgements id, or nil.
func (r *requests) ack(id string) *ackRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acks[id]
}

// close forgets every request: waiting callers time out, and no timer is left running.
func (r *requests) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, a := range r.acks {
		a.timer.Stop()
		delete(r.acks, id)
	}
}
