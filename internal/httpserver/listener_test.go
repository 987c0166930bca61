package httpserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// records is a slog.Handler keeping every record, for tests to look at.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}

func (r *records) all() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slog.Record(nil), r.recs...)
}

// attr returns the value of rec's attribute key, or nil.
func attr(rec slog.Record, key string) any {
	var v any
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.Any()
			return false
		}
		return true
	})
	return v
}

// scriptedListener is a net.Listener whose Accept returns the errors of its
// script, one per call, then a connection each time, or forever its error
// forever when set; it also advances a fake clock by step at each call.
type scriptedListener struct {
	mu      sync.Mutex
	script  []error
	forever error
	calls   int
	clock   time.Time
	step    time.Duration
	closed  bool
}

func (s *scriptedListener) Accept() (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = s.clock.Add(s.step)
	if s.closed {
		return nil, net.ErrClosed
	}
	s.calls++
	if s.forever != nil {
		return nil, s.forever
	}
	if len(s.script) > 0 {
		err := s.script[0]
		s.script = s.script[1:]
		if err != nil {
			return nil, err
		}
	}
	c1, c2 := net.Pipe()
	c2.Close()
	return c1, nil
}

func (s *scriptedListener) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *scriptedListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 3000}
}

func (s *scriptedListener) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock
}

// emfile is the error accept(2) returns when the process is out of descriptors, as net returns it.
func emfile() error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
}

// newTestListener wraps s with the clock of s and the given warning interval.
func newTestListener(s *scriptedListener, interval time.Duration) (*listener, *records) {
	s.clock = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := &records{}
	l := Listener(s, slog.New(recs)).(*listener)
	l.interval, l.now = interval, s.now
	return l, recs
}

// acceptOne calls Accept and fails unless it returns a connection.
func acceptOne(t *testing.T, l net.Listener) {
	t.Helper()
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	c.Close()
}

// TestListenerWarnsOnce checks that a run of failed accepts is retried until
// one succeeds, with one warning at its start and one line at its end.
func TestListenerWarnsOnce(t *testing.T) {
	s := &scriptedListener{step: 10 * time.Millisecond}
	for range 20 {
		s.script = append(s.script, emfile())
	}
	l, recs := newTestListener(s, 10*time.Second)
	acceptOne(t, l)
	if s.calls != 21 {
		t.Fatalf("%d accepts, want 21", s.calls)
	}
	got := recs.all()
	if len(got) != 2 {
		t.Fatalf("%d log lines, want 2: %v", len(got), got)
	}
	warn, again := got[0], got[1]
	if warn.Level != slog.LevelWarn || !strings.Contains(warn.Message, "out of file descriptors") ||
		attr(warn, "failed_accepts") != int64(1) || attr(warn, "addr") != "127.0.0.1:3000" {
		t.Errorf("first line: %v %q failed_accepts=%v addr=%v", warn.Level, warn.Message, attr(warn, "failed_accepts"), attr(warn, "addr"))
	}
	if again.Level != slog.LevelWarn || !strings.Contains(again.Message, "accepting connections again") ||
		attr(again, "failed_accepts") != int64(19) {
		t.Errorf("second line: %v %q failed_accepts=%v", again.Level, again.Message, attr(again, "failed_accepts"))
	}

	// A success without failures before it logs nothing.
	acceptOne(t, l)
	if n := len(recs.all()); n != 2 {
		t.Errorf("%d log lines after a plain accept, want 2", n)
	}
}

// TestListenerWarnsEveryInterval checks the rate limit: one warning per
// interval while accepts keep failing, each with the failures since the last.
func TestListenerWarnsEveryInterval(t *testing.T) {
	// One failure every second of the fake clock, for 25 s.
	s := &scriptedListener{step: time.Second}
	for range 25 {
		s.script = append(s.script, emfile())
	}
	l, recs := newTestListener(s, 10*time.Second)
	acceptOne(t, l)
	var counts []int64
	for _, r := range recs.all() {
		if strings.Contains(r.Message, "out of file descriptors") {
			counts = append(counts, attr(r, "failed_accepts").(int64))
		}
	}
	// Failures at 1 s (logged), 2..11 s (ten, logged at 11 s), 12..21 s (ten, logged at 21 s).
	if len(counts) != 3 || counts[0] != 1 || counts[1] != 10 || counts[2] != 10 {
		t.Fatalf("warnings' failed_accepts = %v, want [1 10 10]", counts)
	}
}

// TestListenerFlapping checks that accepts failing and succeeding in turn
// log no more than two lines per interval.
func TestListenerFlapping(t *testing.T) {
	s := &scriptedListener{step: 10 * time.Millisecond}
	l, recs := newTestListener(s, 10*time.Second)
	for range 50 {
		s.mu.Lock()
		s.script = []error{emfile()}
		s.mu.Unlock()
		acceptOne(t, l)
	}
	if n := len(recs.all()); n != 2 {
		t.Fatalf("%d log lines over 0.5s of flapping, want 2 (a warning and its end)", n)
	}
}

// TestListenerErrors checks which errors are retried and which returned.
func TestListenerErrors(t *testing.T) {
	retried := []error{
		emfile(),
		&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ENFILE)},
		&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ENOBUFS)},
		&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ENOMEM)},
		&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EINTR)}, // temporary
	}
	for _, err := range retried {
		s := &scriptedListener{script: []error{err}}
		l, recs := newTestListener(s, 10*time.Second)
		acceptOne(t, l)
		if got := recs.all(); len(got) != 2 || got[0].Level != slog.LevelWarn {
			t.Errorf("%v: log %v, want a warning and its end", err, got)
		}
	}

	fatal := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EINVAL)}
	s := &scriptedListener{script: []error{fatal}}
	l, recs := newTestListener(s, 10*time.Second)
	if _, err := l.Accept(); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Accept = %v, want the EINVAL error at once", err)
	}
	if got := recs.all(); len(got) != 0 {
		t.Errorf("log %v, want nothing", got)
	}
}

// TestListenerCloseDuringBackOff checks that Close ends an Accept that keeps
// failing, with the closed listener's error.
func TestListenerCloseDuringBackOff(t *testing.T) {
	s := &scriptedListener{forever: emfile()}
	l, _ := newTestListener(s, 10*time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond) // into the back-off, at its longest
	l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept = %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept did not return within 10s of Close")
	}
}
