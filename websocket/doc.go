// Package websocket implements the WebSocket protocol (RFC 6455) with permessage-deflate
// compression (RFC 7692), for servers and clients, on the standard library only.
//
// Both sides get a Conn, which reads whole messages (Read) or streams them (Reader), and
// writes whole messages (Write), streams (Writer) or messages framed once for many connections
// (PreparedMessage). One goroutine at a time reads; writes are safe from any goroutine.
//
// # Servers
//
// A server upgrades requests with Accept inside an ordinary net/http handler. AcceptOptions'
// zero value is the secure default: same-origin requests only (OriginPatterns lists other
// sites), no subprotocol, no compression, messages up to 1 MiB. A server on loopback or a
// private network should also list its names in AllowedHosts, since a page on a domain an
// attacker points at its address (DNS rebinding) counts as same-origin. See the Accept example.
//
// # Clients
//
// A client connects with Dial to a ws:// or wss:// URL; DialOptions sets headers,
// subprotocols, compression and TLS. A server's refusal is a *HandshakeError carrying the HTTP
// response. The context given to Dial bounds the handshake only. See the Dial example.
//
// # Pings and keep-alive
//
// Pings are answered, and close frames echoed, inside reads: a connection that expects pongs
// or its peer's close must have a reader. Conn.Ping sends a ping and waits for its pong, so
// another goroutine must be reading meanwhile. KeepAlive (in AcceptOptions and DialOptions)
// pings a silent peer and closes the connection when it stays silent.
//
// # Errors and close codes
//
// The package is strict: frames that break the protocol, invalid UTF-8 in text, and messages over
// the read limit end the connection with the close code RFC 6455 assigns, and reads report it as
// a *CloseError (CloseStatus extracts the code). A write the peer does not take within
// WriteTimeout fails with an error matching ErrWriteTimeout and closes the connection, so a peer
// that stops reading never blocks a writer for long. Use of a closed Conn returns ErrClosed.
//
// # Compression
//
// With Compression set on both sides, messages of CompressionThreshold bytes or more (128 by
// default) are compressed with permessage-deflate. A PreparedMessage is compressed and framed
// once, however many connections it is written to.
//
// # Resource use
//
// Connections cost little while idle: read and write buffers are taken from pools only while a
// message is in flight, and Accept starts no goroutine of its own. A goroutine blocked in Read
// still holds its stack (2 KiB or more) for as long as the peer is silent; a server holding many
// mostly idle connections can watch them with a Poller instead, which reads a connection
// (TryRead) only when bytes have arrived, so that an idle one holds no goroutine. See the
// Poller example.
package websocket
