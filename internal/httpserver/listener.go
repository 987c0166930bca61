package httpserver

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// warnInterval is the least time between two warnings of one listener.
const warnInterval = 10 * time.Second

// The back-off between accepts that failed for want of a resource. Short,
// so that the server answers again soon after descriptors free. While they
// are out, each retry is one system call that fails at once (Linux takes the
// descriptor before it looks for a connection, so it fails even with none
// waiting): 20 a second at most.
const (
	minRetryDelay = 5 * time.Millisecond
	maxRetryDelay = 50 * time.Millisecond
)

// Listener returns ln with an Accept that outlasts running out of file
// descriptors (EMFILE, ENFILE), of socket memory (ENOBUFS, ENOMEM) or any
// other temporary accept error: it tries again after a short back-off (5 ms
// doubling up to 50 ms) instead of returning the error, and logs at warning
// level, at most once every 10 s, how many accepts failed since its last
// warning; once an accept succeeds again after a warning, it says so once.
// Meanwhile new connections wait in the kernel's listen backlog and are
// served as soon as descriptors free.
//
// Without it, http.Server retries temporary errors itself, but backs off up to
// a second, writes a line to its ErrorLog on every attempt, and returns (the
// server stops) on ENOBUFS and ENOMEM.
//
// It does not keep a spare descriptor to accept and close connections while
// out of them (the trick some C servers use to refuse clients at once):
// in a Go process any goroutine, another listener's among them, may take the
// descriptor freed between the close of the spare and the accept, so the
// trick is unreliable; and it turns a client's wait in the backlog, which
// ends in success once the idle and header timeouts free descriptors, into
// a certain failure.
func Listener(ln net.Listener, logger *slog.Logger) net.Listener {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &listener{Listener: ln, log: logger, interval: warnInterval, now: time.Now, closed: make(chan struct{})}
}

// listener is the net.Listener Listener returns.
type listener struct {
	net.Listener
	log       *slog.Logger
	interval  time.Duration    // warnInterval
	now       func() time.Time // time.Now, a fake clock in tests
	closed    chan struct{}    // closed by Close: ends a back-off
	closeOnce sync.Once

	mu          sync.Mutex
	failing     bool      // the last accept failed
	failingFrom time.Time // when the current run of failed accepts began
	warned      bool      // a warning was logged during the current run
	lastWarning time.Time // when the last warning was logged, if any was
	unreported  int       // failed accepts since the last line logged
	firstUnrep  time.Time // when the first of them failed
}

// Accept waits for and returns the next connection. It returns an error only
// once the listener is closed, or on an error that is neither temporary nor
// the lack of a resource.
func (l *listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			l.accepted()
			return c, nil
		}
		msg := shortage(err)
		if msg == "" {
			return nil, err
		}
		l.failed(msg, err)
		delay = min(max(2*delay, minRetryDelay), maxRetryDelay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-l.closed:
			t.Stop() // the next Accept returns the closed listener's error
		}
	}
}

// Close closes the listener and ends a back-off under way.
func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// shortage returns the warning to log for an accept error to try again
// after, or "" for any other error.
func shortage(err error) string {
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "accept: out of file descriptors; new connections wait in the listen backlog"
	case errors.Is(err, syscall.ENOBUFS), errors.Is(err, syscall.ENOMEM):
		return "accept: out of socket memory; new connections wait in the listen backlog"
	}
	// net/http's own test for the errors it retries (net.Error.Temporary).
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return "accept: temporary error; new connections wait in the listen backlog"
	}
	return ""
}

// failed counts a failed accept and logs msg, with the count of failures since
// the last line, unless a warning was logged less than an interval ago.
func (l *listener) failed(msg string, err error) {
	now := l.now()
	l.mu.Lock()
	if !l.failing {
		l.failing, l.failingFrom = true, now
	}
	if l.unreported == 0 {
		l.firstUnrep = now
	}
	l.unreported++
	if !l.lastWarning.IsZero() && now.Sub(l.lastWarning) < l.interval {
		l.mu.Unlock()
		return
	}
	n, over := l.unreported, now.Sub(l.firstUnrep)
	l.unreported, l.lastWarning, l.warned = 0, now, true
	l.mu.Unlock()
	l.log.Warn(msg, "addr", l.Addr().String(), "failed_accepts", n, "over", over.Round(time.Millisecond), "err", err)
}

// accepted ends a run of failed accepts; when a warning told of it, it logs
// that the listener accepts again, after how long, and the failures since
// that warning.
func (l *listener) accepted() {
	l.mu.Lock()
	if !l.failing {
		l.mu.Unlock()
		return
	}
	lasted, warned, n := l.now().Sub(l.failingFrom), l.warned, l.unreported
	l.failing, l.warned = false, false
	if warned {
		l.unreported = 0
	}
	l.mu.Unlock()
	if warned {
		l.log.Warn("accept: accepting connections again", "addr", l.Addr().String(),
			"after", lasted.Round(time.Millisecond), "failed_accepts", n)
	}
}
