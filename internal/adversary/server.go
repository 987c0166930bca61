//go:build linux

package adversary

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BuildTether builds the tether command and returns an open file of it. The file is unlinked
// at once; the command runs through /proc/self/fd/N (see Binary.Path), so nothing is left
// behind however the test binary ends.
func BuildTether(ctx context.Context) (*os.File, error) {
	dir, err := os.MkdirTemp("", "tether-adversary-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "tether")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/tether-rt/tether/cmd/tether")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/tether: %v\n%s", err, out)
	}
	return os.Open(bin)
}

// The lines `tether testserver` prints once it accepts connections: the first on the main
// listener, the second on the --debug-addr listener.
const (
	listeningPrefix = "tether testserver: listening on http://"
	debugPrefix     = "tether testserver: debug figures on http://"
	debugSuffix     = "/debug/stats, profiles on /debug/pprof/"
)

// Server is a running `tether testserver` with a debug listener.
type Server struct {
	Addr      string // host:port of the main listener
	DebugAddr string // host:port of the debug listener
	PID       int

	cmd     *exec.Cmd
	cancel  context.CancelFunc
	exited  chan struct{} // closed once the process has been reaped
	waitErr error
	output  lockedBuffer // what it printed after the two first lines, and its stderr

	stopOnce sync.Once
	stopErr  error

	statsMu sync.Mutex // one debug request at a time: one keep-alive connection, steady figures
	hc      *http.Client
}

// StartServer runs bin as `tether testserver --addr 127.0.0.1:0 --debug-addr 127.0.0.1:0
// flags...` and waits (30 s at most) until both listeners accept connections.
func StartServer(bin string, flags ...string) (*Server, error) {
	argv := append([]string{"testserver", "--addr", "127.0.0.1:0", "--debug-addr", "127.0.0.1:0"}, flags...)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	s := &Server{cmd: cmd, cancel: cancel, exited: make(chan struct{})}
	cmd.Stderr = &s.output
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting tether testserver: %w", err)
	}
	s.PID = cmd.Process.Pid

	lines := make(chan string, 2)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		r := bufio.NewReader(stdout)
		for range 2 {
			line, err := r.ReadString('\n')
			lines <- line
			if err != nil {
				return
			}
		}
		_, _ = io.Copy(&s.output, r)
	}()
	go func() {
		<-copied // Wait closes the pipe: read it all first
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	var got [2]string
	for i := range got {
		select {
		case got[i] = <-lines:
		case <-timer.C:
			_ = s.Stop()
			return nil, fmt.Errorf("tether testserver printed %q within 30s, want its two listening lines; output:\n%s", got, s.output.String())
		}
	}
	addr, ok1 := strings.CutPrefix(strings.TrimSpace(got[0]), listeningPrefix)
	rest, ok2 := strings.CutPrefix(strings.TrimSpace(got[1]), debugPrefix)
	debug, ok3 := strings.CutSuffix(rest, debugSuffix)
	if !ok1 || !ok2 || !ok3 {
		_ = s.Stop()
		return nil, fmt.Errorf("tether testserver printed %q, want %q… and %q…%q; output:\n%s",
			got, listeningPrefix, debugPrefix, debugSuffix, s.output.String())
	}
	s.Addr, s.DebugAddr = addr, debug
	s.hc = &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true},
	}
	return s, nil
}

// Exited reports whether the process has ended, and how.
func (s *Server) Exited() (bool, error) {
	select {
	case <-s.exited:
		return true, s.waitErr
	default:
		return false, nil
	}
}

// Output returns what the server printed besides its listening lines.
func (s *Server) Output() string { return s.output.String() }

// Stop sends SIGTERM and waits up to 30 s for the process to exit 0, then kills its group.
// Calls after the first return the first's error.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	defer s.cancel()
	if s.hc != nil {
		s.hc.CloseIdleConnections()
	}
	if exited, err := s.Exited(); exited {
		return fmt.Errorf("tether testserver had already exited: %v", err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case <-s.exited:
		if s.waitErr != nil {
			return fmt.Errorf("tether testserver exited with %v after SIGTERM", s.waitErr)
		}
		return nil
	case <-timer.C:
		s.cancel() // kills the group
		<-s.exited
		return errors.New("tether testserver did not exit within 30s of SIGTERM")
	}
}

// debugGet fetches a path of the debug listener and returns its body.
func (s *Server) debugGet(ctx context.Context, path string) ([]byte, error) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.DebugAddr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// ForceGC makes the server run a garbage collection (the heap profile with gc=1 does), so that
// heap_live afterwards counts only what is reachable.
func (s *Server) ForceGC(ctx context.Context) error {
	_, err := s.debugGet(ctx, "/debug/pprof/heap?gc=1")
	return err
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
