//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package websocket

import (
	"net"
	"sync"
	"syscall"
	"unsafe"
)

// socketWriter makes one write(2) straight to a socket, never waiting for room in its
// send buffer. Writes through it are serialized by the Conn's frame lock.
//
// It keeps the socket's descriptor number rather than going through RawConn.Control on
// each write. In a broadcast to 10,000 connections every per-connection object the write
// path touches is a cache miss, and Control's path (the rawConn, the netFD, its poll.FD
// reference count, a closure call) cost about 7% of the server's CPU in perf: more than the
// rest of the websocket package's share of a delivery.
//
// A descriptor number kept outside the net package is only safe while the descriptor is
// open: once closed, the number can be reused by the next accepted connection, and a write
// would land there. mu and fd guard against that. The Conn retires its socketWriter (retire
// sets fd to -1 under mu) before it closes the net.Conn, and a write holds mu across the
// system call, so no write can start after the retirement nor still run when the close
// comes; the Conn is the only one to close its net.Conn after Accept. A write never waits
// (the socket is non-blocking), so retire waits at most for one system call.
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
	mu sync.Mutex
	fd int // -1 once retired
}

// newSocketWriter returns a writer for nc's socket, or nil when nc has none usable: not a
// socket, closed, or in blocking mode. The descriptor is read inside RawConn.Control,
// which keeps it open meanwhile; the caller must publish the writer where the Conn's close
// will retire it before nc can be closed (see Conn.socketWriter).
func newSocketWriter(nc net.Conn) *socketWriter {
	raw := rawConnOf(nc)
	if raw == nil {
		return nil
	}
	fd := -1
	err := raw.Control(func(d uintptr) {
		flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, d, syscall.F_GETFL, 0)
		if errno == 0 && flags&syscall.O_NONBLOCK != 0 {
			fd = int(d)
		}
	})
	if err != nil || fd < 0 {
		return nil
	}
	return &socketWriter{fd: fd}
}

// writeNow writes what fits of b at once and returns how much that was; 0 with a nil
// error means the send buffer is full. After retire it writes nothing and returns
// net.ErrClosed.
func (w *socketWriter) writeNow(b []byte) (int, error) {
	if !w.hold() {
		return 0, net.ErrClosed
	}
	defer w.release()
	return w.writeHeld(b)
}

// hold keeps the descriptor from being retired until release, and reports false (holding
// nothing) if it already was. A PreparedBatch holds it from Reserve to the write, so that
// the write loop touches no cold memory of its own; retire then waits for the batch's
// writes, which never wait.
func (w *socketWriter) hold() bool {
	w.mu.Lock()
	if w.fd < 0 {
		w.mu.Unlock()
		return false
	}
	return true
}

func (w *socketWriter) release() { w.mu.Unlock() }

// writeHeld is writeNow between hold and release.
func (w *socketWriter) writeHeld(b []byte) (int, error) {
	for {
		var n int
		var err error
		if raceEnabled {
			n, err = syscall.Write(w.fd, b)
		} else {
			r, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(w.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
			n = int(r)
			if errno != 0 {
				n, err = 0, errno
			}
		}
		switch err {
		case nil:
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN: // EWOULDBLOCK is the same number wherever this file builds
			return 0, nil // never wait for the socket to become writable
		}
		return 0, err
	}
}

// retire makes every later writeNow fail, after the one under way, if any, has returned:
// from then on the descriptor may be closed.
func (w *socketWriter) retire() {
	w.mu.Lock()
	w.fd = -1
	w.mu.Unlock()
}
