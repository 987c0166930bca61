//go:build linux

package adversary

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tether is the tether command, built once per test binary and run through
// /proc/self/fd/N (see BuildTether).
var tether struct {
	once sync.Once
	file *os.File
	err  error
}

func tetherPath(t *testing.T) string {
	t.Helper()
	tether.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		tether.file, tether.err = BuildTether(ctx)
	})
	if tether.err != nil {
		t.Fatal(tether.err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", tether.file.Fd())
}

// TestAttacks runs every attack of the table against a server of its own, with a control
// client, and checks that the figures come back to the baseline. It logs the summary table.
func TestAttacks(t *testing.T) {
	mode, err := ModeFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	// Go raises this process's soft limit to the hard one at start-up, and so does the server.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if need := mode.Descriptors(); lim.Cur < uint64(need) {
		t.Fatalf("the open-files limit is %d (ulimit -n); this mode holds up to %d descriptors at once", lim.Cur, need)
	}
	bin := tetherPath(t)
	var report Report
	start := time.Now()
	for _, a := range Attacks() {
		if a.FullOnly && !mode.Full {
			continue
		}
		t.Run(a.Name, func(t *testing.T) {
			row := runAttack(t, bin, mode, a)
			row.Pass = !t.Failed()
			report.Add(row)
		})
	}
	kind := "short"
	if mode.Full {
		kind = "full"
	}
	t.Logf("adversarial suite, %s mode, %v:\n\n%s", kind, time.Since(start).Round(time.Second), report.Markdown())
}

// runAttack runs one attack and returns its row; failures are reported on t.
func runAttack(t *testing.T, bin string, mode Mode, a Attack) Row {
	row := Row{Attack: a.Name, Inputs: a.Inputs(mode)}
	flags := a.Flags
	if flags == nil {
		flags = RelaxedFlags
	}
	srv, err := StartServer(bin, flags...)
	if err != nil {
		t.Fatal(err)
	}
	stopChecked := false // runAttack stops the server itself and reports how that went
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil && !stopChecked {
			t.Error(err)
		}
		if t.Failed() {
			out := srv.Output()
			if len(out) > 8000 {
				out = "…" + out[len(out)-8000:]
			}
			t.Logf("server output:\n%s", out)
		}
	})
	ctx := context.Background()

	// The control client: connected before the baseline, so that its own figures are in it.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(cctx, "tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := DialSIO(cctx, "control", conn)
	if err != nil {
		t.Fatal(err)
	}
	ctl.Start(nil)
	ctl.StartAcks(ControlEvery, ControlAckBound)
	t.Cleanup(ctl.Close)
	if err := ctl.WaitAcks(cctx, 3); err != nil {
		t.Fatalf("control client before the attack: %v", err)
	}
	base, err := srv.SettledSample(cctx)
	if err != nil {
		t.Fatal(err)
	}
	baseG, err := srv.Goroutines(cctx)
	if err != nil {
		t.Fatal(err)
	}
	tg := newTarget(srv, mode, base)
	t.Cleanup(tg.closeAll) // runs before the control's and the server's cleanups

	stopSampling := sample(tg, 100*time.Millisecond)
	timeout := a.Timeout
	if timeout == 0 {
		timeout = DefaultAttackTimeout
	}
	actx, acancel := context.WithTimeout(ctx, timeout)
	outcome, aerr := a.Run(actx, tg)
	acancel()
	tg.attackDone()
	settleStart := time.Now()
	leak, after, idle := settle(ctx, tg, baseG)
	settled := time.Since(settleStart)
	if leak != "" {
		if g, err := srv.Goroutines(ctx); err == nil {
			if d := g.Diff(baseG); d != "" {
				leak += "; goroutines above the baseline: " + d
			}
		}
	}
	stopSampling()
	fails := ctl.Failures()
	peak := tg.Peak()

	var stopped time.Duration
	if exited, werr := srv.Exited(); exited {
		aerr = fmt.Errorf("the server process exited (%v); %v", werr, aerr)
	} else {
		// The server must still shut down cleanly once its clients are gone.
		tg.closeAll()
		ctl.Close()
		stopChecked = true
		stopStart := time.Now()
		err := srv.Stop()
		stopped = time.Since(stopStart)
		if err != nil {
			aerr = errors.Join(aerr, err)
		}
	}
	row.Outcome = outcome
	if aerr != nil {
		row.Outcome = strings.TrimPrefix(outcome+"; FAILED: "+aerr.Error(), "; ")
		t.Errorf("%s: %v (outcome: %s)", a.Name, aerr, outcome)
	}
	rss := fmt.Sprintf("RSS %s → peak %s → %s", MiB(base.RSS), MiB(peak.RSS), MiB(after.RSS))
	if idle > 0 {
		rss += fmt.Sprintf("; idle handler workers kept: %d (allowed up to %d)", idle, IdleWorkerAllowance)
	}
	if leak != "" {
		row.Leak = leak + "; " + rss
		t.Errorf("%s: after %v of settling: %s (baseline: %s)", a.Name, SettleBound, leak, describe(base))
	} else {
		row.Leak = "none; " + rss
	}
	if len(fails) > 0 {
		row.Control = strings.Join(fails, "; ")
		t.Errorf("%s hurt the control client: %s", a.Name, row.Control)
	}
	t.Logf("%s: %s; baseline %s; peak %s; after %s; settled in %v, shut down in %v", a.Name, row.Outcome,
		describe(base), describe(peak.Sample), describe(after), settled.Round(100*time.Millisecond), stopped.Round(100*time.Millisecond))
	return row
}

// sample reads the figures every `every` into tg's peak until the returned stop is called.
func sample(tg *Target, every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			_, _ = tg.Sample(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// settle waits, up to SettleBound, for the figures to come back within DefaultTolerance of
// the baseline, forcing a GC before each reading. It returns what is still above, or "",
// and the last reading.
func settle(ctx context.Context, tg *Target, baseG Goroutines) (leak string, now Sample, idle int) {
	deadline := time.Now().Add(SettleBound)
	for {
		var err error
		leak, idle = "", 0
		now, err = tg.srv.SettledSample(ctx)
		if err != nil {
			leak = fmt.Sprintf("cannot read the server's figures: %v", err)
		} else if held, opened, err := tg.Held(); err != nil {
			leak = fmt.Sprintf("cannot read the server's connections: %v", err)
		} else if g, err := tg.srv.Goroutines(ctx); err != nil {
			leak = fmt.Sprintf("cannot read the server's goroutines: %v", err)
		} else {
			idle = min(max(g.Count(idleWorker)-baseG.Count(idleWorker), 0), IdleWorkerAllowance)
			counted := now
			counted.Goroutines -= idle
			leak = leaks(tg.Base(), counted, held, opened, DefaultTolerance)
		}
		if leak == "" {
			leak = deadlocked(ctx, tg.srv)
		}
		if leak == "" || time.Now().After(deadline) {
			return leak, now, idle
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// deadlocked returns the server's goroutines that wait for a lock across two profiles a
// second apart, or "".
func deadlocked(ctx context.Context, srv *Server) string {
	g1, err := srv.Goroutines(ctx)
	if err != nil {
		return fmt.Sprintf("cannot read the server's goroutines: %v", err)
	}
	if g1.Stuck(g1) == "" {
		return ""
	}
	time.Sleep(time.Second)
	g2, err := srv.Goroutines(ctx)
	if err != nil {
		return fmt.Sprintf("cannot read the server's goroutines: %v", err)
	}
	if stuck := g1.Stuck(g2); stuck != "" {
		return "goroutines stuck waiting for a lock for over a second: " + stuck
	}
	return ""
}

// describe formats the figures the leak check looks at.
func describe(s Sample) string {
	return fmt.Sprintf("goroutines %d, fds %d, sockets %d, heap_live %s, heap_inuse %s, RSS %s",
		s.Goroutines, s.FDs, s.Sockets, MiB(s.HeapLive), MiB(s.HeapInuse), MiB(s.RSS))
}
