//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package websocket

import (
	"net"
	"syscall"
)

// readWaiter blocks until a socket has data (or an error or EOF) without reading it, so that a
// connection waiting for its next message needs no read buffer: the buffer is taken from the
// pool only once bytes have arrived.
type readWaiter struct {
	raw  syscall.RawConn
	peek [1]byte
	fn   func(fd uintptr) bool // bound once: a method value made per call would allocate
}

func newReadWaiter(nc net.Conn) *readWaiter {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil // e.g. TLS: bytes must go through the TLS layer
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &readWaiter{raw: raw}
	w.fn = w.ready
	return w
}

// ready peeks at the socket. It must try a read, not only wait: the runtime's poller reports
// edges, so data that arrived before the wait began would otherwise go unnoticed.
func (w *readWaiter) ready(fd uintptr) bool {
	_, _, err := syscall.Recvfrom(int(fd), w.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
}

// wait returns once the socket is readable, or with the deadline's or the closed socket's error.
func (w *readWaiter) wait() error { return w.raw.Read(w.fn) }
