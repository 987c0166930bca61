// Package socketio implements a Socket.IO v5 server on top of package engineio, wire-compatible
// with the official JavaScript client (v3 and v4) and with python-socketio: namespaces (static
// and dynamic), middleware, event handlers with typed arguments, acknowledgements both ways,
// binary attachments anywhere in the arguments, rooms, broadcasts encoded once for any number
// of recipients, and connection state recovery.
//
// A Server is an http.Handler. Clients join namespaces (Server.Of); each client in a namespace
// is a Socket. Handlers are registered per namespace (Namespace.On) or per socket
// (Socket.On); their parameters are ordinary Go types decoded from the event's arguments.
// Every registration returns a function that removes it, where Node takes the listener back
// (socket.off("chat", listener)); Off and OffAny remove all at once. Socket.Use adds
// middleware that sees each event before the handlers (Node's socket.use), and
// Socket.Context ends when the socket disconnects.
// Rooms and broadcasts go through the namespace's Adapter: the in-memory one serves a single
// node, and a cluster adapter (such as package adapter/redis) spreads them over several.
//
// Connection state recovery (ServerOptions.Recovery) works as in Node's server: a client
// whose connection was cut and that comes back within MaxDisconnectionDuration gets its socket
// back (id, rooms, data) with the events it missed. Each event a client could miss carries an
// offset as its last argument (broadcasts, and Socket.Emit, which goes through
// Adapter.SocketEmit; not volatile events, those asking for an acknowledgement, nor those the
// adapter cannot replay), and the client sends back the last one it received. The session is taken from the adapter when the
// client's CONNECT arrives, off the connection's reader; the socket joins its rooms, then its
// missed events are read, then CONNECT, the missed events and those sent to the socket
// meanwhile go out, in that order and each once, before the connect hooks run. A restoration
// that fails before then (the connection closed, more than 1024 events or 4 MiB sent to the
// socket meanwhile, the adapter failing) keeps the session again for the client's next try; a
// middleware that refuses the socket (RecoveryOptions.RunMiddlewares) ends it. While it is
// restored, the socket is not Connected but is in its namespace: broadcasts, FetchSockets,
// SocketsJoin, SocketsLeave and DisconnectSockets reach it.
//
// Packets travel as the protocol's JSON by default. ServerOptions.Parser and
// ClientOptions.Parser choose another wire format, a Parser, such as the MessagePack one of
// package socketio/msgpackparser; handlers and adapters see the same values whatever it is.
//
// Concurrency: each connection has one reader; the handlers of one socket run one at a time,
// in order, on a goroutine that exists while there is work, so that a handler can wait for an
// acknowledgement. Every method is safe for concurrent use.
package socketio
