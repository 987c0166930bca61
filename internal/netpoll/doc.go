// Package netpoll tells when idle sockets have bytes to read without a goroutine parked on
// each: one epoll instance for many sockets and one goroutine waiting on it, which runs the
// handler of a socket that became readable. Handlers must not block: websocket.Poller's
// starts a goroutine that reads the connection and ends when nothing more is there.
//
// Registrations are one-shot: after a socket's handler has run, the socket is not watched
// again until Rearm, so a handler never runs twice at once for the same socket, and the
// caller reads at its own pace (the edge the runtime's poller would need is not lost:
// re-arming a socket that has unread bytes reports it at once).
//
// It uses only the standard library's syscall package, like the protocol packages that use
// it. Where epoll is missing, New returns ErrUnsupported and callers keep a goroutine
// per connection.
package netpoll

import "errors"

// ErrUnsupported is returned by New where the platform has no epoll.
var ErrUnsupported = errors.New("netpoll: not supported on this platform")

// ErrClosed is returned by the methods of a closed Poller or Registration.
var ErrClosed = errors.New("netpoll: closed")
