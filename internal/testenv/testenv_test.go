package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB whose Skip and Fatal are recorded instead of ending the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Skip(args ...any) {
	r.skipped = fmtArgs(args)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.failed = fmtArgs(args)
	runtime.Goexit()
}

func fmtArgs(args []any) string {
	var b strings.Builder
	for _, a := range args {
		b.WriteString(a.(string))
	}
	return b.String()
}

// run calls check with a recorder on its own goroutine, since Skip and Fatal end it.
func run(t *testing.T, check func(testing.TB)) *recorder {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r
}

func TestMissingSkipsOrFails(t *testing.T) {
	for _, integration := range []string{"", "1"} {
		t.Run("TETHER_INTEGRATION="+integration, func(t *testing.T) {
			t.Setenv(IntegrationEnv, integration)
			t.Setenv(ChromiumEnv, filepath.Join(t.TempDir(), "no-chromium"))
			r := run(t, func(tb testing.TB) { RequireChromium(tb) })
			got := r.skipped
			if integration == "1" {
				if r.skipped != "" {
					t.Fatalf("skipped under integration: %q", r.skipped)
				}
				got = r.failed
			} else if r.failed != "" {
				t.Fatalf("failed without integration: %q", r.failed)
			}
			if strings.Contains(got, "\n") || !strings.Contains(got, "chromium") || !strings.Contains(got, "make deps") {
				t.Errorf("message %q, want one line naming chromium and make deps", got)
			}
		})
	}
}

func TestRequireFindsPresentTools(t *testing.T) {
	t.Setenv(IntegrationEnv, "1")
	present := filepath.Join(t.TempDir(), "chromium")
	if err := os.WriteFile(present, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ChromiumEnv, present)
	if r := run(t, func(tb testing.TB) { RequireChromium(tb) }); r.failed != "" {
		t.Errorf("RequireChromium with %s present: %s", present, r.failed)
	}
}

func TestRequirePythonMissing(t *testing.T) {
	t.Setenv(IntegrationEnv, "")
	t.Setenv(PythonEnv, filepath.Join(t.TempDir(), "python3"))
	r := run(t, func(tb testing.TB) { RequirePython(tb, "socketio") })
	if !strings.Contains(r.skipped, "python3") || !strings.Contains(r.skipped, PythonEnv) {
		t.Errorf("skip message %q, want it to name python3 and %s", r.skipped, PythonEnv)
	}
}

func TestRequireRedisMissing(t *testing.T) {
	t.Setenv(IntegrationEnv, "")
	t.Setenv("PATH", t.TempDir())
	r := run(t, func(tb testing.TB) { RequireRedis(tb) })
	if !strings.Contains(r.skipped, "redis-server") {
		t.Errorf("skip message %q, want it to name redis-server", r.skipped)
	}
}

func TestNodeModulesProblem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "package-lock.json")
	installed := filepath.Join(dir, "node_modules", ".package-lock.json")
	if err := os.WriteFile(lock, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := nodeModulesProblem(dir); got != "not installed" {
		t.Errorf("without node_modules: %q, want not installed", got)
	}
	if err := os.MkdirAll(filepath.Dir(installed), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(installed, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Explicit times: the file system's clock granularity must not decide the test.
	old, newer := time.Unix(1_700_000_000, 0), time.Unix(1_700_000_100, 0)
	if err := os.Chtimes(lock, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(installed, newer, newer); err != nil {
		t.Fatal(err)
	}
	if got := nodeModulesProblem(dir); got != "" {
		t.Errorf("installed after the lock: %q, want no problem", got)
	}
	if err := os.Chtimes(lock, newer.Add(time.Second), newer.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := nodeModulesProblem(dir); got != "older than package-lock.json" {
		t.Errorf("lock changed after install: %q, want stale", got)
	}
}
