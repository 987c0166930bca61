// Package testenv holds what the tests of every package share about their environment: what
// a test does when a tool beyond Go is missing, and a server on a free loopback port (Serve,
// Listen) with a buffer safe to read while it writes (Buffer).
//
// # Missing tools
//
// The tools are Node (and the npm packages of a folder), Debian's Python modules, Debian's
// Chromium and redis-server.
//
// By default such a test skips with one line naming the tool and the make target that
// installs it, so that "go test ./..." passes on a machine with only Go. With
// TETHER_INTEGRATION=1 (which "make test", and so CI, sets) the same line fails the test
// instead, so that a CI machine missing a peer cannot pass by skipping.
//
// The checks never install anything: installing needs the network, npm, apt or root, which
// "make deps" does once, outside "go test".
package testenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// IntegrationEnv names the environment variable that turns a missing tool into a failure.
const IntegrationEnv = "TETHER_INTEGRATION"

// ChromiumEnv names the environment variable that overrides DefaultChromium.
const ChromiumEnv = "TETHER_CHROMIUM"

// PythonEnv names the environment variable that overrides DefaultPython.
const PythonEnv = "TETHER_PYTHON"

// DefaultChromium is Debian's Chromium, which "make deps" installs.
const DefaultChromium = "/usr/bin/chromium"

// DefaultPython is Debian's interpreter: a python3 found first on PATH may be a virtual
// environment without Debian's python3-* packages, which the peers are written against.
const DefaultPython = "/usr/bin/python3"

// RedisBinary is the redis-server executable looked up on PATH.
const RedisBinary = "redis-server"

// installTarget is the make target that installs every peer it can.
const installTarget = "make deps"

// Integration reports whether TETHER_INTEGRATION=1, where a missing tool fails the test.
func Integration() bool { return os.Getenv(IntegrationEnv) == "1" }

// Missing skips t with the one-line message, or fails it under TETHER_INTEGRATION=1.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "missing tool: " + fmt.Sprintf(format, args...)
	if Integration() {
		t.Fatal(msg + " (" + IntegrationEnv + "=1)")
	}
	t.Skip(msg + " (" + IntegrationEnv + "=1 makes this a failure)")
}

// RequireNode returns the path of node on PATH, after checking that each of moduleDirs (folders
// with a package-lock.json) has its node_modules installed and not older than its lock file.
// A stale node_modules counts as missing: the test would run against other versions than the
// ones committed.
func RequireNode(t testing.TB, moduleDirs ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		Missing(t, "node is not on PATH: install Node.js 20 or later with npm, then run %s", installTarget)
	}
	for _, dir := range moduleDirs {
		if problem := nodeModulesProblem(dir); problem != "" {
			Missing(t, "npm packages in %s are %s: run %s (npm ci in that folder)", dir, problem, installTarget)
		}
	}
	return node
}

// nodeModulesProblem says what is wrong with dir's node_modules, or "" when it is installed
// from the current lock file. npm writes node_modules/.package-lock.json on every install.
func nodeModulesProblem(dir string) string {
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "not installed"
	case err != nil:
		return fmt.Sprintf("unreadable (%v)", err)
	case lock.ModTime().After(installed.ModTime()):
		return "older than package-lock.json"
	}
	return ""
}

// Python returns the interpreter the Python peers run under: $TETHER_PYTHON, or DefaultPython.
func Python() string {
	if p := os.Getenv(PythonEnv); p != "" {
		return p
	}
	return DefaultPython
}

// RequirePython returns Python(), after checking that it runs and imports every one of modules
// (Debian packages them as python3-<module>).
func RequirePython(t testing.TB, modules ...string) string {
	t.Helper()
	py := Python()
	if _, err := os.Stat(py); err != nil {
		Missing(t, "python3 is not at %s (set %s to another interpreter): run %s", py, PythonEnv, installTarget)
	}
	if len(modules) == 0 {
		return py
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput()
	if err != nil {
		pkgs := make([]string, len(modules))
		for i, m := range modules {
			pkgs[i] = "python3-" + m
		}
		Missing(t, "%s cannot import %s (%s: %s): run %s, which installs Debian's %s",
			py, strings.Join(modules, ", "), err, lastLine(out), installTarget, strings.Join(pkgs, " "))
	}
	return py
}

// lastLine returns the last non-empty line of out, where Python puts the ImportError.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Chromium returns the browser the browser tests drive: $TETHER_CHROMIUM, or DefaultChromium.
func Chromium() string {
	if p := os.Getenv(ChromiumEnv); p != "" {
		return p
	}
	return DefaultChromium
}

// RequireChromium returns Chromium(), after checking that it exists.
func RequireChromium(t testing.TB) string {
	t.Helper()
	c := Chromium()
	if _, err := os.Stat(c); err != nil {
		Missing(t, "chromium is not at %s (set %s to another binary): run %s, which installs Debian's chromium",
			c, ChromiumEnv, installTarget)
	}
	return c
}

// RequireRedis returns the path of redis-server on PATH.
func RequireRedis(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath(RedisBinary)
	if err != nil {
		Missing(t, "%s is not on PATH: run %s, which installs Debian's redis-server", RedisBinary, installTarget)
	}
	return p
}
