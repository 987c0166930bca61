package interop

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaks a goroutine. It installs nothing:
// each test checks the peers it needs with the testenv helpers (requireNode,
// requireSIOPython, …), which skip it, or fail it under TETHER_INTEGRATION=1,
// naming what is missing and "make deps", which installs it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
