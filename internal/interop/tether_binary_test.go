package interop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/testenv"
)

// tetherBinary is the tether command, built once per test binary run. The
// file is unlinked as soon as it is built and started through a descriptor
// kept open for the life of the test binary (/proc/self/fd/N, as fexecve
// does), so nothing is left in TMPDIR however the run ends.
var tetherBinary struct {
	once sync.Once
	file *os.File
	err  error
}

// tetherPath returns a path that executes the built tether command.
func tetherPath(t *testing.T) string {
	t.Helper()
	tetherBinary.once.Do(func() {
		tetherBinary.file, tetherBinary.err = buildTether()
	})
	if tetherBinary.err != nil {
		t.Fatal(tetherBinary.err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", tetherBinary.file.Fd())
}

func buildTether() (*os.File, error) {
	dir, err := os.MkdirTemp("", "tether-interop-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "tether")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := command(ctx, []string{"go", "build", "-o", bin, "github.com/tether-rt/tether/cmd/tether"})
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/tether: %v\n%s", err, out)
	}
	return os.Open(bin)
}

// testServerListening is what tether testserver prints, followed by its URL,
// once it accepts connections.
const testServerListening = "tether testserver: listening on "

// startTetherTestServer starts `tether testserver --addr 127.0.0.1:0 flags...`
// and returns its base URL, http://127.0.0.1:PORT. When t ends the server gets
// SIGTERM and must exit 0 within 30 s; its output goes to the test log if the
// test failed.
func startTetherTestServer(t *testing.T, flags ...string) string {
	t.Helper()
	argv := append([]string{tetherPath(t), "testserver", "--addr", "127.0.0.1:0"}, flags...)
	name := strings.TrimSpace("tether testserver " + strings.Join(flags, " "))
	return startListening(t, name, argv, testServerListening)
}

// serverProcess is a server started by startServerProcess.
type serverProcess struct {
	url    string         // its base URL, http://127.0.0.1:PORT
	stdout testenv.Buffer // what it printed after the listening line
	stderr testenv.Buffer
	// stop sends SIGTERM and waits (30 s at most) for the exit, which must be 0; later
	// calls return the first one's result.
	stop func() error
}

// startListening runs argv, a server that prints prefix followed by its base
// URL (http://127.0.0.1:PORT) on the first line of its standard output once it
// accepts connections, and returns that URL. See startServerProcess.
func startListening(t *testing.T, name string, argv []string, prefix string) string {
	t.Helper()
	return startServerProcess(t, name, argv, prefix).url
}

// startServerProcess runs argv as startListening does and returns the running
// server. When t ends the server gets SIGTERM and must exit 0 within 30 s; its
// output goes to the test log if the test failed.
func startServerProcess(t *testing.T, name string, argv []string, prefix string) *serverProcess {
	t.Helper()
	s := &serverProcess{}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := command(ctx, argv)
	cmd.Stderr = &s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", name, err)
	}

	lines := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		lines <- line
		if err == nil {
			_, _ = io.Copy(&s.stdout, r)
		}
	}()

	var stopOnce sync.Once
	var stopErr error
	stop := func() error {
		stopOnce.Do(func() {
			defer cancel()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
				stopErr = fmt.Errorf("%s: SIGTERM: %v", name, err)
			}
			exited := make(chan error, 1)
			go func() {
				<-copied // Wait closes the pipe: read it all first
				exited <- cmd.Wait()
			}()
			timer := time.NewTimer(30 * time.Second)
			defer timer.Stop()
			select {
			case err := <-exited:
				if err != nil && stopErr == nil {
					stopErr = fmt.Errorf("%s exited with %v after SIGTERM", name, err)
				}
			case <-timer.C:
				_ = killGroup(cmd)
				<-exited
				stopErr = fmt.Errorf("%s did not exit within 30s of SIGTERM", name)
			}
			_ = killGroup(cmd) // anything it left behind
		})
		return stopErr
	}
	s.stop = stop
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\nstderr:\n%s", name, s.stdout.String(), s.stderr.String())
		}
	})

	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	var line string
	select {
	case line = <-lines:
	case <-timer.C:
		t.Fatalf("%s printed no listening line within 30s", name)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), prefix)
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		_ = stop()
		t.Fatalf("%s: first line %q, want %q followed by http://127.0.0.1:PORT; stderr:\n%s",
			name, line, prefix, s.stderr.String())
	}
	s.url = url
	return s
}
