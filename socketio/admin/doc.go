// Package admin instruments a socketio.Server for the official Socket.IO Admin UI
// (npm's @socket.io/admin-ui, protocol of its 0.5 releases), as Node's instrument(io, opts):
// the UI connects to an admin namespace ("/admin" by default) and sees the server's sockets,
// rooms, clients and events, and may make sockets emit, join, leave or disconnect.
//
//	a, err := admin.Instrument(srv, &admin.Options{
//		Auth: &admin.BasicAuth{Username: "admin", PasswordHash: hash}, // a bcrypt hash
//	})
//	defer a.Close()
//
// The UI itself ships in the npm package's ui/dist folder: serve it as static files from the
// server's origin (tether serve --admin does), or serve it elsewhere and allow that origin, with
// credentials, in ServerOptions.CORS. The UI asks for the server's URL and the login.
//
// # What the UI receives
//
// On connecting, the UI socket gets "session" (after a login with a password: an id it can
// reconnect with instead), "config" (the features: emit, join, leave and disconnect unless
// ReadOnly, and per-event messages in development mode), then "all_sockets" (development mode).
// Every StatsInterval each node sends "server_stats": its id, host name, pid, uptime, clients,
// polling clients, its namespaces with their socket counts, and the connections and
// disconnections counted since the last one. In development mode each node also sends, as they
// happen, socket_connected, socket_updated (a transport upgrade, seen at the next stats tick),
// socket_disconnected, room_joined, room_left, event_received and event_sent; production mode
// (ModeProduction) sends none of those, as Node's NODE_ENV=production.
//
// # Login
//
// The UI sends the user name and password in its CONNECT packet; a wrong one is refused with
// "invalid credentials", which the UI shows. The password is compared with the bcrypt hash, at
// most two comparisons at a time. A UI that logged in gets a session id, valid 24 hours on
// this node, with which it reconnects without the password. Serve the UI and the server over
// TLS outside a loopback address: the password crosses the network as sent.
//
// # Clusters
//
// Everything is sent through the admin namespace's Emit, hence through its adapter: with a
// cluster adapter (adapter/redis) a UI connected to any node hears every instrumented node, each
// reporting itself, and "all_sockets" comes from FetchSockets over all nodes, as in Node. The
// operations act through the adapter too (SocketsJoin, SocketsLeave, DisconnectSockets, Emit),
// so they reach sockets on every node. Sockets on other nodes are listed without their client id
// and transport, which only their own node knows; their own node's socket_connected has them.
// Sessions (the ids that spare the UI a new login) are kept per node.
//
// # Differences from Node
//
// Node reports socket_updated when the program changes socket.data; a Go program's SetData is
// not observed, so data is as it was at the connection (and in all_sockets). The client ids
// shown are a digest of the Engine.IO session id, not its first 12 characters: the id lets a
// client post to a polling session. The aggregated events count connections and disconnections
// of clients (a client's first socket and its last), not bytes and packets, which only the
// Engine.IO layer sees.
package admin
