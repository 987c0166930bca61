package socketio

import (
	"sync"
	"time"
)

// executor runs a socket's handlers one at a time, in order, on a goroutine that exists only
// while there is work: the connection's reader hands events over and goes back to reading,
// so a handler may wait for an acknowledgement that same reader will deliver.
type executor struct {
	mu      sync.Mutex
	space   sync.Cond // signalled when the queue shrinks or the socket closes
	queue   []task
	bytes   int // of the events queued
	running bool
	closed  bool // the socket is gone: submit no longer waits for room
	limit   int
	workers *workerPool
}

// task is a piece of work for the handlers, and the bytes of the event it holds.
type task struct {
	f    func()
	size int
}

// handlerQueueBytes bounds the bytes of the events waiting for one socket's handlers, beside
// HandlerQueueSize: 256 events of a megabyte each would be 256 MB held for one client. An event
// larger than the bound still goes through when nothing waits.
const handlerQueueBytes = 4 << 20

func (e *executor) init(limit int, workers *workerPool) {
	e.space.L = &e.mu
	e.limit = limit
	e.workers = workers
}

// submit queues f, which holds no event's bytes.
func (e *executor) submit(f func()) { e.submitSized(f, 0) }

// submitSized queues f, which holds an event of size bytes. While the queue is full, in
// events or in bytes, it waits, which stops the connection's reader and so, through the
// transport, the client: memory stays bounded when handlers are slow.
func (e *executor) submitSized(f func(), size int) {
	e.mu.Lock()
	for (len(e.queue) >= e.limit || (e.bytes > 0 && e.bytes+size > handlerQueueBytes)) && !e.closed {
		e.space.Wait()
	}
	e.queue = append(e.queue, task{f, size})
	e.bytes += size
	if !e.running {
		e.running = true
		e.workers.run(e.loop)
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
		t := e.queue[0]
		e.queue[0] = task{}
		e.queue = e.queue[1:]
		// Only waiting events count: the running handler may wait for an acknowledgement
		// that the reader, were it stopped, could not deliver.
		e.bytes -= t.size
		e.space.Broadcast()
		e.mu.Unlock()
		t.f()
	}
}

// workerPool runs executors' loops on goroutines that stay a while after their work is done.
// A fresh goroutine per burst of events would grow its stack anew each time (decoding JSON
// needs more than the initial stack), which costs more than the handler itself.
type workerPool struct {
	tasks chan func() // unbuffered: a send succeeds only when a worker is idle
	quit  chan struct{}
	idle  time.Duration
	once  sync.Once
}

func newWorkerPool(idle time.Duration) *workerPool {
	return &workerPool{tasks: make(chan func()), quit: make(chan struct{}), idle: idle}
}

// run runs f on an idle worker, or on a new one when all are busy: never waits, since a
// handler may block for as long as it likes.
func (p *workerPool) run(f func()) {
	select {
	case p.tasks <- f:
	default:
		go p.work(f)
	}
}

func (p *workerPool) work(f func()) {
	t := time.NewTimer(p.idle)
	defer t.Stop()
	for {
		f()
		t.Reset(p.idle)
		select {
		case f = <-p.tasks:
		case <-t.C:
			return
		case <-p.quit:
			return
		}
	}
}

// close makes idle workers exit; busy ones exit when done.
func (p *workerPool) close() { p.once.Do(func() { close(p.quit) }) }
