package socketio

import (
	"errors"
	"fmt"

	"github.com/tether-rt/tether/engineio"
)

// DisconnectReason tells why a socket left its namespace. The values are those of Node's
// socket.io server, which clients and users already know.
type DisconnectReason string

// Reasons a socket disconnects. The first five come from the connection below (Engine.IO).
const (
	ReasonTransportClose     DisconnectReason = DisconnectReason(engineio.CloseTransportClose) // the client closed its connection
	ReasonTransportError     DisconnectReason = DisconnectReason(engineio.CloseTransportError) // the connection broke
	ReasonPingTimeout        DisconnectReason = DisconnectReason(engineio.ClosePingTimeout)    // the client stopped answering pings
	ReasonParseError         DisconnectReason = "parse error"                                  // the client sent an invalid packet
	ReasonForcedClose        DisconnectReason = DisconnectReason(engineio.CloseServerClose)    // the connection was closed by the server
	ReasonServerDisconnect   DisconnectReason = "server namespace disconnect"                  // Socket.Disconnect
	ReasonClientDisconnect   DisconnectReason = "client namespace disconnect"                  // the client left the namespace
	ReasonServerShuttingDown DisconnectReason = "server shutting down"                         // Server.Shutdown
)

// recoverable reports whether a socket that left for this reason may come back with its state:
// the connection was cut, rather than the socket being told or asking to leave.
func (r DisconnectReason) recoverable() bool {
	switch r {
	case ReasonServerDisconnect, ReasonClientDisconnect:
		return false
	}
	return true
}

// ConnectError refuses a connection to a namespace: returned by a middleware, it reaches the
// client as a CONNECT_ERROR packet, where the JavaScript client exposes Message as err.message
// and Data as err.data. A middleware returning another error refuses with its text as Message.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return "socketio: connection refused: " + e.Message }

// ArgumentError reports an event whose arguments do not fit its handler's parameters. The
// handler is not called.
type ArgumentError struct {
	Event string
	Index int // the argument's position after the event name, from 0
	// Param is the Go type of the parameter the argument did not decode into, and Got what the
	// argument is in JSON ("string", "number", "object", "array", "boolean", "null"); both
	// empty when the argument was refused for another reason (ErrDecodeLimit).
	Param string
	Got   string
	Err   error
}

func (e *ArgumentError) Error() string {
	if e.Param == "" {
		return fmt.Sprintf("socketio: event %q: argument %d: %v", e.Event, e.Index, e.Err)
	}
	return fmt.Sprintf("socketio: event %q: argument %d, a JSON %s, into a parameter of type %s: %v", e.Event, e.Index, e.Got, e.Param, e.Err)
}

func (e *ArgumentError) Unwrap() error { return e.Err }

var (
	// ErrDisconnected is returned when a socket is, or becomes, disconnected while an
	// operation needs it, such as waiting for an acknowledgement.
	ErrDisconnected = errors.New("socketio: socket disconnected")
	// ErrReservedEvent is returned by Emit for the event names the protocol reserves, such as
	// "connect" and "disconnect".
	ErrReservedEvent = errors.New("socketio: reserved event name")
)
