package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/testenv"
)

// repoRoot is the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if !isTetherRoot(root) {
		t.Fatalf("%s is not the repository root", root)
	}
	return root
}

// TestMakeRun runs "make run" as README says, with the Ctrl-C of a terminal: SIGINT to the
// whole foreground process group. The server must exit cleanly and make must not report an
// error (it used to wrap "go run", whose exit status 1 on a signal make reported as
// "make: *** [run] Error 1").
func TestMakeRun(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		testenv.Missing(t, "make is not on PATH: install Debian's make")
	}
	bin := filepath.Join(t.TempDir(), "tether")
	// RUN_DEPS= skips web-deps: no npm inside go test; the page works without the bundle.
	cmd := exec.Command("make", "--no-print-directory", "-C", repoRoot(t), "run",
		"RUN_DEPS=", "RUN_ADDR=127.0.0.1:0", "TETHER_BIN="+bin)
	out := &testenv.Buffer{}
	cmd.Stderr = out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	startProcess(t, cmd)
	listening := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			if !found && strings.HasPrefix(sc.Text(), "tether serve: listening on http://127.0.0.1:") {
				found = true
				listening <- true
			}
		}
		if !found {
			listening <- false
		}
	}()
	select {
	case ok := <-listening:
		if !ok {
			t.Fatalf("make run ended without the listening line:\n%s", out.String())
		}
	case <-time.After(3 * time.Minute): // the build, on a busy machine
		t.Fatalf("no listening line within 3 minutes:\n%s", out.String())
	}
	if _, err := os.Stat(bin); err != nil {
		t.Errorf("make run did not build the binary it runs: %v", err)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err = <-waitErr:
	case <-time.After(30 * time.Second):
		t.Fatalf("make run still running 30s after SIGINT:\n%s", out.String())
	}
	// make dies of the SIGINT it got as well (exit status 130 in a shell, which prints
	// nothing); what it must not do is report the recipe as failed.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT) {
		t.Errorf("make run ended with %v, want exit 0 or death by SIGINT", err)
	}
	if strings.Contains(out.String(), "***") {
		t.Errorf("make reported an error on Ctrl-C:\n%s", out.String())
	}
}

// TestNoArguments runs the binary without a command: the usage on stderr, exit status 2.
func TestNoArguments(t *testing.T) {
	cmd := exec.Command(buildTether(t))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("exit: %v, want status 2", err)
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "Usage:") || !strings.Contains(stderr.String(), "serve") {
		t.Errorf("stdout %q, stderr %q; want the usage on stderr only", stdout.String(), stderr.String())
	}
}

// fakeClone makes a folder that counts as a Tether clone, with the bundle installed when
// installed is set, and returns it.
func fakeClone(t *testing.T, installed bool) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module "+modulePath+"\n\ngo 1.26.0\n")
	write("cmd/tether/clientdir.go", "package main\n")
	if installed {
		write(filepath.Join(defaultClientDir, clientBundle), "/* bundle */")
	}
	return root
}

func TestBundleSearch(t *testing.T) {
	t.Parallel()
	clone := fakeClone(t, true)
	bundle := filepath.Join(clone, defaultClientDir)
	empty := fakeClone(t, false)
	elsewhere := t.TempDir()
	// A folder with a go.mod of another module is no clone.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		s    bundleSearch
		want string
	}{
		{"from the clone's root", bundleSearch{wd: clone}, bundle},
		{"from a folder inside the clone", bundleSearch{wd: filepath.Join(clone, "cmd", "tether")}, bundle},
		{"installed binary started elsewhere, built in the clone",
			bundleSearch{wd: elsewhere, source: filepath.Join(clone, "cmd", "tether", "clientdir.go"), exe: filepath.Join(elsewhere, "tether")}, bundle},
		{"binary in the clone, started elsewhere", bundleSearch{wd: elsewhere, exe: filepath.Join(clone, "bin", "tether")}, bundle},
		{"trimmed source path is ignored", bundleSearch{wd: elsewhere, source: modulePath + "/cmd/tether/clientdir.go"}, ""},
		{"another module's go.mod", bundleSearch{wd: other, source: filepath.Join(other, "cmd", "tether", "clientdir.go")}, ""},
		{"clone without the bundle", bundleSearch{wd: empty}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, searched := tt.s.find()
			if got != tt.want {
				t.Errorf("find() = %q, want %q (searched %q)", got, tt.want, searched)
			}
			if len(searched) == 0 || searched[0] != filepath.Join(tt.s.wd, defaultClientDir) {
				t.Errorf("searched %q, want the working directory's %s first", searched, defaultClientDir)
			}
		})
	}
}

// TestBinaryServeElsewhere starts the built binary, without --client-dir, in a folder that is
// no clone: it finds the bundle of the clone it was built from, or says exactly what to pass.
func TestBinaryServeElsewhere(t *testing.T) {
	bin := buildTether(t)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Dir = t.TempDir()
	stderr := &testenv.Buffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	startProcess(t, cmd)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listening line: %v; stderr: %s", err, stderr.String())
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "tether serve: listening on ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	// The binary was built from this clone, whose bundle "make deps" may or may not have installed.
	installed := fileExists(filepath.Join(repoRoot(t), defaultClientDir, clientBundle))
	resp, _ := get(t, url+"/socket.io/"+clientBundle)
	if installed && resp.StatusCode != 200 {
		t.Errorf("GET the bundle: HTTP %d, want 200 from %s; stderr: %s", resp.StatusCode, repoRoot(t), stderr.String())
	}
	if !installed {
		want := "pass --client-dir with the folder holding " + clientBundle
		if got := stderr.String(); !strings.Contains(got, want) || !strings.Contains(got, filepath.Join(repoRoot(t), defaultClientDir)) {
			t.Errorf("stderr %q, want it to name the clone's folder it looked in and say %q", got, want)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, stdout)
	waitExit0(t, cmd, stderr)
}

// TestConnectSIOErrorFirstLine: a failed Socket.IO connect says why in one plain sentence,
// with the error chain after it, on its own line.
func TestConnectSIOErrorFirstLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, transport := range []string{"polling", "websocket"} {
		code, _, stderr := runCmd(t, nil, "connect", closed, "--emit", "x", "--transport", transport)
		first, rest, _ := strings.Cut(stderr, "\n")
		want := "tether connect: cannot connect to the Socket.IO server at " + closed + ": nothing is listening on that port (connection refused)."
		if code != 1 || first != want || !strings.HasPrefix(rest, "  details: ") || !strings.Contains(rest, "connection refused") {
			t.Errorf("over %s: code %d, stderr %q; want 1, first line %q, then the details", transport, code, stderr, want)
		}
	}
}

func TestConnectCause(t *testing.T) {
	t.Parallel()
	opts := sioOptions{url: "http://example.test", timeout: time.Second}
	for _, tt := range []struct {
		err  error
		want string // the first line
	}{
		{fmt.Errorf("engineio: handshake: %w", &net.DNSError{Name: "example.test", Err: "no such host", IsNotFound: true}),
			`cannot connect to the Socket.IO server at http://example.test: the host name "example.test" does not resolve.`},
		{fmt.Errorf("engineio: handshake: %w", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}),
			"cannot connect to the Socket.IO server at http://example.test: the server does not speak TLS (try http:// instead of https://)."},
		{fmt.Errorf("engineio: handshake: %w", io.ErrUnexpectedEOF),
			"cannot connect to the Socket.IO server at http://example.test: the server closed the connection during the handshake."},
		{errors.New("something new"),
			"cannot connect to the Socket.IO server at http://example.test: the connection failed."},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded),
			"cannot connect to the Socket.IO server at http://example.test: no answer within 1s."},
	} {
		got := sioErrorText(opts, tt.err)
		first, details, hasDetails := strings.Cut(got, "\n")
		if first != tt.want {
			t.Errorf("%v: first line %q, want %q", tt.err, first, tt.want)
		}
		if hasDetails && !strings.Contains(details, tt.err.Error()) {
			t.Errorf("%v: details %q, want the whole chain", tt.err, details)
		}
	}
}
