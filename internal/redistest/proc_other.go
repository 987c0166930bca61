//go:build !unix

package redistest

import (
	"os"
	"os/exec"
)

// Without SIGSTOP and SIGCONT, Pause and Continue fail the test that calls them.
var (
	sigStop os.Signal = unsupportedSignal("SIGSTOP")
	sigCont os.Signal = unsupportedSignal("SIGCONT")
)

type unsupportedSignal string

func (s unsupportedSignal) String() string { return string(s) }
func (unsupportedSignal) Signal()          {}

func ownProcessGroup(*exec.Cmd) {}
