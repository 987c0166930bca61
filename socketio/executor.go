package socketio

import (
	"context"
	"slices"
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
	loopFn  func()        // e.loop, bound once: a method value made per burst would allocate
	onEvent func(*packet) // runs the tasks of submitEvent; set by the owner before any
}

// task is a piece of work for the handlers, and the bytes of the event it holds: f, or the
// event p for the executor's onEvent (a closure made per event would allocate).
type task struct {
	f    func()
	p    *packet
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
	e.loopFn = e.loop
}

// submit queues f, which holds no event's bytes.
func (e *executor) submit(f func()) { e.push(task{f: f}) }

// submitSized queues f, which holds an event of size bytes.
func (e *executor) submitSized(f func(), size int) { e.push(task{f: f, size: size}) }

// submitEvent queues p for e.onEvent.
func (e *executor) submitEvent(p *packet) { e.push(task{p: p, size: p.size()}) }

// push queues a task. While the queue is full, in events or in bytes, it waits, which stops
// the connection's reader and so, through the transport, the client: memory stays bounded
// when handlers are slow.
func (e *executor) push(t task) {
	size := t.size
	e.mu.Lock()
	for (len(e.queue) >= e.limit || (e.bytes > 0 && e.bytes+size > handlerQueueBytes)) && !e.closed {
		e.space.Wait()
	}
	e.queue = append(e.queue, t)
	e.bytes += size
	if !e.running {
		e.running = true
		e.workers.run(e.loopFn)
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

// waitIdle waits until no work is queued or running, and reports whether that happened
// before ctx ended (a handler waiting for an acknowledgement may hold it up).
func (e *executor) waitIdle(ctx context.Context) bool {
	stop := context.AfterFunc(ctx, func() {
		e.mu.Lock()
		e.space.Broadcast()
		e.mu.Unlock()
	})
	defer stop()
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.running || len(e.queue) > 0 {
		if ctx.Err() != nil {
			return false
		}
		e.space.Wait()
	}
	return true
}

func (e *executor) loop() {
	for {
		e.mu.Lock()
		if len(e.queue) == 0 {
			e.running = false
			e.queue = nil
			e.space.Broadcast() // for waitIdle
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
		if t.p != nil {
			e.onEvent(t.p)
		} else {
			t.f()
		}
	}
}

// workerPool runs executors' loops on goroutines that stay a while after their work is done.
// A fresh goroutine per burst of events would grow its stack anew each time (decoding JSON
// needs more than the initial stack), which costs more than the handler itself.
//
// Work goes to the worker idle for the shortest time, so that under a steady trickle of events
// the same few workers take it all and the others, left idle, exit: were idle workers served in
// turn, every worker a burst created would be kept busy enough never to time out.
//
// Idle workers wait on their channel alone; one timer for the pool (reap) ends those idle for
// idleTime. A timer per worker, reset each time it goes idle and selected on beside its
// channel, cost about 3 % of a small event's CPU (pprof of bench/cmd/sioserver under
// sio-echo), once per event when events come one at a time.
type workerPool struct {
	mu       sync.Mutex
	idle     []*worker // by the time they went idle: the most recently idle last
	closed   bool
	idleTime time.Duration
	reaper   *time.Timer // runs reap while workers are idle; nil until the first is
	reaping  bool        // reaper is set to fire
}

// worker is one of the pool's goroutines, as run hands it work.
type worker struct {
	tasks     chan func() // one slot: run hands work only to a worker it took off the idle list
	idleSince time.Time   // guarded by the pool's mu
}

func newWorkerPool(idle time.Duration) *workerPool {
	return &workerPool{idleTime: idle}
}

// run runs f on an idle worker, or on a new one when all are busy: never waits, since a
// handler may block for as long as it likes.
func (p *workerPool) run(f func()) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.tasks <- f
		return
	}
	p.mu.Unlock()
	go p.work(f)
}

func (p *workerPool) work(f func()) {
	w := &worker{tasks: make(chan func(), 1)}
	for {
		f()
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		w.idleSince = time.Now()
		p.idle = append(p.idle, w)
		if !p.reaping {
			p.reaping = true
			if p.reaper == nil {
				p.reaper = time.AfterFunc(p.idleTime, p.reap)
			} else {
				p.reaper.Reset(p.idleTime)
			}
		}
		p.mu.Unlock()
		var ok bool
		if f, ok = <-w.tasks; !ok {
			return // idle too long, or the pool closed
		}
	}
}

// reap ends the workers idle for idleTime or more, the oldest first in the list, and sets
// itself to run again when the next one will be, while any is idle.
func (p *workerPool) reap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	now := time.Now()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].idleSince) >= p.idleTime {
		close(p.idle[n].tasks)
		n++
	}
	clear(p.idle[:n])
	p.idle = slices.Delete(p.idle, 0, n)
	if len(p.idle) == 0 {
		p.reaping = false
		return
	}
	p.reaper.Reset(p.idleTime - now.Sub(p.idle[0].idleSince))
}

// close makes idle workers exit; busy ones exit when done.
func (p *workerPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if p.reaper != nil {
		p.reaper.Stop()
	}
	for _, w := range p.idle {
		close(w.tasks)
	}
	p.idle = nil
}
