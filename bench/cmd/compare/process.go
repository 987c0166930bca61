package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// binaries are the two programs every scenario runs, built once per run.
type binaries struct{ server, load string }

// build compiles echoserver and wsload from the bench module that contains
// the current directory into dir.
func build(dir string) (binaries, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	path, root, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if err != nil || path != "github.com/tether-rt/tether/bench" {
		return binaries{}, errors.New("run compare from the bench/ directory (the github.com/tether-rt/tether/bench module)")
	}
	b := binaries{server: filepath.Join(dir, "echoserver"), load: filepath.Join(dir, "wsload")}
	for pkg, bin := range map[string]string{"./cmd/echoserver": b.server, "./cmd/wsload": b.load} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return binaries{}, fmt.Errorf("go build %s: %w", pkg, err)
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

// kill kills cmd's process group and reaps it.
func kill(cmd *exec.Cmd) {
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = cmd.Wait()
	children.Lock()
	delete(children.pids, pid)
	children.Unlock()
}

func killChildren() {
	children.Lock()
	defer children.Unlock()
	for pid := range children.pids {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// server is a running echoserver.
type server struct {
	cmd  *exec.Cmd
	pid  int
	addr string
}

func startServer(bin, impl string) (*server, error) {
	cmd := exec.Command(bin, "-impl", impl, "-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := start(cmd); err != nil {
		return nil, err
	}
	line, err := readLine(stdout, 10*time.Second)
	addr, ok := strings.CutPrefix(line, "listening on ")
	if err != nil || !ok {
		kill(cmd)
		return nil, fmt.Errorf("echoserver -impl %s did not start (%q, %v)", impl, line, err)
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

// readLine reads one line from r within d. On timeout the reading goroutine
// ends when the caller kills the writing process.
func readLine(r io.Reader, d time.Duration) (string, error) {
	type result struct {
		line string
		err  error
	}
	c := make(chan result, 1)
	br := bufio.NewReader(r)
	go func() {
		line, err := br.ReadString('\n')
		c <- result{strings.TrimSpace(line), err}
	}()
	select {
	case res := <-c:
		return res.line, res.err
	case <-time.After(d):
		return "", fmt.Errorf("no output within %s", d)
	}
}

// runLoad runs wsload to completion within d and returns its stdout.
func runLoad(bin string, d time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out strings.Builder
	cmd.Stdout = &out
	if err := start(cmd); err != nil {
		return nil, err
	}
	err := cmd.Wait()
	children.Lock()
	delete(children.pids, cmd.Process.Pid)
	children.Unlock()
	if err != nil {
		return nil, fmt.Errorf("wsload %s: %w", strings.Join(args, " "), err)
	}
	return []byte(out.String()), nil
}
