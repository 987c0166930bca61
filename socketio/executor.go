package socketio

import "sync"

// executor runs a socket's handlers one at a time, in order, on a goroutine that exists only
// while there is work: the connection's reader hands events over and goes back to reading,
// so a handler may wait for an acknowledgement that same reader will deliver.
type executor struct {
	mu      sync.Mutex
	space   sync.Cond // signalled when the queue shrinks or the socket closes
	queue   []func()
	running bool
	closed  bool // the socket is gone: submit no longer waits for room
	limit   int
}

func (e *executor) init(limit int) {
	e.space.L = &e.mu
	e.limit = limit
}

// submit queues f. While the queue is full it waits, which stops the connection's reader and
// so, through the transport, the client: memory stays bounded when handlers are slow.
func (e *executor) submit(f func()) {
	e.mu.Lock()
	for len(e.queue) >= e.limit && !e.closed {
		e.space.Wait()
	}
	e.queue = append(e.queue, f)
	if !e.running {
		e.running = true
		go e.loop()
	}
	e.mu.Unlock()
}

// close stops submit from waiting; the work already queued still runs.
func (e *executor) close() {
	e.mu.Lock()
	e.closed = true
	e.space.Broadcast()
	e.mu.Unlock()
}

func (e *executor) loop() {
	for {
		e.mu.Lock()
		if len(e.queue) == 0 {
			e.running = false
			e.queue = nil
			e.mu.Unlock()
			return
		}
		f := e.queue[0]
		e.queue[0] = nil
		e.queue = e.queue[1:]
		e.space.Broadcast()
		e.mu.Unlock()
		f()
	}
}
