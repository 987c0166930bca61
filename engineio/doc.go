// Package engineio implements Engine.IO v4, the transport layer under Socket.IO: a session per
// client over HTTP long-polling or WebSocket, with the upgrade from one to the other, heartbeats,
// and the protocol's errors, wire-compatible with the official JavaScript client and server and
// with python-engineio.
//
// A Server is an http.Handler; the layer above learns of sessions and their messages through
// the callbacks in ServerOptions and answers through Session.Send. Messages to send are
// OutMessages, encoded once whatever the number of sessions they go to.
//
// Dial opens a client connection, over long-polling upgraded to WebSocket or over one transport
// only; Client.Read and Client.Send exchange messages, and its errors carry the CloseReason.
//
// What the server does when a client cannot keep up is one policy: each session queues at most
// SendQueueSize packets; SendVolatile drops a message instead of queueing it behind others; a
// session whose queue is full is closed with CloseSendQueueFull. Memory never grows without
// bound because of a slow client.
package engineio
