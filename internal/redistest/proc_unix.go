//go:build unix

package redistest

import (
	"os/exec"
	"syscall"
)

const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)

// ownProcessGroup puts the server in a process group of its own, so that a signal to the
// test's group (a terminal's Ctrl-C) does not stop Redis before the test can.
func ownProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }
