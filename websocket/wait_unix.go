//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package websocket

import (
	"io"
	"net"
	"os"
	"syscall"
)

// readWaiter waits for a socket to become readable without holding a buffer: the buffer is
// taken from the pool inside the readiness callback, given back if nothing is there yet, and
// kept, filled by that same read, once bytes have arrived.
type readWaiter struct {
	nc    net.Conn
	raw   syscall.RawConn
	got   *readBuffer
	err   error
	fn    func(fd uintptr) bool // bound once: a method value made per wait would allocate
	tryFn func(fd uintptr) bool // the same, never waiting
}

func newReadWaiter(nc net.Conn) *readWaiter {
	raw := rawConnOf(nc)
	if raw == nil {
		return nil
	}
	w := &readWaiter{nc: nc, raw: raw}
	w.fn = w.ready
	w.tryFn = func(fd uintptr) bool {
		w.ready(fd)
		return true
	}
	return w
}

// ready tries one read. It must try, not only wait: the runtime's poller reports edges, so data
// that arrived before the wait began would otherwise go unnoticed.
func (w *readWaiter) ready(fd uintptr) bool {
	b := getReadBuffer(w.nc)
	for {
		n, err := syscall.Read(int(fd), b.buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
			putReadBuffer(b)
			return false
		case err != nil:
			putReadBuffer(b)
			w.err = &net.OpError{Op: "read", Net: "tcp", Source: w.nc.LocalAddr(), Addr: w.nc.RemoteAddr(),
				Err: os.NewSyscallError("read", err)}
		case n == 0:
			putReadBuffer(b)
			w.err = io.EOF
		default:
			b.w = n
			w.got = b
		}
		return true
	}
}

// wait returns a buffer holding the bytes that arrived, or the error that ended the wait (the
// deadline's, the closed socket's, or the read's).
func (w *readWaiter) wait() (*readBuffer, error) {
	w.got, w.err = nil, nil
	if err := w.raw.Read(w.fn); err != nil {
		return nil, err
	}
	return w.got, w.err
}

// try returns a buffer holding the bytes that have arrived, nil when none has, or the error
// that the read met; it never waits.
func (w *readWaiter) try() (*readBuffer, error) {
	w.got, w.err = nil, nil
	if err := w.raw.Read(w.tryFn); err != nil {
		return nil, err
	}
	return w.got, w.err
}
