package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tether-rt/tether/internal/testenv"
	"github.com/tether-rt/tether/websocket"
)

func TestMain(m *testing.M) {
	// The bench tests start this test binary as their load-generator workers.
	if os.Getenv(benchWorkerEnv) == "1" {
		os.Exit(run(context.Background(), []string{"bench", "--worker"}, os.Stdin, os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

// runCase is one command line and what run must answer to it.
type runCase struct {
	args       []string
	code       int
	wantStdout string // contained in the output
	wantStderr string // contained in the error output
}

// checkRuns runs each command line in-process and checks its exit status and output.
func checkRuns(t *testing.T, cases []runCase) {
	t.Helper()
	for _, tt := range cases {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tt.args, nil, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
			t.Errorf("%q: code %d, stdout %q, stderr %q", tt.args, code, stdout.String(), stderr.String())
		}
	}
}

func TestRunDispatch(t *testing.T) {
	tests := []runCase{
		{nil, 2, "", "Commands:"}, // no command: the usage, on stderr, and a usage error
		{[]string{"help"}, 0, "connect", ""},
		{[]string{"-h"}, 0, "echo", ""},
		{[]string{"help", "connect"}, 0, "Usage: tether connect", ""},
		{[]string{"help", "nope"}, 2, "", "unknown command"},
		{[]string{"nope"}, 2, "", `unknown command "nope"`},
	}
	checkRuns(t, tests)
}

// buildTether builds the binary once per test that needs it.
func buildTether(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tether")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startProcess starts cmd in its own process group, killed at cleanup.
func startProcess(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
}

// TestBinarySignal runs the built binary: it must print the listening
// line, serve, and on SIGINT close connections with 1001 and exit 0.
func TestBinarySignal(t *testing.T) {
	bin := buildTether(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, url, stderr := startServerBinary(t, bin, "tether echo: listening on ", "echo", "--addr", "127.0.0.1:0")
			c := dial(t, url, nil)
			if _, reply := roundTrip(t, c, websocket.MessageText, []byte("ping?")); string(reply) != "Echo: ping?" {
				t.Fatalf("reply = %q", reply)
			}

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			_, _, err := c.Read(testCtx(t))
			if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
				t.Errorf("after %v: read error %v, want close 1001", sig, err)
			}
			waitExit0(t, cmd, stderr)
		})
	}
}

// startServerBinary runs the built binary with args, waits for its listening line, and returns
// the process, what follows prefix on that line, and the process's stderr.
func startServerBinary(t *testing.T, bin, prefix string, args ...string) (*exec.Cmd, string, *testenv.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr := &testenv.Buffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	startProcess(t, cmd)
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatal("no listening line within 30s")
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix)
	if !ok {
		t.Fatalf("first line = %q, want %q followed by the address", line, prefix)
	}
	return cmd, rest, stderr
}

// waitExit0 waits, bounded, for the process to end and fails unless it exited with status 0.
func waitExit0(t *testing.T, cmd *exec.Cmd, stderr *testenv.Buffer) {
	t.Helper()
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("exit: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("process did not exit within 30s of the signal")
	}
}

// TestBinaryConnectSend runs the README's example against the binary.
func TestBinaryConnectSend(t *testing.T) {
	bin := buildTether(t)
	addr := startEcho(t, echoConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "connect", "ws://"+addr, "--send", "Hello, Server!")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tether connect: %v", err)
	}
	if string(out) != "Echo: Hello, Server!\n" {
		t.Fatalf("output = %q", out)
	}
}
