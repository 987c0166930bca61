// Package logattr names the attributes of the log lines of every layer, once, so that an
// operator can follow one connection from the WebSocket up to a Socket.IO handler with one
// filter (sid=…, socket=…) whichever package wrote the line.
//
// The keys are part of what users see (they filter and alert on them): changing one is a
// breaking change, and the list is repeated in the socketio package's documentation.
package logattr

const (
	// SID is the Engine.IO session id: the transport-level connection.
	SID = "sid"
	// Socket is the Socket.IO socket id: one namespace joined over a session.
	Socket = "socket"
	// Namespace is the Socket.IO namespace, such as "/" or "/chat".
	Namespace = "nsp"
	// Remote is the peer's address as the HTTP server saw it (http.Request.RemoteAddr).
	Remote = "remote"
	// Reason is why something ended, in the protocol's words ("ping timeout",
	// "transport close", …).
	Reason = "reason"
	// Transport is the Engine.IO transport: "polling" or "websocket".
	Transport = "transport"
	// Event is a Socket.IO event's name.
	Event = "event"
	// Err is the error behind the line.
	Err = "err"
	// Op is what an adapter was doing when Redis failed it.
	Op = "op"
)
