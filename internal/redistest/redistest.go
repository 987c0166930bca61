// Package redistest runs a private redis-server for tests: on a free loopback port, without
// persistence, stopped when the test ends. Tests that need Redis start their own, so they
// never touch a Redis the machine may be running, and a test can restart it to prove that
// its clients recover.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
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

// Binary is the redis-server executable; Debian's package redis-server installs it.
const Binary = testenv.RedisBinary

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 20 * time.Second

// Server is a running redis-server.
type Server struct {
	t    testing.TB
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs a redis-server on a free loopback port and stops it when the test ends. Without
// redis-server on PATH the test skips, or fails under TETHER_INTEGRATION=1 (testenv.RequireRedis).
func Start(t testing.TB) *Server {
	t.Helper()
	testenv.RequireRedis(t)
	s := &Server{t: t, port: freePort(t)}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns the server's redis:// URL, database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Stop kills the server, dropping every client connection at once (as a crash would), and
// waits for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL) // a paused process dies of it too
	select {
	case <-s.done:
	case <-time.After(startTimeout):
		s.t.Errorf("redistest: redis-server on %s did not exit", s.Addr())
	}
	s.cmd = nil
}

// Pause stops the server's process (SIGSTOP) without closing anything: clients stay
// connected, the kernel still accepts their connections and buffers what they send, and
// nothing is answered until Continue, when Redis runs all of it. This is a Redis stalled by a
// long fork, a swapped-out host or a network black hole, as opposed to one that went away.
func (s *Server) Pause() { s.signal(sigStop) }

// Continue resumes a paused server.
func (s *Server) Continue() { s.signal(sigCont) }

func (s *Server) signal(sig os.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("redistest: %v to a stopped redis-server", sig)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: %v: %v", sig, err)
	}
}

// Restart stops the server and starts a new one on the same port, with no data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

func (s *Server) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(Binary,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--loglevel", "notice", "--dir", s.t.TempDir())
	ownProcessGroup(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: starting %s: %v", Binary, err)
	}
	done := make(chan struct{})
	ready := make(chan struct{})
	var log strings.Builder
	var logMu sync.Mutex
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			logMu.Lock()
			if log.Len() < 64<<10 {
				log.WriteString(sc.Text() + "\n")
			}
			logMu.Unlock()
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
	}()
	select {
	case <-ready:
	case <-done:
		logMu.Lock()
		defer logMu.Unlock()
		s.t.Fatalf("redistest: redis-server exited before it was ready:\n%s", log.String())
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-done
		s.t.Fatalf("redistest: redis-server not ready within %v", startTimeout)
	}
	s.cmd, s.done = cmd, done
}

// freePort asks the kernel for a free loopback port. Another process could take it before
// redis-server binds it; on this test machine nothing else allocates ports that fast.
func freePort(t testing.TB) int {
	t.Helper()
	var lc net.ListenConfig
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// String describes the server for test logs.
func (s *Server) String() string { return fmt.Sprintf("redis-server %s", s.Addr()) }
