//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package websocket

import "net"

// socketWriter is unavailable here: TryWritePrepared always leaves the write to WritePrepared.
type socketWriter struct{}

func newSocketWriter(net.Conn) *socketWriter { return nil }

func (*socketWriter) writeNow([]byte) (int, error) { return 0, nil }

func (*socketWriter) retire() {}

func (*socketWriter) hold() bool { return false }

func (*socketWriter) release() {}

func (*socketWriter) writeHeld([]byte) (int, error) { return 0, nil }
