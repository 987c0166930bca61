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

// ensurePeers checks Node and Python peers can run. A missing node_modules is
// installed from the committed lock file; a missing Debian package is an
// error, since installing it needs apt and root.
func ensurePeers() error {
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("node not found on PATH: install Node.js 20 and npm")
	}
	if _, err := os.Stat("node/node_modules/ws/package.json"); errors.Is(err, fs.ErrNotExist) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := command(ctx, []string{"npm", "ci", "--no-audit", "--no-fund"})
		cmd.Dir = "node"
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("npm ci in internal/interop/node failed (%v); run make deps:\n%s", err, out)
		}
	} else if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := command(ctx, []string{pythonPath, "-c", "import websockets"}).CombinedOutput(); err != nil {
		return fmt.Errorf("python3-websockets missing: run make deps (%v: %s)", err, out)
	}
	return nil
}
