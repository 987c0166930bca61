package main

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
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// binaries are the programs the runs start, built once per comparison.
type binaries struct {
	echoserver, sioserver string // the Go peers, from this module
	tether                string // the load generator, from the main module
	node                  string // the Node binary
	nodeDir               string // bench/node, with its installed packages
	benchDir              string // the bench module's root
}

// build compiles echoserver, sioserver and tether into dir and finds the
// Node peers.
func build(dir string) (*binaries, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	path, root, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if err != nil || path != "github.com/tether-rt/tether/bench" {
		return nil, errors.New("run compare from the bench/ directory (the github.com/tether-rt/tether/bench module)")
	}
	b := &binaries{
		echoserver: filepath.Join(dir, "echoserver"),
		sioserver:  filepath.Join(dir, "sioserver"),
		tether:     filepath.Join(dir, "tether"),
		nodeDir:    filepath.Join(root, "node"),
		benchDir:   root,
	}
	if b.node, err = exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("the Node peers need node: %w", err)
	}
	for _, pkg := range []string{"ws", "socket.io"} {
		if _, err := os.Stat(filepath.Join(b.nodeDir, "node_modules", pkg, "package.json")); err != nil {
			return nil, fmt.Errorf("the Node peers are not installed (run make bench-deps): %w", err)
		}
	}
	builds := [][]string{
		{"build", "-o", b.echoserver, "./cmd/echoserver"},
		{"build", "-o", b.sioserver, "./cmd/sioserver"},
		// The main module, with its own go.mod: the load generator is
		// Tether's `tether bench`, the same for every peer.
		{"build", "-C", "..", "-o", b.tether, "./cmd/tether"},
	}
	for _, args := range builds {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
		}
	}
	return b, nil
}

// children tracks started processes so that an interrupted run leaves none
// behind.
var children struct {
	sync.Mutex
	pids map[int]bool
}

// start starts cmd in its own process group and records it.
func start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	children.Lock()
	if children.pids == nil {
		children.pids = map[int]bool{}
	}
	children.pids[cmd.Process.Pid] = true
	children.Unlock()
	return nil
}

// forget drops an exited process from the list.
func forget(cmd *exec.Cmd) {
	children.Lock()
	delete(children.pids, cmd.Process.Pid)
	children.Unlock()
}

// kill kills cmd's process group and reaps it.
func kill(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	forget(cmd)
}

func killChildren() {
	children.Lock()
	defer children.Unlock()
	for pid := range children.pids {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// server is a running peer.
type server struct {
	cmd  *exec.Cmd
	pid  int
	addr string
}

// startServer starts p and waits for its "listening on ADDR" line.
func startServer(b *binaries, p peer) (*server, error) {
	cmd := p.command(b)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := start(cmd); err != nil {
		return nil, err
	}
	addr, err := waitListening(stdout, 10*time.Second)
	if err != nil {
		kill(cmd)
		return nil, fmt.Errorf("%s did not start: %w", p.name, err)
	}
	return &server{cmd: cmd, pid: cmd.Process.Pid, addr: addr}, nil
}

func (s *server) stop() { kill(s.cmd) }

// alive reports an error if the server exited during a run.
func (s *server) alive() error {
	if err := syscall.Kill(s.pid, 0); err != nil {
		return fmt.Errorf("server process gone: %w", err)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid)); err == nil && strings.Contains(string(b), ") Z ") {
		return errors.New("server process exited")
	}
	return nil
}

// waitListening reads r until a "listening on ADDR" line, within d, and then
// keeps draining r so that the server never blocks on a full pipe. On
// timeout the reading goroutine ends when the caller kills the server.
func waitListening(r io.Reader, d time.Duration) (string, error) {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "listening on "); ok {
				found <- addr
				_, _ = io.Copy(io.Discard, r)
				return
			}
		}
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			return "", errors.New(`exited without printing "listening on ADDR"`)
		}
		return addr, nil
	case <-time.After(d):
		return "", fmt.Errorf(`no "listening on ADDR" line within %s`, d)
	}
}

// result is the part of `tether bench --json`'s output the report uses.
type result struct {
	Scenario   string       `json:"scenario"`
	Conns      int          `json:"conns"`
	Seconds    float64      `json:"seconds"`
	Ops        int64        `json:"ops"`
	OpsPerSec  float64      `json:"ops_per_sec"`
	Broadcasts int64        `json:"broadcasts"`
	Latency    *latency     `json:"latency_us"`
	Errors     int64        `json:"errors"`
	FirstError string       `json:"first_error"`
	Server     *serverUsage `json:"server"`
}

// latency is in microseconds.
type latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// serverUsage is what the server used in the counted window, from /proc.
type serverUsage struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPerOp   float64 `json:"cpu_us_per_op"`
	RSSBefore  int64   `json:"rss_kib_before"`
	RSSAfter   int64   `json:"rss_kib_after"`
	KiBPerConn float64 `json:"kib_per_conn"`
}

// runOnce runs sc against a freshly started p and returns what `tether
// bench` measured.
func runOnce(cfg *config, b *binaries, sc *scenario, p peer) (*result, error) {
	srv, err := startServer(b, p)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	if sc.idle {
		// Memory is measured from the server's RSS before the connections:
		// let the runtime finish starting up first.
		time.Sleep(500 * time.Millisecond)
	}
	args := append(sc.args(cfg, srv.addr), "--pid", strconv.Itoa(srv.pid), "--json")
	r, err := runLoad(b.tether, loadTimeout(cfg), args)
	if err != nil {
		return nil, err
	}
	if err := srv.alive(); err != nil {
		return nil, err
	}
	if err := sc.check(r); err != nil {
		return nil, fmt.Errorf("tether bench %s: %w", strings.Join(args, " "), err)
	}
	return r, nil
}

// loadTimeout bounds one run of the load generator: its own time plus room
// for opening and closing ten thousands of connections on a slow server.
func loadTimeout(cfg *config) time.Duration {
	return cfg.warmup + cfg.duration + cfg.settle + 3*time.Minute
}

// runLoad runs `tether bench` to completion within d and decodes its result.
func runLoad(bin string, d time.Duration, args []string) (*result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"bench"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Killing the process group ends the worker processes too.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := start(cmd); err != nil {
		return nil, err
	}
	err := cmd.Wait()
	forget(cmd)
	command := "tether bench " + strings.Join(args, " ")
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", command, err, lastLines(stderr.String(), 5))
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("%s: output %q: %w", command, lastLines(stdout.String(), 3), err)
	}
	return &r, nil
}

// lastLines returns the last n lines of s, for error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
