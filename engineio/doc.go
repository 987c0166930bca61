// Package engineio implements Engine.IO v4, the transport layer under Socket.IO: a session per
// client over HTTP long-polling or WebSocket, with the upgrade from one to the other, heartbeats,
// and the protocol's errors, wire-compatible with the official JavaScript client and server and
// with python-engineio. With ServerOptions.AllowEIO3 the server also speaks Engine.IO v3 to
// the clients that ask for it (socket.io-client 2.x), as Node's allowEIO3: see v3.go for how
// its wire forms differ.
//
// # Server
//
// A Server (NewServer) is an http.Handler; the layer above learns of sessions and their
// messages through the callbacks in ServerOptions and answers through Session.Send. Messages to
// send are OutMessages, encoded once whatever the number of sessions they go to. Shutdown
// closes every session and waits for them, bounded by its context. See the NewServer example.
//
// # Idle sessions
//
// A WebSocket session holds no goroutine while its client is silent: on Linux the server
// watches its connections with one websocket.Poller (epoll), starts a goroutine when bytes
// arrive, and lets it end once they are read (a busy client's goroutine waits 100 to 200 ms
// for more first). Heartbeats are timers,
// not goroutines, and the queue's writer exists only while there is something to send. An idle
// Engine.IO session costs a few KiB of heap and its socket (docs/CAPACITY.md has the figures).
// ServerOptions.BlockingReads gives each WebSocket a goroutine of its own instead; TLS
// connections served by the process itself, and other platforms, always have one. A held
// long-polling request is net/http's goroutine while it waits.
//
// # Client
//
// Dial opens a client connection, over long-polling upgraded to WebSocket or over one transport
// only; Client.Read and Client.Send exchange messages, and its errors carry the CloseReason.
// See the Dial example.
//
// # Slow and hostile clients
//
// No client can hold more than a bounded share of the server, whatever it does:
//
//   - A client that reads slowly or not at all: each session queues at most SendQueueSize
//     packets and SendQueueBytes bytes (1024 and 4 MiB) beyond what its socket takes, counting
//     the batch being written; SendVolatile drops a message rather than queue it behind others;
//     a session past either bound is closed with CloseSendQueueFull. Every WebSocket write has
//     a deadline (WriteTimeout, 10 s without progress). A session that ends releases its
//     connection, goroutines and queued messages within about 2 s whatever the peer does: the
//     close frame is given up on when a write is stuck.
//   - A client that sends slowly: a long-polling POST body must arrive within BodyTimeout
//     (10 s). Header timeouts and idle keep-alive connections are the http.Server's business:
//     set ReadHeaderTimeout and IdleTimeout, and leave ReadTimeout and WriteTimeout at zero, since
//     a long poll legitimately waits up to PingInterval.
//   - A client that sends much: a message or POST body is at most MaxPayload bytes, and a
//     handshake's header at most MaxHeaderBytes (16 KiB), since a session keeps it.
//   - Text that is not UTF-8: a WebSocket text frame that is not is a protocol error (1007); text
//     arriving by long-polling is decoded as JavaScript servers decode it, with U+FFFD for each
//     ill-formed sequence, so that it can never break another client's WebSocket when relayed.
//
// Browsers cannot reach a server from another origin unless CORS allows it. A page on a domain
// whose address an attacker points at the server (DNS rebinding) is same-origin, though: a
// server on loopback or a private network should list its names in AllowedHosts.
package engineio
