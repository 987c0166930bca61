//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package websocket

import (
	"net"
	"os"
	"syscall"
	"testing"
)

// blockingConn is a net.Conn whose syscall.Conn is a socket left in blocking mode, as a
// user's own net.Conn may be.
type blockingConn struct {
	net.Conn
	f *os.File
}

func (c blockingConn) SyscallConn() (syscall.RawConn, error) { return c.f.SyscallConn() }

// TestSocketWriterNeedsANonBlockingSocket checks that the raw write, which the scheduler
// does not see, is used only on a socket that cannot block: a TCP connection gets a
// socketWriter, a blocking socket none (its writes then go through the net.Conn).
func TestSocketWriterNeedsANonBlockingSocket(t *testing.T) {
	_, tcp := tcpPair(t)
	if newSocketWriter(tcp) == nil {
		t.Error("a TCP connection gets no socketWriter")
	}

	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "blocking")
	defer f.Close()
	defer syscall.Close(fds[1])
	if newSocketWriter(blockingConn{f: f}) != nil {
		t.Error("a blocking socket gets a socketWriter")
	}
}
