//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package websocket

import (
	"net"
	"syscall"
	"unsafe"
)

// socketWriter makes one write(2) straight to a socket, never waiting for room in its
// send buffer. It is used under the Conn's frame lock, which also guards its fields and
// keeps every other write of the connection out meanwhile.
//
// The write runs inside RawConn.Control, not RawConn.Write: Control holds a reference on
// the descriptor, so it cannot be closed (and its number reused) during the call, which is
// all a write that never waits needs. Write would also arm the runtime poller for a wait
// that never comes, and that poller state is one more cache line per recipient: in a
// broadcast to 10,000 connections, each such line is a cache miss, and reading it cost
// about 4% of the server's CPU.
//
// The call is a raw system call (syscall.RawSyscall), which the Go scheduler does not see:
// a write to a non-blocking socket returns at once, full buffer or not, so there is
// nothing for the scheduler to do meanwhile, and telling it (entering and leaving a
// system call, and the monitor thread watching for long ones, which a broadcast's stream
// of writes keeps waking) cost about 8% of the bare writes in bench/cmd/writefloor. That
// needs the socket in non-blocking mode, as every socket of the net package is; a
// connection whose descriptor is not gets no socketWriter, and its writes go through the
// net.Conn. Under the race detector it is syscall.Write instead (see nowait_race.go).
type socketWriter struct {
	raw syscall.RawConn
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) // bound once: a closure made per write would allocate
}

func newSocketWriter(nc net.Conn) *socketWriter {
	raw := rawConnOf(nc)
	if raw == nil {
		return nil
	}
	nonblocking := false
	err := raw.Control(func(fd uintptr) {
		flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		nonblocking = errno == 0 && flags&syscall.O_NONBLOCK != 0
	})
	if err != nil || !nonblocking {
		return nil
	}
	w := &socketWriter{raw: raw}
	w.fn = w.write
	return w
}

func (w *socketWriter) write(fd uintptr) {
	for {
		if raceEnabled {
			w.n, w.err = syscall.Write(int(fd), w.b)
			if w.err == syscall.EINTR {
				continue
			}
			return
		}
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(w.b))), uintptr(len(w.b)))
		if errno == syscall.EINTR {
			continue
		}
		w.n, w.err = int(n), nil
		if errno != 0 {
			w.n, w.err = 0, errno
		}
		return // done either way: never wait for the socket to become writable
	}
}

// writeNow writes what fits of b at once and returns how much that was; 0 with a nil
// error means the send buffer is full.
func (w *socketWriter) writeNow(b []byte) (int, error) {
	w.b = b
	defer func() { w.b = nil }()
	if err := w.raw.Control(w.fn); err != nil {
		return 0, err
	}
	if w.err == syscall.EAGAIN || w.err == syscall.EWOULDBLOCK {
		return 0, nil
	}
	return max(w.n, 0), w.err
}
