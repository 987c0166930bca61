//go:build !linux

package netpoll

import "syscall"

// Poller is unavailable on this platform; see New.
type Poller struct{}

// Registration is unavailable on this platform.
type Registration struct{}

// New returns ErrUnsupported: this platform has no epoll.
func New() (*Poller, error) { return nil, ErrUnsupported }

// Register returns ErrUnsupported.
func (*Poller) Register(syscall.RawConn, func(*Registration)) (*Registration, error) {
	return nil, ErrUnsupported
}

// Close does nothing.
func (*Poller) Close() error { return nil }

// Rearm returns ErrUnsupported.
func (*Registration) Rearm() error { return ErrUnsupported }

// Close does nothing.
func (*Registration) Close() error { return nil }
