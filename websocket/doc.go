// Package websocket implements the WebSocket protocol (RFC 6455) with permessage-deflate
// compression (RFC 7692), for servers and clients.
//
// A server upgrades requests with Accept inside an ordinary net/http handler; a client connects
// with Dial. Both give a Conn, which reads whole messages (Read) or streams them (Reader), and
// writes whole messages (Write), streams (Writer) or messages framed once for many connections
// (PreparedMessage).
//
// The package is strict: frames that break the protocol, invalid UTF-8 in text, and messages over
// the read limit end the connection with the close code RFC 6455 assigns, and reads report it as
// a *CloseError. Pings are answered, and close frames echoed, inside reads.
//
// Connections cost little while idle: read and write buffers are taken from pools only while a
// message is in flight, and Accept starts no goroutine of its own.
package websocket
