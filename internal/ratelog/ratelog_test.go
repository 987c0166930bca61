package ratelog

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recorder is a slog.Handler keeping the lines it is given as "msg key=value ...".
type recorder struct {
	level slog.Level
	mu    sync.Mutex
	lines []string
	pcs   []uintptr
}

func (r *recorder) Enabled(_ context.Context, level slog.Level) bool { return level >= r.level }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.pcs = append(r.pcs, rec.PC)
	r.mu.Unlock()
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.lines
	r.lines, r.pcs = nil, nil
	return out
}

func expect(t *testing.T, rec *recorder, want ...string) {
	t.Helper()
	if got := rec.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("logged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The tests run in a synctest bubble, whose clock moves only with time.Sleep: a fake clock.

func TestBurstThenOnePerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		log, l, ctx := slog.New(rec), New(time.Second, 3), context.Background()
		for i := range 10 {
			l.Log(ctx, log, slog.LevelWarn, "bad packet", "n", i)
		}
		expect(t, rec, "bad packet n=0", "bad packet n=1", "bad packet n=2")

		time.Sleep(999 * time.Millisecond)
		l.Log(ctx, log, slog.LevelWarn, "bad packet", "n", 10)
		expect(t, rec)
		time.Sleep(time.Millisecond)
		l.Log(ctx, log, slog.LevelWarn, "bad packet", "n", 11)
		l.Log(ctx, log, slog.LevelWarn, "bad packet", "n", 12)
		expect(t, rec, "bad packet n=11 suppressed=8")

		// A quiet spell earns the burst back, and no more.
		time.Sleep(time.Hour)
		for i := range 5 {
			l.Log(ctx, log, slog.LevelWarn, "bad packet", "n", 20+i)
		}
		expect(t, rec, "bad packet n=20 suppressed=1", "bad packet n=21", "bad packet n=22")

		// Partial refills keep the remainder of an interval.
		time.Sleep(2500 * time.Millisecond)
		for i := range 3 {
			l.Log(ctx, log, slog.LevelWarn, "bad packet", "n", 30+i)
		}
		expect(t, rec, "bad packet n=30 suppressed=2", "bad packet n=31")
		time.Sleep(500 * time.Millisecond)
		l.Log(ctx, log, slog.LevelWarn, "bad packet", "n", 40)
		expect(t, rec, "bad packet n=40 suppressed=1")
	})
}

func TestKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		log, l, ctx := slog.New(rec), New(time.Minute, 1), context.Background()
		l.Log(ctx, log, slog.LevelInfo, "a")
		l.Log(ctx, log, slog.LevelInfo, "b")
		l.Log(ctx, log, slog.LevelInfo, "a")
		// LogKey: messages sharing an allowance, and one message with its own.
		l.LogKey(ctx, log, slog.LevelInfo, "panics", "panic in handler of x")
		l.LogKey(ctx, log, slog.LevelInfo, "panics", "panic in handler of y")
		l.LogKey(ctx, log, slog.LevelInfo, "a again", "a")
		expect(t, rec, "a", "b", "panic in handler of x", "a")
		time.Sleep(time.Minute)
		l.Log(ctx, log, slog.LevelInfo, "a")
		l.LogKey(ctx, log, slog.LevelInfo, "panics", "panic in handler of z")
		expect(t, rec, "a suppressed=1", "panic in handler of z suppressed=1")
	})
}

func TestDisabledLevelCostsNoAllowance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{level: slog.LevelInfo}
		log, l, ctx := slog.New(rec), New(time.Minute, 1), context.Background()
		for range 100 {
			l.Log(ctx, log, slog.LevelDebug, "closed")
		}
		l.Log(ctx, log, slog.LevelInfo, "closed")
		expect(t, rec, "closed")
		if allocs := testing.AllocsPerRun(100, func() { l.Log(ctx, log, slog.LevelDebug, "closed") }); allocs != 0 {
			t.Errorf("a line below the level allocates %v times", allocs)
		}
	})
}

func TestMaxKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		log, l, ctx := slog.New(rec), New(time.Second, 1), context.Background()
		for i := range MaxKeys {
			l.Log(ctx, log, slog.LevelInfo, fmt.Sprint("key ", i))
		}
		if n := len(rec.take()); n != MaxKeys {
			t.Fatalf("%d lines for %d keys", n, MaxKeys)
		}
		// Beyond MaxKeys, new keys share one allowance: memory stays bounded.
		for i := range 100 {
			l.Log(ctx, log, slog.LevelInfo, fmt.Sprint("more ", i))
		}
		expect(t, rec, "more 0")
		if len(l.keys) != MaxKeys {
			t.Fatalf("%d keys tracked", len(l.keys))
		}
		// Once the allowances are whole again, the keys are forgotten and new ones tracked.
		l.Log(ctx, log, slog.LevelInfo, "key 7") // used again: kept, with its line held back
		time.Sleep(time.Second)
		l.Log(ctx, log, slog.LevelInfo, "late")
		l.Log(ctx, log, slog.LevelInfo, "key 7")
		expect(t, rec, "late", "key 7 suppressed=1")
		if len(l.keys) != 2 {
			t.Fatalf("%d keys tracked after the sweep, want late and key 7", len(l.keys))
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		log, l, ctx := slog.New(rec), New(time.Second, 5), context.Background()
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 1000 {
					l.Log(ctx, log, slog.LevelWarn, "flood", "g", g, "i", i)
					l.LogKey(ctx, log, slog.LevelWarn, fmt.Sprint(i%10), "spread")
				}
			})
		}
		wg.Wait()
		lines := rec.take()
		flood := 0
		for _, line := range lines {
			if strings.HasPrefix(line, "flood") {
				flood++
			}
		}
		// The clock stands still in the bubble while the goroutines run: the bursts only.
		if flood != 5 || len(lines) != 5+10*5 {
			t.Fatalf("%d lines, %d of the flood", len(lines), flood)
		}
		time.Sleep(time.Second)
		l.Log(ctx, log, slog.LevelWarn, "flood")
		expect(t, rec, fmt.Sprintf("flood suppressed=%d", 8*1000-5))
	})
}

func TestNoLimit(t *testing.T) {
	rec := &recorder{}
	log, ctx := slog.New(rec), context.Background()
	var nilLimiter *Limiter
	for _, l := range []*Limiter{nilLimiter, New(0, 1)} {
		for range 3 {
			l.Log(ctx, log, slog.LevelInfo, "x")
		}
		expect(t, rec, "x", "x", "x")
		l.Log(ctx, nil, slog.LevelInfo, "to no logger")
	}
}

func TestArgsAndSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		log, l, ctx := slog.New(rec), New(time.Second, 1), context.Background()
		l.Log(ctx, log, slog.LevelInfo, "x")
		l.Log(ctx, log, slog.LevelInfo, "x")
		rec.take()
		time.Sleep(time.Second)
		args := make([]any, 2, 4)
		args[0], args[1] = "k", "v"
		l.Log(ctx, log, slog.LevelInfo, "x", args...)
		rec.mu.Lock()
		pc := rec.pcs[0]
		rec.mu.Unlock()
		expect(t, rec, "x k=v suppressed=1")
		if args = args[:4]; args[2] != nil || args[3] != nil {
			t.Errorf("the caller's arguments were written to: %v", args)
		}
		// The line's source is the caller of Log, for handlers with AddSource.
		frame, _ := runtime.CallersFrames([]uintptr{pc}).Next()
		if !strings.Contains(frame.Function, "TestArgsAndSource") {
			t.Errorf("the line's source is %s", frame.Function)
		}
	})
}
