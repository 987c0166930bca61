//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package websocket

import "net"

// readWaiter is unavailable here: connections take their read buffer at once.
type readWaiter struct{}

func newReadWaiter(net.Conn) *readWaiter { return nil }

func (*readWaiter) wait() error { return nil }
