package socketio

import (
	"time"

	"github.com/tether-rt/tether/engineio"
)

// Observer is told what a Server does, for metrics: sockets connecting and leaving, events in
// and out, broadcasts and acknowledgements. Its methods are called on the server's own
// goroutines, sometimes with a socket's lock held, so they must return at once and must not
// call back into the server: count, and leave the rest to whoever reads the counts.
//
// Set it as ServerOptions.Observer. An Observer that also implements engineio.Observer is
// given to the Engine.IO server too (sessions, transports, upgrades, bytes, slow clients). A
// nil Observer (the default) costs one comparison per call site and nothing else. Package
// metrics/prometheus has one.
type Observer interface {
	// SocketConnected is called when a socket joins namespace nsp (its middleware let it in,
	// or its restoration completed).
	SocketConnected(nsp string)
	// SocketDisconnected is called once for each socket SocketConnected was called for,
	// when it leaves, with the reason.
	SocketDisconnected(nsp string, reason DisconnectReason)
	// ConnectRefused is called when a middleware of nsp refuses a socket.
	ConnectRefused(nsp string)
	// EventReceived is called for each event a client sends, before its handlers run.
	EventReceived(nsp, event string)
	// EventSent is called for each event sent to a socket (once per recipient of a
	// broadcast). p.Event() gives its name; it parses the packet, so call it only when the
	// name is wanted.
	EventSent(nsp string, p *Packet)
	// Broadcast is called for each broadcast delivered on this node, with the number of local
	// sockets it reached.
	Broadcast(nsp string, recipients int)
	// AckWaiting is called when the server sends an event that asks a socket for an
	// acknowledgement (Socket.EmitWithAck); AckDone follows exactly once for it, with the time
	// waited and whether the acknowledgement came (false: the context ended or the socket
	// left).
	AckWaiting(nsp string)
	AckDone(nsp string, waited time.Duration, ok bool)
}

// engineObserver returns o as an engineio.Observer, when it is one.
func engineObserver(o Observer) engineio.Observer {
	eo, _ := o.(engineio.Observer)
	return eo
}

// ackWaiting tells the Observer, if any, that s waits for an acknowledgement, and returns when
// the wait began (the zero time without an Observer: the clock is read only for it).
func (s *Socket) ackWaiting() time.Time {
	o := s.nsp.srv.opts.Observer
	if o == nil {
		return time.Time{}
	}
	o.AckWaiting(s.nsp.name)
	return time.Now()
}

// ackDone tells the Observer, if any, that a wait for an acknowledgement begun at start ended.
func (s *Socket) ackDone(start time.Time, ok bool) {
	if o := s.nsp.srv.opts.Observer; o != nil {
		o.AckDone(s.nsp.name, time.Since(start), ok)
	}
}
