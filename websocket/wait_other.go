//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package websocket

import "net"

// readWaiter is unavailable here: connections take their read buffer before reading.
type readWaiter struct{}

func newReadWaiter(net.Conn) *readWaiter { return nil }

func (*readWaiter) wait() (*readBuffer, error) { return nil, nil }

func (*readWaiter) try() (*readBuffer, error) { return nil, nil }
