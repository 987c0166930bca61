// Package socketio implements Socket.IO v5, server and client, on top of package engineio,
// wire-compatible with the official JavaScript client (v3 and v4; v2 with
// ServerOptions.AllowEIO3) and server, and with python-socketio: namespaces (static and
// dynamic), middleware, event handlers with typed arguments, acknowledgements both ways,
// binary attachments anywhere in the arguments, rooms, broadcasts encoded once for any number
// of recipients, and connection state recovery. The repository's docs/NODE-API.md maps
// Node's API, call by call, to this package's.
//
// # Servers
//
// A Server is an http.Handler. Clients join namespaces (Server.Of, Server.OfMatch for
// dynamic ones); each client in a namespace is a Socket. Handlers are registered per namespace
// (Namespace.On) or per socket (Socket.On); their parameters are ordinary Go types decoded
// from the event's arguments, and what they return answers the client's acknowledgement:
//
//	io := socketio.NewServer(nil)
//	io.OnConnect(func(s *socketio.Socket) { s.Join("lobby") })
//	io.On("chat", func(s *socketio.Socket, text string) {
//		s.To("lobby").Emit("chat", s.ID(), text)
//	})
//	http.Handle("/socket.io/", io)
//
// Every registration returns a function that removes it, where Node takes the listener back
// (socket.off("chat", listener)); Off and OffAny remove all at once. Namespace.Use adds
// middleware run as a socket joins; Socket.Use adds middleware that sees each event before
// the handlers (Node's socket.use). Socket.Context holds the values of the handshake request's
// context and ends when the socket disconnects. Rooms and broadcasts go through the
// namespace's Adapter: the in-memory one serves a single node, and a cluster adapter (such as
// package adapter/redis) spreads them over several. Server.Shutdown runs the events already
// received and the disconnect hooks, then closes the adapters and the connections.
//
// # Clients
//
// Dial connects to a server and returns a Client, itself the socket of its main namespace;
// Client.Of joins others over the same connection. A Client reconnects after losing its
// connection, as the JavaScript client does (ClientOptions.ReconnectionDelay and the rest,
// Client.OnReconnectAttempt and the other hooks), buffers what is emitted meanwhile, and with
// ClientOptions.Retries sends an event again until its acknowledgement comes:
//
//	c, err := socketio.Dial(ctx, "http://127.0.0.1:8080", nil)
//	if err != nil { ... }
//	defer c.Close()
//	c.On("chat", func(from, text string) { fmt.Println(from, text) })
//	answer, err := c.EmitWithAck(ctx, "chat", "hello")
//
// # Connection state recovery
//
// Connection state recovery (ServerOptions.Recovery) works as in Node's server: a client
// whose connection was cut and that comes back within MaxDisconnectionDuration gets its socket
// back (id, rooms, data) with the events it missed. Each event a client could miss carries an
// offset as its last argument (broadcasts, and Socket.Emit, which goes through
// Adapter.SocketEmit; not volatile events, those asking for an acknowledgement, nor those the
// adapter cannot replay), and the client sends back the last one it received. The session is
// taken from the adapter when the client's CONNECT arrives, off the connection's reader; the
// socket joins its rooms, then its missed events are read, then CONNECT, the missed events and
// those sent to the socket meanwhile go out, in that order and each once, before the connect
// hooks run. A restoration that fails before then (the connection closed, more than 1024
// events or 4 MiB sent to the socket meanwhile, the adapter failing) keeps the session again
// for the client's next try; a middleware that refuses the socket
// (RecoveryOptions.RunMiddlewares) ends it. While it is restored, the socket is not Connected
// but is in its namespace: broadcasts, FetchSockets, SocketsJoin, SocketsLeave and
// DisconnectSockets reach it.
//
// # Wire formats
//
// Packets travel as the protocol's JSON by default. ServerOptions.Parser and
// ClientOptions.Parser choose another wire format, a Parser, such as the MessagePack one of
// package socketio/msgpackparser; handlers and adapters see the same values whatever it is.
//
// # Concurrency and limits
//
// Each connection has one reader; the handlers of one socket run one at a time, in order, on
// a goroutine that exists while there is work, so that a handler can wait for an
// acknowledgement. Every method is safe for concurrent use. What a client can make the server
// hold is bounded: events waiting for a socket's handlers (HandlerQueueSize, and 4 MiB), the
// packets and bytes waiting for a slow client (SendQueueSize, SendQueueBytes: past either
// the connection is closed), attachments and decoded values per event (MaxAttachments,
// MaxDecodedValues); the repository's docs/LIMITS.md lists them all.
//
// # Logging
//
// ServerOptions.Logger is the one logger of a server: the Engine.IO layer under it logs there
// (each session's end with its reason, refused WebSocket handshakes), and so do the adapters
// that have no logger of their own (AdapterHost.Logger). Every layer names its attributes
// alike, so that one filter follows a connection through them:
//
//	sid        the Engine.IO session id
//	socket     the Socket.IO socket id
//	nsp        the namespace
//	remote     the client's address (http.Request.RemoteAddr)
//	transport  "polling" or "websocket"
//	reason     why something ended, in the protocol's words ("ping timeout", …)
//	event      an event's name
//	err        the error behind the line
//
// Without a Logger the server is quiet, but for the problems of single events (see
// ServerOptions.Logger).
//
// # Writing an adapter
//
// An adapter carries a namespace's rooms and broadcasts; a cluster adapter also carries them
// to the other nodes, over a broker (Redis, PostgreSQL's LISTEN/NOTIFY, NATS …). Package
// adapter/redis is a complete example in three flavours. An adapter is written against three
// things of this package:
//
//   - Adapter, the interface the server calls: one adapter per namespace, safe for
//     concurrent use.
//   - AdapterHost, what the adapter sees of its namespace: its name, the recovery settings,
//     local delivery and socket lookups, descriptions of remote sockets, server-side emits
//     received from other nodes, packets made from wire data, and room events.
//   - MemoryAdapter, which keeps the rooms of this node and delivers to its sockets. Embed it,
//     and override what must also reach the other nodes.
//
// The factory in ServerOptions.Adapter is called once per namespace clients join (static, or
// dynamic child: not for the parents of dynamic ones), with the namespace's host:
//
//	func NewAdapter(broker *Broker) func(socketio.AdapterHost) socketio.Adapter {
//		return func(host socketio.AdapterHost) socketio.Adapter {
//			a := &myAdapter{MemoryAdapter: socketio.NewMemoryAdapter(host), host: host, broker: broker}
//			a.sub = broker.Subscribe("prefix#"+host.Namespace()+"#", a.onMessage)
//			return a
//		}
//	}
//
// The embedded MemoryAdapter already implements every method for one node. A cluster adapter
// overrides, each time doing the local part through the MemoryAdapter and the rest through the
// broker (unless the options' Flags.Local is set):
//
//   - Broadcast: publish the packet (Packet.Data and Packet.Attachments are its wire form,
//     Packet.Namespace its namespace) with the options, then MemoryAdapter.Broadcast. A node
//     receiving it makes the packet again with host.PacketFromData and calls
//     MemoryAdapter.Broadcast with the options, Local set. Drop the node's own messages.
//   - BroadcastWithAck: publish with a request id; each other node delivers with
//     MemoryAdapter.BroadcastWithAck and answers with its onCount (how many sockets it reached)
//     and each onAck; call the caller's onCount once per node and onAck per answer, until
//     Flags.Timeout.
//   - ServerCount: the number of nodes, this one included (subscribers to the namespace's
//     channel, say). EmitWithAck waits for that many onCount calls.
//   - FetchSockets: local ones from MemoryAdapter.FetchSockets (or host.LocalSocket), plus the
//     other nodes' answers, each made with host.RemoteSocket, whose methods act through this
//     adapter wherever the socket is.
//   - AddSockets, DelSockets, DisconnectSockets: publish, and do it locally; a node receiving
//     them does them with the MemoryAdapter.
//   - ServerSideEmit and ServerSideEmitWithAck: publish the event; a node receiving it calls
//     host.ReceiveServerSideEmit off its reading goroutine (handlers are user code), with a
//     reply func that sends the answer back when one was asked for.
//   - Close: unsubscribe and let go of what the adapter holds. The server calls it on Shutdown
//     and when it removes an empty dynamic namespace (ServerOptions.CleanupEmptyChildNamespaces),
//     so subscriptions must belong to the namespace, not to the factory.
//
// AddAll, Del, DelAll, SocketRooms and Rooms stay the MemoryAdapter's: room membership is
// per node. host.OnRoomEvent reports each room created, joined, left and deleted on this node;
// an adapter that subscribes per room (as Redis's sharded adapter does) listens to it, and
// removes its listener on Close. An adapter that keeps rooms elsewhere (no MemoryAdapter)
// delivers with host.Deliver, socket by socket.
//
// Connection state recovery (host.Recovery not nil) needs PersistSession, TakeSession,
// MissedPackets and SocketEmit, with offsets as the Adapter documentation describes. The
// MemoryAdapter keeps all of it in memory, which lets a client recover on the node it came
// from. To recover on any node, keep sessions and packets in the broker: number each
// recoverable broadcast there (a stream entry id, a sequence), add the offset with
// Packet.WithOffset before delivering locally, and give the MemoryAdapter a host whose
// Recovery returns nil, so that it delivers packets as they are and keeps nothing:
//
//	type unnumbered struct{ socketio.AdapterHost }
//
//	func (unnumbered) Recovery() *socketio.RecoveryOptions { return nil }
//
//	mem := socketio.NewMemoryAdapter(unnumbered{host})
//
// Test an adapter with two servers sharing a broker, and clients of both: a broadcast from
// one reaches the other's clients, FetchSockets sees both, ServerSideEmitWithAck gets one
// answer per other node, and closing a namespace's adapter leaves no subscription behind.
package socketio
