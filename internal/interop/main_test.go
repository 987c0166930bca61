package interop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain installs what the peers need (or says which command does) before
// any test runs, and fails the package if a test leaks a goroutine.
func TestMain(m *testing.M) {
	if err := ensurePeers(); err != nil {
		fmt.Fprintf(os.Stderr, "interop: %v\n", err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}

// ensurePeers checks Node, Python and Chromium peers can run. A missing
// node_modules is installed from the committed lock file; a missing Debian
// package is an error, since installing it needs apt and root.
func ensurePeers() error {
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("node not found on PATH: install Node.js 20 and npm")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		return fmt.Errorf("chromium missing: run make deps, which installs Debian's chromium (%v)", err)
	}
	if stale, err := nodeModulesStale(); err != nil {
		return err
	} else if stale {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := command(ctx, []string{"npm", "ci", "--no-audit", "--no-fund"})
		cmd.Dir = "node"
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("npm ci in internal/interop/node failed (%v); run make deps:\n%s", err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check := "import websockets, engineio, websocket, requests"
	if out, err := command(ctx, []string{pythonPath, "-c", check}).CombinedOutput(); err != nil {
		return fmt.Errorf("Debian python3 packages missing (python3-websockets python3-engineio python3-websocket python3-requests): run make deps (%v: %s)", err, out)
	}
	return nil
}

// nodeModulesStale reports whether node_modules is missing or older than the lock file, as
// after a pull that added a package.
func nodeModulesStale() (bool, error) {
	lock, err := os.Stat("node/package-lock.json")
	if err != nil {
		return false, err
	}
	installed, err := os.Stat("node/node_modules/.package-lock.json")
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return lock.ModTime().After(installed.ModTime()), nil
}
