package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/testenv"
)

// pythonPath is the interpreter of the Python peers: Debian's, unless
// TETHER_PYTHON names another (see testenv.Python).
var pythonPath = testenv.Python()

// nodeDir holds the Node peers and their package-lock.json; "make deps" runs
// npm ci there.
const nodeDir = "node"

// requireNode skips the test (or fails it, under TETHER_INTEGRATION=1) unless
// node and the Node peers' npm packages are installed.
func requireNode(t testing.TB) {
	t.Helper()
	testenv.RequireNode(t, nodeDir)
}

// requireBrowser is requireNode plus Debian's Chromium, which the Node
// scripts drive through playwright-core.
func requireBrowser(t testing.TB) {
	t.Helper()
	requireNode(t)
	testenv.RequireChromium(t)
}

// requireWSPython skips or fails the test, as requireNode, without the
// Python WebSocket peer's module.
func requireWSPython(t testing.TB) {
	t.Helper()
	testenv.RequirePython(t, "websockets")
}

// A peer is a WebSocket implementation we did not write, with a client and a
// server script speaking the protocol documented in those scripts.
type peer struct {
	name    string
	client  []string         // argv before URL and scenario
	server  []string         // argv before flags
	require func(testing.TB) // skips or fails the test when the peer cannot run
}

var peers = []peer{
	{
		name:    "node",
		client:  []string{"node", "node/ws-client.mjs"},
		server:  []string{"node", "node/ws-server.mjs"},
		require: requireNode,
	},
	{
		name:    "python",
		client:  []string{pythonPath, "python/ws_client.py"},
		server:  []string{pythonPath, "python/ws_server.py"},
		require: requireWSPython,
	},
}

// command returns a Cmd in its own process group, so that killing the group
// also kills anything the peer started; ctx bounds its whole life.
func command(ctx context.Context, argv []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// runClient runs the peer's client script for one scenario and returns its
// combined output; a non-nil error means the peer saw something wrong.
func runClient(ctx context.Context, p peer, url, scenario string, args ...string) (string, error) {
	argv := append(append(append([]string{}, p.client...), url, scenario), args...)
	cmd := command(ctx, argv)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	_ = killGroup(cmd) // anything the script left behind
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("%w (killed: %v)", err, ctx.Err())
	}
	return out.String(), err
}

// A report is one event a peer server printed, tagged with the "id" query
// parameter of the connection it is about.
type report struct {
	ID         string `json:"id"`
	Event      string `json:"event"`
	Path       string `json:"path"`
	Protocol   string `json:"protocol"`
	Extensions string `json:"extensions"`
	Code       int    `json:"code"`
	Reason     string `json:"reason"`
	Payload    string `json:"payload"`
	Message    string `json:"message"`
	Size       int    `json:"size"`
}

// peerServer is a running peer server script.
type peerServer struct {
	peer peer
	addr string // host:port it listens on

	mu      sync.Mutex
	reports []report
	other   []string      // lines that are neither PORT nor REPORT
	changed chan struct{} // closed and replaced on every new report
	stderr  testenv.Buffer
	done    chan struct{} // closed once stdout is fully read
}

// startPeerServer starts p's server and waits until it listens. The process
// is killed and reaped when t ends.
func startPeerServer(t *testing.T, p peer, flags []string) *peerServer {
	t.Helper()
	argv := append(append([]string{}, p.server...), flags...)
	ctx, cancel := context.WithCancel(context.Background())
	s := &peerServer{peer: p, changed: make(chan struct{}), done: make(chan struct{})}
	cmd := command(ctx, argv)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = &s.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s server: %v", p.name, err)
	}
	port := make(chan string, 1)
	go s.readStdout(pr, port)
	t.Cleanup(func() {
		cancel() // kills the process group
		_ = cmd.Wait()
		pw.Close()
		<-s.done
	})

	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case s.addr = <-port:
	case <-s.done:
		t.Fatalf("%s server exited before listening:\n%s", p.name, s.stderr.String())
	case <-timer.C:
		t.Fatalf("%s server did not print its port within 30s:\n%s", p.name, s.stderr.String())
	}
	return s
}

func (s *peerServer) readStdout(r io.Reader, port chan<- string) {
	defer close(s.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "PORT "):
			if _, err := strconv.Atoi(line[5:]); err == nil {
				port <- "127.0.0.1:" + line[5:]
				continue
			}
		case strings.HasPrefix(line, "REPORT "):
			var rep report
			if err := json.Unmarshal([]byte(line[7:]), &rep); err == nil {
				s.mu.Lock()
				s.reports = append(s.reports, rep)
				close(s.changed)
				s.changed = make(chan struct{})
				s.mu.Unlock()
				continue
			}
		}
		s.mu.Lock()
		s.other = append(s.other, line)
		s.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r) // an over-long line must not block the peer
}

// wait returns the first report of event for connection id.
func (s *peerServer) wait(ctx context.Context, id, event string) (report, error) {
	for {
		s.mu.Lock()
		for _, r := range s.reports {
			if r.ID == id && r.Event == event {
				s.mu.Unlock()
				return r, nil
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-s.done:
			return report{}, fmt.Errorf("%s server exited before reporting %q", s.peer.name, event)
		case <-ctx.Done():
			return report{}, fmt.Errorf("%s server did not report %q: %w", s.peer.name, event, ctx.Err())
		}
	}
}

// describe returns what the server reported about id, and its stray output,
// for failure messages.
func (s *peerServer) describe(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%s server reports for %s:\n", s.peer.name, id)
	for _, r := range s.reports {
		if r.ID == id {
			j, _ := json.Marshal(r)
			fmt.Fprintf(&b, "  %s\n", j)
		}
	}
	if len(s.other) > 0 {
		fmt.Fprintf(&b, "%s server other stdout:\n  %s\n", s.peer.name, strings.Join(s.other, "\n  "))
	}
	if e := s.stderr.String(); e != "" {
		fmt.Fprintf(&b, "%s server stderr:\n%s", s.peer.name, e)
	}
	return b.String()
}
