package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// Runner runs load scenarios.
type Runner struct {
	// Command returns the command that runs one worker process, which must call
	// ServeWorker on its standard input and output ("tether bench --worker").
	// When nil, workers run as goroutines of this process: handy for tests, but
	// then all connections share this process's open-file limit.
	Command func() *exec.Cmd
	// Progress receives a live progress line while the run goes on; nil for none.
	Progress io.Writer
	// Redraw rewrites the progress line in place (for a terminal) instead of
	// printing a new line every few seconds (for a log).
	Redraw bool
}

// setupTimeout bounds how long opening a run's connections may take.
func setupTimeout(conns int) time.Duration {
	return 30*time.Second + time.Duration(conns)*2*time.Millisecond
}

// broadcastTimeout is how long a broadcast may take to reach every subscriber
// before the run fails.
const broadcastTimeout = 30 * time.Second

// Run runs one scenario and returns what it measured. It fails when a
// connection cannot be opened or, for broadcasts, a message is lost; errors
// during the measured window are counted in the result instead.
func (r *Runner) Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := &Result{Scenario: cfg.Scenario, URL: cfg.URL, Conns: cfg.Conns, Size: cfg.Size, Inflight: cfg.Inflight,
		Workers: cfg.Workers, Sources: cfg.Sources}
	if cfg.Scenario == Connect && cfg.Hold {
		res.Conns = cfg.Total
	}
	if cfg.PID > 0 {
		rss, err := processRSS(cfg.PID)
		if err != nil {
			return nil, fmt.Errorf("server process: %w", err)
		}
		res.Server = &ServerUsage{PID: cfg.PID, RSSBefore: rss}
	}

	s := &runState{cfg: &cfg, runner: r, reports: make(chan workerReport, 1024), pending: map[int64]*pendingBroadcast{}}
	defer s.shutdown()
	if err := s.spawn(ctx); err != nil {
		return nil, err
	}
	r.progressf("%s: opening %d connections to %s…", cfg.Scenario, cfg.Conns, cfg.URL)
	s.lastLine = time.Now()
	setup := setupTimeout(cfg.Conns)
	if err := s.until(ctx, time.Now().Add(setup), func() bool { return s.ready == len(s.workers) }); err != nil {
		return nil, fmt.Errorf("opening connections: %w", err)
	} else if s.ready < len(s.workers) {
		return nil, fmt.Errorf("opening connections: not done after %s", setup)
	}

	if cfg.Scenario == Idle {
		if err := s.until(ctx, time.Now().Add(cfg.Settle), never); err != nil {
			return nil, err
		}
		res.Ops = int64(s.open)
		res.Errors, res.FirstError = s.tickErrors()
		if res.Server != nil {
			rss, err := processRSS(cfg.PID)
			if err != nil {
				return nil, fmt.Errorf("server process: %w", err)
			}
			res.Server.RSSAfter = rss
			res.Server.KiBPerConn = float64(rss-res.Server.RSSBefore) / float64(max(s.open, 1))
		}
		r.endProgress()
		return res, nil
	}

	if cfg.Scenario == Broadcast {
		if err := s.startPublisher(ctx); err != nil {
			return nil, fmt.Errorf("publisher: %w", err)
		}
	}
	if cfg.Warmup > 0 {
		s.command(cmdStart)
		if err := s.until(ctx, time.Now().Add(cfg.Warmup), never); err != nil {
			return nil, err
		}
	}
	cpu0 := s.serverCPU()
	s.command(cmdMark)
	s.markedAt = time.Now()
	s.marked.Store(true)
	if cfg.Warmup == 0 { // count from the first message on
		s.command(cmdStart)
	}
	allDone := func() bool { return cfg.Hold && s.done == len(s.workers) }
	if err := s.until(ctx, s.markedAt.Add(cfg.Duration), allDone); err != nil {
		return nil, err
	}
	s.marked.Store(false)
	res.Seconds = time.Since(s.markedAt).Seconds()
	cpu1 := s.serverCPU()
	s.command(cmdStop)
	if err := s.until(ctx, time.Now().Add(10*time.Second), func() bool { return s.finals == len(s.workers) }); err != nil {
		return nil, fmt.Errorf("collecting results: %w", err)
	} else if s.finals < len(s.workers) {
		return nil, fmt.Errorf("collecting results: %d of %d workers did not report", len(s.workers)-s.finals, len(s.workers))
	}
	r.endProgress()

	res.Errors, res.FirstError = s.finalErrors, s.firstErr
	if cfg.Scenario == Broadcast {
		s.mu.Lock()
		res.Broadcasts = s.completed
		res.Latency = latencyOf(&s.broadcastHist)
		s.mu.Unlock()
	} else {
		res.Latency = latencyOf(&s.hist)
	}
	res.Ops = s.finalOps
	res.OpsPerSec = float64(res.Ops) / res.Seconds
	if res.Server != nil {
		res.Server.CPUSeconds = cpu1 - cpu0
		if res.Ops > 0 {
			res.Server.CPUPerOp = res.Server.CPUSeconds / float64(res.Ops) * 1e6
		}
		res.Server.RSSAfter, _ = processRSS(cfg.PID)
	}
	return res, nil
}

func never() bool { return false }

func (r *Runner) progressf(format string, a ...any) {
	if r.Progress == nil {
		return
	}
	line := fmt.Sprintf(format, a...)
	if r.Redraw {
		fmt.Fprintf(r.Progress, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(r.Progress, line)
	}
}

func (r *Runner) endProgress() {
	if r.Progress != nil && r.Redraw {
		fmt.Fprint(r.Progress, "\r\033[K")
	}
}

// workerReport is a report and the worker it came from; a nil err with no
// report means the worker's output ended.
type workerReport struct {
	worker int
	report
	ended bool
	err   error
}

type workerHandle struct {
	in     io.WriteCloser
	finish func() // waits for the worker to end, killing it if it does not
}

// runState is the coordinator's view of a run, updated only by until's loop
// (and, for the pending broadcasts under mu, by the publisher).
type runState struct {
	cfg     *Config
	runner  *Runner
	workers []workerHandle
	reports chan workerReport
	readers sync.WaitGroup // one per worker, reading its reports

	ready, done, finals, open int
	finished                  []bool // the worker sent its final report
	ticks                     []report
	finalOps, finalErrors     int64
	firstErr                  string
	hist                      Histogram
	failed                    error

	marked   atomic.Bool
	markedAt time.Time
	lastLine time.Time

	// Broadcast scenario.
	mu            sync.Mutex
	pending       map[int64]*pendingBroadcast
	completed     int64 // broadcasts sent and completed in the measured window
	broadcastHist Histogram
	tokens        chan struct{}
	publisher     *sioConn
}

type pendingBroadcast struct {
	sentAt  time.Time
	workers int
	last    int64
	counted bool // sent in the measured window
}

func (s *runState) spawn(ctx context.Context) error {
	cfg := s.cfg
	s.ticks = make([]report, cfg.Workers)
	s.finished = make([]bool, cfg.Workers)
	first := 0
	for i := range cfg.Workers {
		a := assignment{Config: *cfg, First: first, Count: cfg.Conns / cfg.Workers}
		if i < cfg.Conns%cfg.Workers {
			a.Count++
		}
		if cfg.Hold {
			a.Hold = cfg.Total*(first+a.Count)/cfg.Conns - cfg.Total*first/cfg.Conns
		}
		first += a.Count
		h, out, err := s.start(ctx, i)
		if err != nil {
			return fmt.Errorf("starting worker %d: %w", i, err)
		}
		s.workers = append(s.workers, h)
		s.readers.Add(1)
		go func() { defer s.readers.Done(); s.read(i, out) }()
		line, _ := json.Marshal(a)
		if _, err := h.in.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("worker %d: %w", i, err)
		}
	}
	return nil
}

// start starts worker i as a process or, without a Command, as a goroutine.
func (s *runState) start(ctx context.Context, i int) (workerHandle, io.Reader, error) {
	if s.runner.Command == nil {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			err := ServeWorker(ctx, inR, outW)
			inR.CloseWithError(io.ErrClosedPipe)
			outW.CloseWithError(err)
		}()
		return workerHandle{in: inW, finish: func() { inW.Close(); <-done }}, outR, nil
	}
	cmd := s.runner.Command()
	in, err := cmd.StdinPipe()
	if err != nil {
		return workerHandle{}, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return workerHandle{}, nil, err
	}
	stderr := &limitedBuffer{max: 4096}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return workerHandle{}, nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	finish := func() {
		in.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	return workerHandle{in: in, finish: finish}, &stderrOnEOF{r: out, stderr: stderr}, nil
}

func (s *runState) read(i int, out io.Reader) {
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var r report
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			s.reports <- workerReport{worker: i, err: fmt.Errorf("unreadable report %q: %w", clip(sc.Bytes()), err)}
			return
		}
		s.reports <- workerReport{worker: i, report: r}
	}
	err := sc.Err()
	if se, ok := out.(*stderrOnEOF); ok && err == nil {
		err = se.failure()
	}
	s.reports <- workerReport{worker: i, ended: true, err: err}
}

func (s *runState) command(cmd string) {
	for _, w := range s.workers {
		_, _ = io.WriteString(w.in, cmd+"\n")
	}
}

func (s *runState) shutdown() {
	if s.publisher != nil {
		s.publisher.close()
	}
	var wg sync.WaitGroup
	for _, w := range s.workers {
		wg.Add(1)
		go func() { defer wg.Done(); w.finish() }()
	}
	// Keep draining reports so that no reader blocks while workers end.
	drained := make(chan struct{})
	go func() {
		for range s.reports {
		}
		close(drained)
	}()
	wg.Wait()
	s.readers.Wait()
	close(s.reports)
	<-drained
}

// until handles worker reports until cond holds, the deadline passes (not an
// error), the run fails, or ctx ends.
func (s *runState) until(ctx context.Context, deadline time.Time, cond func() bool) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	for !cond() {
		select {
		case wr := <-s.reports:
			s.handle(wr)
		case <-tick.C:
			s.checkBroadcasts()
			s.showProgress()
		case <-timer.C:
			return s.failed
		case <-ctx.Done():
			return ctx.Err()
		}
		if s.failed != nil {
			return s.failed
		}
	}
	return nil
}

func (s *runState) handle(wr workerReport) {
	if wr.err != nil {
		s.failed = fmt.Errorf("worker %d: %w", wr.worker, wr.err)
		return
	}
	if wr.ended {
		if !s.finished[wr.worker] && s.failed == nil {
			s.failed = fmt.Errorf("worker %d ended unexpectedly", wr.worker)
		}
		return
	}
	r := wr.report
	switch r.Kind {
	case "fail":
		s.failed = fmt.Errorf("worker %d: %s", wr.worker, r.Error)
	case "ready":
		s.ready++
		s.open += r.Open
	case "tick":
		s.ticks[wr.worker] = r
	case "done":
		s.done++
	case "final":
		s.finals++
		s.finished[wr.worker] = true
		s.finalOps += r.Ops
		s.finalErrors += r.Errors
		if s.firstErr == "" {
			s.firstErr = r.Error
		}
		s.hist.mergeWire(r.Hist)
	case "bdone":
		s.broadcastDone(r.Seq, r.Lat)
	}
}

func (s *runState) tickErrors() (int64, string) {
	var n int64
	first := ""
	for _, t := range s.ticks {
		n += t.Errors
		if first == "" {
			first = t.Error
		}
	}
	return n, first
}

func (s *runState) serverCPU() float64 {
	if s.cfg.PID <= 0 {
		return 0
	}
	v, err := processCPU(s.cfg.PID)
	if err != nil && s.failed == nil {
		s.failed = fmt.Errorf("server process: %w", err)
	}
	return v
}

// showProgress prints the live line: every tick on a terminal, every 5 s in a log.
func (s *runState) showProgress() {
	r := s.runner
	if r.Progress == nil || (!r.Redraw && time.Since(s.lastLine) < 5*time.Second) {
		return
	}
	s.lastLine = time.Now()
	errs, _ := s.tickErrors()
	switch {
	case s.ready < len(s.workers):
		r.progressf("%s: opening connections…", s.cfg.Scenario)
		return
	case s.cfg.Scenario == Idle:
		r.progressf("%s: %d connections open, settling…  errors %d", s.cfg.Scenario, s.open, errs)
		return
	case !s.marked.Load():
		r.progressf("%s: %d connections open, warming up…  errors %d", s.cfg.Scenario, s.open, errs)
		return
	}
	var ops int64
	for _, t := range s.ticks {
		ops += t.Ops
	}
	el := time.Since(s.markedAt).Seconds()
	_, many := s.cfg.Scenario.opNames()
	r.progressf("%s: %5.1fs of %s  %d %s  %s/s  errors %d", s.cfg.Scenario, el, s.cfg.Duration, ops,
		many, human(float64(ops)/el), errs)
}

// limitedBuffer keeps the first max bytes a worker writes to its stderr.
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(bytes.TrimSpace(l.b.Bytes()))
}

// stderrOnEOF is a worker's output; when it ends, what the worker wrote to
// stderr explains why.
type stderrOnEOF struct {
	r      io.Reader
	stderr *limitedBuffer
}

func (s *stderrOnEOF) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s *stderrOnEOF) failure() error {
	if msg := s.stderr.String(); msg != "" {
		return errors.New(msg)
	}
	return nil
}
