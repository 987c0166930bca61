package websocket

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tether-rt/tether/internal/netpoll"
)

// ErrPollUnsupported is returned by NewPoller where the platform has no readiness
// notification Poller can use (it has on Linux), and by Poller.Watch for a connection that
// cannot be read on readiness (TLS: its bytes must go through the TLS layer).
var ErrPollUnsupported = errors.New("websocket: reading on readiness is not supported here")

// A Poller reads many connections without a goroutine parked on each. A goroutine blocked in
// Read costs its stack for as long as the connection is idle — most of its life, for a chat
// or a notification channel. A watched connection costs none: the kernel tells the Poller when
// bytes arrive (epoll on Linux), and only then does a goroutine read what came with TryRead.
//
// One Poller serves any number of connections, from one goroutine that runs while at least one
// is watched, and the goroutines that read: they wait for the next connection to read for up
// to a second, and at most 64 of them wait at once.
type Poller struct {
	p *netpoll.Poller
	// lingerFor is pollLinger; tests lengthen it so that a busy spell never ends by chance.
	lingerFor time.Duration

	// Runs go to idle workers when there are some (see worker): runq is unbuffered, so a send
	// succeeds only into a waiting worker's hands. done ends the waits.
	runq        chan *watch
	done        chan struct{}
	idleWorkers atomic.Int32

	// The goroutines that wait for more input after a burst (see pollLinger), and the timer
	// that sends away those that waited in vain: it runs while there are some.
	lingerMu  sync.Mutex
	lingerers map[*watch]struct{}
	sweeper   *time.Timer
	sweeping  bool
	closed    bool
}

// NewPoller returns a Poller, or ErrPollUnsupported where it cannot work; then read with a
// goroutine per connection, as usual.
func NewPoller() (*Poller, error) {
	p, err := netpoll.New()
	if errors.Is(err, netpoll.ErrUnsupported) {
		return nil, ErrPollUnsupported
	}
	if err != nil {
		return nil, err
	}
	return &Poller{
		p:         p,
		lingerFor: pollLinger,
		runq:      make(chan *watch),
		done:      make(chan struct{}),
		lingerers: map[*watch]struct{}{},
	}, nil
}

// Close stops the Poller. Connections still watched are read no more: close them first.
func (p *Poller) Close() error {
	p.lingerMu.Lock()
	if !p.closed {
		close(p.done)
	}
	p.closed = true
	if p.sweeper != nil {
		p.sweeper.Stop()
	}
	p.lingerMu.Unlock()
	return p.p.Close()
}

// Watch calls ready in a goroutine of its own whenever c has input: a message, a control frame, or
// its end. ready should read with TryRead until it returns ErrWouldBlock (or fails), then
// return; c is watched again when it returns. ready never runs twice at once for the same
// connection, so messages are read in order. The first call comes at once, for bytes that
// arrived before Watch.
//
// Watching ends when c closes. Watch fails with ErrPollUnsupported for a connection that
// cannot be read on readiness, and with an error matching ErrClosed for a closed one.
func (p *Poller) Watch(c *Conn, ready func()) error {
	raw := rawConnOf(c.nc)
	if raw == nil || c.rd.waiter == nil {
		return ErrPollUnsupported
	}
	w := &watch{p: p, c: c, ready: ready}
	reg, err := p.p.Register(raw, w.fire)
	if err != nil {
		if c.isClosed() {
			return c.errClosed()
		}
		return err
	}
	w.reg.Store(reg)
	if !c.watch.CompareAndSwap(nil, w) {
		reg.Close()
		return errors.New("websocket: connection is already watched")
	}
	if c.isClosed() {
		reg.Close() // closeWith may have looked for the watch before it was stored
		return c.errClosed()
	}
	w.fire(reg)
	return nil
}

// watch runs a connection's ready function on readiness, one run at a time.
type watch struct {
	p     *Poller
	c     *Conn
	reg   atomic.Pointer[netpoll.Registration] // set by the first fire: events may come before Register returns
	ready func()
	// state is watchIdle, watchRunning, or watchAgain: input came while ready ran, and
	// ready runs once more before the registration is re-armed.
	state atomic.Int32

	// lastRead is when a run last read a message; runs never overlap, and each starts after
	// the one before ended (the state's atomics order them).
	lastRead time.Time
	// active is set when input comes to the running goroutine; the Poller's sweeper clears it,
	// and sends away a goroutine that has been waiting since the sweep before.
	active atomic.Bool
	// waiting is set while the goroutine waits for more input, kicked once the sweeper has
	// ended that wait (with a read deadline in the past, lifted before reading on). Guarded by
	// mu, which orders a kick with the end of the wait.
	mu      sync.Mutex
	waiting bool
	kicked  bool
}

const (
	watchIdle = iota
	watchRunning
	watchAgain
)

// fire starts a run, or asks the running one for another round.
func (w *watch) fire(reg *netpoll.Registration) {
	w.reg.Store(reg)
	for {
		switch w.state.Load() {
		case watchIdle:
			if w.state.CompareAndSwap(watchIdle, watchRunning) {
				w.p.dispatch(w)
				return
			}
		case watchRunning:
			if w.state.CompareAndSwap(watchRunning, watchAgain) {
				return
			}
		default:
			return
		}
	}
}

func (w *watch) run() {
	w.active.Store(true)
	w.p.linger(w, true)
	lingering := false
	for {
		begun := w.c.rd.begun.Load()
		w.ready()
		// While lingering, a message came within the linger of the one before by definition:
		// busy's clock is read once per busy spell, not per message.
		if w.c.rd.begun.Load() != begun && (lingering || w.busy()) && w.awaitInput() {
			lingering = true
			continue // more came: read it on this goroutine, as a busy connection's own would
		}
		lingering = false
		// TryRead may have left the last read to this run (see readState.polled): the
		// registration, re-armed below, makes it.
		w.c.rd.polled.Store(false)
		// Leave the sweeper's set before the state says idle: a run that starts after that
		// joins it again, and must not be taken out of it by this one.
		w.p.linger(w, false)
		if w.state.CompareAndSwap(watchRunning, watchIdle) {
			break
		}
		w.state.Store(watchRunning)
		w.p.linger(w, true)
	}
	// A closed registration (the connection ended) is not re-armed; nothing is lost.
	_ = w.reg.Load().Rearm()
}

// Workers that wait for runs, and how long. A run started on a new goroutine grows its stack
// from 2 KiB as it goes down the read path (and, in Engine.IO, into the Socket.IO handlers):
// in a profile of 3,000 idle Socket.IO connections pinged every second, copying stacks was 16%
// of the server's CPU, about 4 µs per pong. A worker keeps its grown stack from one run to the
// next. A second without work ends a worker, and no more than pollMaxIdleWorkers wait at
// once, so that the workers a busy minute leaves behind do not stay in an idle server's memory.
const (
	pollWorkerIdle     = time.Second
	pollMaxIdleWorkers = 64
)

// dispatch starts w's run: on an idle worker if one waits, else on a new one.
func (p *Poller) dispatch(w *watch) {
	select {
	case p.runq <- w:
	default:
		go p.worker(w)
	}
}

// worker runs w, then the runs dispatch hands it, until it has waited pollWorkerIdle in vain,
// too many others wait, or the Poller closes.
func (p *Poller) worker(w *watch) {
	var idle *time.Timer
	for {
		w.run()
		if p.idleWorkers.Add(1) > pollMaxIdleWorkers {
			p.idleWorkers.Add(-1)
			return
		}
		if idle == nil {
			idle = time.NewTimer(pollWorkerIdle)
		} else {
			idle.Reset(pollWorkerIdle)
		}
		select {
		case w = <-p.runq:
			p.idleWorkers.Add(-1)
		case <-idle.C:
			p.idleWorkers.Add(-1)
			return
		case <-p.done:
			p.idleWorkers.Add(-1)
			idle.Stop()
			return
		}
	}
}

// pollLinger is how often the Poller sends away the goroutines that have waited for more
// input since its last look: after reading a message that came within pollLinger of the one
// before (see busy), a watched connection's goroutine waits for more for 100 to 200 ms before
// it hands the connection back to the Poller and ends. A busy connection (a message every few
// milliseconds) is then read as with a goroutine of its own, without a trip through the
// Poller per message, which costs several microseconds of CPU; a connection idle for longer
// holds no goroutine. The wait has no deadline of its own, which would cost two timer updates
// per message: one timer for all does the sending away.
const pollLinger = 100 * time.Millisecond

// busy records that a run read a message, and reports whether the one before came less than
// pollLinger ago: only then does the goroutine wait for more. A connection's first message
// (a new connection's CONNECT), or one now and then (a heartbeat's pong), hands the
// connection back at once, so that a crowd of connections arriving or answering pings does
// not leave a crowd of goroutines waiting, whose stacks would stay in RSS. A busy connection
// pays one trip through the Poller at the start of a busy spell.
func (w *watch) busy() bool {
	now := time.Now()
	busy := now.Sub(w.lastRead) < w.p.lingerFor
	w.lastRead = now
	return busy
}

// linger adds w to the goroutines the sweeper looks at, or removes it.
func (p *Poller) linger(w *watch, on bool) {
	p.lingerMu.Lock()
	defer p.lingerMu.Unlock()
	if !on {
		delete(p.lingerers, w)
		return
	}
	p.lingerers[w] = struct{}{}
	if !p.sweeping && !p.closed {
		p.sweeping = true
		if p.sweeper == nil {
			p.sweeper = time.AfterFunc(p.lingerFor, p.sweep)
		} else {
			p.sweeper.Reset(p.lingerFor)
		}
	}
}

// sweep ends the waits of the goroutines that had no input since the last sweep.
func (p *Poller) sweep() {
	p.lingerMu.Lock()
	defer p.lingerMu.Unlock()
	for w := range p.lingerers {
		if w.active.Swap(false) {
			continue
		}
		w.mu.Lock()
		if w.waiting && !w.kicked {
			w.kicked = true
			_ = w.c.nc.SetReadDeadline(aLongTimeAgo)
		}
		w.mu.Unlock()
	}
	if len(p.lingerers) > 0 && !p.closed {
		p.sweeper.Reset(p.lingerFor)
	} else {
		p.sweeping = false
	}
}

// awaitInput waits for more input to an idle connection until the sweeper ends the wait,
// taking what arrives into the read buffer, and reports whether any came. It never waits
// inside a message, and reports false for a connection that failed or closed, whose end the
// Poller reports.
func (w *watch) awaitInput() bool {
	c := w.c
	r := &c.rd
	if r.waiter == nil || !r.lock.mu.TryLock() {
		return false
	}
	defer r.lock.mu.Unlock()
	if r.err != nil || r.inMessage || c.isClosed() {
		return false
	}
	if len(r.prefix.b) > 0 || r.br != nil && r.br.Buffered() > 0 {
		return true
	}
	r.release()
	w.mu.Lock()
	w.waiting = true
	w.mu.Unlock()
	// The wait reads before it sleeps: TryRead has not asked the socket since its last message
	// (readState.polled), and the runtime's poller forgets readiness it saw before a wait.
	br, err := r.waiter.wait()
	w.mu.Lock()
	w.waiting = false
	kicked := w.kicked
	w.kicked = false
	w.mu.Unlock()
	if kicked && c.nc.SetReadDeadline(time.Time{}) != nil {
		err = ErrClosed
	}
	if err != nil || br == nil {
		if br != nil {
			r.br = br // the connection closed meanwhile: the next read reports it
		}
		return false
	}
	w.active.Store(true)
	r.br = br
	return true
}

// unwatch stops watching c; the connection's close calls it before the socket closes, so that
// the descriptor leaves the Poller while its number is still c's.
func (c *Conn) unwatch() {
	if w := c.watch.Load(); w != nil {
		_ = w.reg.Load().Close()
	}
}

// rawConnOf returns the socket under nc, or nil when there is none to use directly (e.g.
// TLS, whose bytes must go through the TLS layer).
func rawConnOf(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
