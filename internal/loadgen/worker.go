package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// assignment is what the coordinator gives a worker: the run and its share of the connections.
type assignment struct {
	Config Config `json:"config"`
	First  int    `json:"first"` // index of the worker's first connection
	Count  int    `json:"count"`
	Hold   int    `json:"hold,omitempty"` // connect with Hold: connections this worker opens and keeps
}

// report is one line a worker writes to the coordinator.
type report struct {
	Kind   string         `json:"kind"` // ready, tick, bdone, done, final, fail
	Open   int            `json:"open,omitempty"`
	Ops    int64          `json:"ops,omitempty"`
	Errors int64          `json:"errors,omitempty"`
	Error  string         `json:"error,omitempty"` // the first error, in words
	Seq    int64          `json:"seq,omitempty"`   // bdone: the broadcast all this worker's subscribers got
	Lat    int64          `json:"lat,omitempty"`   // bdone: its latest delivery, ns after the send
	Hist   *histogramWire `json:"hist,omitempty"`
}

// The commands the coordinator sends a worker, one per line.
const (
	cmdStart = "start" // begin traffic
	cmdMark  = "mark"  // begin counting
	cmdStop  = "stop"  // report and close everything
)

const tickEvery = 250 * time.Millisecond

// broadcastSlots is enough for every broadcast an open-loop run can have
// outstanding before broadcastTimeout ends it, at any sensible interval.
const broadcastSlots = 4096

// ServeWorker runs one worker: it reads its assignment and then commands from
// in, and writes reports to out, until the coordinator says stop or closes in.
// "tether bench --worker" calls it in each worker process.
func ServeWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lines := bufio.NewScanner(in)
	if !lines.Scan() {
		return fmt.Errorf("worker: no assignment: %v", lines.Err())
	}
	var a assignment
	if err := json.Unmarshal(lines.Bytes(), &a); err != nil {
		return fmt.Errorf("worker: assignment: %w", err)
	}
	if err := a.Config.Normalize(); err != nil {
		return err
	}
	w := newWorker(a, out)
	defer w.closeAll()
	if err := w.setup(ctx); err != nil {
		w.send(report{Kind: "fail", Error: err.Error()})
		return err
	}
	w.send(report{Kind: "ready", Open: w.open()})

	cmds := make(chan string)
	go func() {
		defer close(cmds)
		for lines.Scan() {
			select {
			case cmds <- lines.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	for {
		select {
		case cmd, ok := <-cmds:
			switch {
			case !ok || cmd == cmdStop:
				w.stop()
				return nil
			case cmd == cmdStart:
				close(w.started)
				if w.cfg.Scenario == Connect {
					w.startConnecting(ctx)
				}
			case cmd == cmdMark:
				w.mark()
			}
		case <-tick.C:
			w.send(report{Kind: "tick", Ops: w.ops.Load(), Errors: w.errors.Load(), Error: w.firstError()})
		}
	}
}

// worker holds one process's share of the connections.
type worker struct {
	a        assignment
	cfg      *Config
	started  chan struct{}
	done     chan struct{} // closed when the worker shuts down
	doneOnce sync.Once

	outMu sync.Mutex
	out   *json.Encoder

	counting atomic.Bool
	stopping atomic.Bool
	ops      atomic.Int64
	errors   atomic.Int64
	errMu    sync.Mutex
	firstErr string

	hists [16]struct {
		sync.Mutex
		h Histogram
		_ [64]byte
	}

	connsMu sync.Mutex
	conns   []*wsConn
	wg      sync.WaitGroup
	held    atomic.Int64 // connect with Hold: connections opened so far

	slots []broadcastSlot
}

// broadcastSlot tracks deliveries of one broadcast among this worker's
// subscribers. The coordinator has fewer than len(slots) broadcasts
// outstanding (beyond that a broadcast has timed out and the run failed), so
// slot seq%len is free again when seq+len is sent.
type broadcastSlot struct {
	count atomic.Int64
	last  atomic.Int64
	_     [48]byte
}

func newWorker(a assignment, out io.Writer) *worker {
	w := &worker{a: a, cfg: &a.Config, started: make(chan struct{}), done: make(chan struct{}), out: json.NewEncoder(out)}
	if w.cfg.Scenario == Broadcast {
		w.slots = make([]broadcastSlot, max(2*w.cfg.Inflight, broadcastSlots))
	}
	return w
}

func (w *worker) send(r report) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	_ = w.out.Encode(r)
}

// fail counts an error, unless the run is being torn down.
func (w *worker) fail(err error) {
	if w.stopping.Load() {
		return
	}
	w.errors.Add(1)
	w.errMu.Lock()
	if w.firstErr == "" {
		w.firstErr = err.Error()
	}
	w.errMu.Unlock()
}

func (w *worker) firstError() string {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.firstErr
}

func (w *worker) record(conn int, d time.Duration) {
	if !w.counting.Load() {
		return
	}
	w.ops.Add(1)
	s := &w.hists[conn%len(w.hists)]
	s.Lock()
	s.h.Record(d)
	s.Unlock()
}

func (w *worker) mark() {
	for i := range w.hists {
		w.hists[i].Lock()
		w.hists[i].h.Reset()
		w.hists[i].Unlock()
	}
	w.ops.Store(0)
	w.counting.Store(true)
}

func (w *worker) stop() {
	w.counting.Store(false)
	w.stopping.Store(true)
	var h Histogram
	for i := range w.hists {
		w.hists[i].Lock()
		h.Merge(&w.hists[i].h)
		w.hists[i].Unlock()
	}
	w.send(report{Kind: "final", Open: w.open(), Ops: w.ops.Load(), Errors: w.errors.Load(), Error: w.firstError(), Hist: h.wire()})
}

func (w *worker) open() int {
	w.connsMu.Lock()
	defer w.connsMu.Unlock()
	return len(w.conns)
}

func (w *worker) keep(c *wsConn) bool {
	w.connsMu.Lock()
	defer w.connsMu.Unlock()
	if w.stopping.Load() {
		c.close()
		return false
	}
	w.conns = append(w.conns, c)
	return true
}

func (w *worker) closeAll() {
	w.stopping.Store(true)
	w.doneOnce.Do(func() { close(w.done) })
	w.connsMu.Lock()
	for _, c := range w.conns {
		c.close()
	}
	w.connsMu.Unlock()
	w.wg.Wait()
}

// setup opens the connections the scenario holds from the start and starts
// their goroutines; connect runs open theirs once started.
func (w *worker) setup(ctx context.Context) error {
	if w.cfg.Scenario == Connect {
		return nil
	}
	const dialers = 64
	ctx, cancel := context.WithCancel(ctx) // the first failure ends the other dials
	defer cancel()
	var first error
	var once sync.Once
	next := make(chan int)
	var dwg sync.WaitGroup
	for range min(dialers, w.a.Count) {
		dwg.Add(1)
		go func() {
			defer dwg.Done()
			for i := range next {
				if err := w.openConn(ctx, i); err != nil {
					once.Do(func() { first = fmt.Errorf("connection %d: %w", i, err) })
					cancel()
				}
			}
		}()
	}
feed:
	for i := w.a.First; i < w.a.First+w.a.Count; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	dwg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// openConn opens connection i and starts the goroutine that drives it.
func (w *worker) openConn(ctx context.Context, i int) error {
	cfg := w.cfg
	var ws *wsConn
	var sio *sioConn
	var err error
	if cfg.Proto == "ws" {
		ws, err = cfg.dialWebSocket(ctx, i)
	} else if sio, err = cfg.dialSocketIO(ctx, i); err == nil {
		ws = sio.wsConn
	}
	if err != nil {
		return err
	}
	if !w.keep(ws) {
		return nil
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		var err error
		switch cfg.Scenario {
		case WSEcho:
			err = w.wsEcho(i, ws)
		case SIOEcho, SIOAck:
			err = w.sioEcho(i, sio)
		case Broadcast:
			err = w.subscribe(sio)
		default:
			err = w.idle(ws, sio)
		}
		if err != nil {
			w.fail(fmt.Errorf("connection %d: %w", i, err))
		}
	}()
	return nil
}
