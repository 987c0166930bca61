// Package ratelog limits how often a log line is repeated, so that whoever causes a line (a
// client sending invalid packets, say, or many clients at once) cannot flood the log.
//
// A Limiter lets a burst of lines through for each key (the message, unless the caller gives
// another), then at most one line per interval. The first line let through after some were
// held back carries the attribute suppressed=N, the number held back since the last line of
// that key, so nothing goes unnoticed; a count still pending when the lines stop is not
// reported. Lines the logger would not write at their level cost no allowance and almost
// nothing else: the level is checked first.
//
// A Limiter belongs to one server (or client), made with New; there is no global state. Its
// memory is bounded: it tracks at most MaxKeys keys, and lines under further keys share one
// allowance. Keys should come from a set the program fixes (its messages, say), not from what
// a peer sends.
package ratelog

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// MaxKeys is the number of keys a Limiter tracks. Beyond it, keys whose allowance is whole
// again are forgotten (at most once per interval); if there are none, new keys share one
// allowance until some are.
const MaxKeys = 1024

// Limiter limits the lines logged through it, per key. Its methods are safe for concurrent
// use. A nil *Limiter limits nothing.
type Limiter struct {
	interval time.Duration
	burst    int

	mu        sync.Mutex
	keys      map[string]*allowance
	shared    allowance // for the keys beyond MaxKeys
	lastSweep time.Time // the last look for keys to forget
}

// allowance is a token bucket: tokens lines may go now, one more each interval after since,
// up to the burst.
type allowance struct {
	tokens     int
	since      time.Time
	suppressed int // lines held back since the last one let through
}

// New returns a Limiter that lets burst lines of a key through at once, then one per interval.
// An interval of 0 or less limits nothing; a burst below 1 counts as 1.
func New(interval time.Duration, burst int) *Limiter {
	burst = max(burst, 1)
	return &Limiter{
		interval: interval,
		burst:    burst,
		keys:     map[string]*allowance{},
		shared:   allowance{tokens: burst},
	}
}

// Log logs msg with args at level through logger, like logger.Log, unless lines of the same
// message have used their allowance. The line carries suppressed=N when N lines of that
// message were held back since the last one.
func (l *Limiter) Log(ctx context.Context, logger *slog.Logger, level slog.Level, msg string, args ...any) {
	l.log(ctx, logger, level, msg, msg, args)
}

// LogKey is Log with the allowance of key rather than of the message: lines with different
// messages can share one, or one message have several.
func (l *Limiter) LogKey(ctx context.Context, logger *slog.Logger, level slog.Level, key, msg string, args ...any) {
	l.log(ctx, logger, level, key, msg, args)
}

func (l *Limiter) log(ctx context.Context, logger *slog.Logger, level slog.Level, key, msg string, args []any) {
	if ctx == nil {
		ctx = context.Background()
	}
	if logger == nil || !logger.Enabled(ctx, level) {
		return
	}
	now := time.Now()
	suppressed, ok := l.take(key, now)
	if !ok {
		return
	}
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:]) // skip runtime.Callers, log and Log or LogKey: the caller's line
	r := slog.NewRecord(now, level, msg, pcs[0])
	r.Add(args...)
	if suppressed > 0 {
		r.AddAttrs(slog.Int("suppressed", suppressed))
	}
	_ = logger.Handler().Handle(ctx, r) // as slog.Logger does: a handler's error has nowhere to go
}

// take uses one line of key's allowance at now. It reports whether the line may go, and how
// many were held back before it.
func (l *Limiter) take(key string, now time.Time) (suppressed int, ok bool) {
	if l == nil || l.interval <= 0 {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.keys[key]
	if a == nil {
		a = l.add(key, now)
	}
	l.refill(a, now)
	if a.tokens == 0 {
		a.suppressed++
		return 0, false
	}
	if a.tokens == l.burst {
		a.since = now // a whole allowance gains nothing: count from the first line taken
	}
	a.tokens--
	suppressed, a.suppressed = a.suppressed, 0
	return suppressed, true
}

// add returns a new allowance for key, or the shared one when MaxKeys are tracked and none
// can be forgotten. l.mu is held.
func (l *Limiter) add(key string, now time.Time) *allowance {
	if len(l.keys) >= MaxKeys && now.Sub(l.lastSweep) >= l.interval {
		l.lastSweep = now
		for k, a := range l.keys {
			if l.refill(a, now); a.tokens == l.burst && a.suppressed == 0 {
				delete(l.keys, k) // as good as new
			}
		}
	}
	if len(l.keys) >= MaxKeys {
		return &l.shared
	}
	a := &allowance{tokens: l.burst, since: now}
	l.keys[key] = a
	return a
}

// refill adds the lines a's intervals since a.since have earned, up to the burst.
func (l *Limiter) refill(a *allowance, now time.Time) {
	if a.tokens >= l.burst {
		return
	}
	n := now.Sub(a.since) / l.interval
	if n <= 0 {
		return
	}
	if n >= time.Duration(l.burst-a.tokens) {
		a.tokens = l.burst
		return
	}
	a.tokens += int(n)
	a.since = a.since.Add(n * l.interval)
}
