// Package redis connects Socket.IO servers into a cluster over Redis, in the wire formats of
// Node's adapters, so Go and Node nodes can share one cluster and a team can move a Node
// deployment to Go one node at a time.
//
// Three adapters, each a factory for socketio.ServerOptions.Adapter:
//
//   - NewAdapter: Redis pub/sub, compatible with @socket.io/redis-adapter's createAdapter
//     (version 8). The usual choice.
//   - NewShardedAdapter: Redis 7 sharded pub/sub, compatible with createShardedAdapter, for a
//     Redis Cluster.
//   - NewStreamsAdapter: a Redis stream, compatible with @socket.io/redis-streams-adapter
//     (version 0.3). It also keeps sessions in Redis, so connection state recovery works when
//     a client comes back to another node.
//
// Every node of a cluster must use the same kind of adapter and the same key or prefix.
//
// The server makes one adapter per namespace (not for the parents of dynamic namespaces),
// which subscribes to that namespace's channels and unsubscribes when it is closed: on the
// server's Shutdown, and when the server removes a dynamic namespace that has become empty
// (socketio.ServerOptions.CleanupEmptyChildNamespaces). The adapters are written against
// socketio.AdapterHost; see "Writing an adapter" in package socketio.
//
// An Emitter sends events, room changes and server-side events to a cluster from a process
// without a Socket.IO server, like @socket.io/redis-emitter (version 5), with which it is
// interchangeable.
//
// The adapters never hold up an emit on Redis. Broadcasts reach the local sockets at once; what
// goes to the other nodes is queued and pipelined. When Redis is unreachable, local delivery
// goes on, the outage is logged as a warning once when it starts and once when it ends, the
// subscription comes back by itself, and requests to other nodes (FetchSockets,
// ServerSideEmitWithAck, acknowledgements of a broadcast) fail with an error after their
// timeout instead of hanging. What Redis does not take within a few seconds of retrying, and
// what is published while a node's subscription is down, never reaches that node: pub/sub
// delivery is at most once.
//
// The adapters log to the server's Logger (socketio.ServerOptions.Logger) unless their options
// name another, with the server's attribute keys ("nsp", "err", and "op" for the operation
// Redis failed). go-redis has a logger of its own, which writes with package log; a program
// that wants its lines in slog sets it with goredis.SetLogger (tether's command does).
//
// A retry may make Redis run a message twice: a command that timed out can still be waiting
// in a stalled Redis's buffers when it is sent again. So a Tether node numbers what it
// publishes, in fields Node's adapters ignore, and the Tether nodes receiving it act on each
// message once: a broadcast, a room change, a server-side event, an answer to a request. Node
// nodes, which do not read the numbers, may get such a repeat; messages from Node nodes and
// emitters carry no number and are taken as they come.
//
// A node reads the other nodes' messages on one goroutine (the subscription's; the streams
// adapter's reader). A broadcast with many local recipients is delivered from up to
// DeliveryWorkers goroutines (default GOMAXPROCS; 256 recipients at a time), and the next
// message waits until it is done: each socket gets a publisher's broadcasts in the order they
// were published, with their offsets in order. A node that delivers more slowly than
// broadcasts come queues nothing itself: the kernel's socket buffers, then Redis, hold what it
// has not read, up to Redis's client-output-buffer-limit for pub/sub clients (32 MB by
// default), past which Redis closes the subscription. That is logged once as an outage of the
// subscription, which comes back by itself; what was published meanwhile is lost to that node
// (the streams adapter reads on from where it stopped).
//
// # Delivery guarantees
//
// Between Tether nodes (the README has the same table):
//
//	                      pub/sub, sharded                   streams
//	own node's sockets    at once, whatever Redis does       the same; with recovery on, through
//	                                                         the stream reader, in stream order,
//	                                                         with offsets (at once without one
//	                                                         when Redis does not take it in 2 s)
//	other nodes' sockets  at most once                       at most once; a reader that was cut
//	                                                         reads on from where it stopped
//	never twice           a message Redis runs twice acts    the same, stream entries included
//	                      once per Tether node
//	lost                  not taken by Redis after retries, not taken by Redis; trimmed past
//	                      over 10,000 queued, at shutdown;   MaxLen or lost in a Redis restart
//	                      while a node's subscription is     before a node read it
//	                      down
//	requests              pub/sub, failing after timeout     the same
//	recovery              on the node holding the session    on any node, within the recovery
//	                                                         window and MaxLen: each missed
//	                                                         event once, none twice
//
// What crosses nodes, as in Node: a broadcast's event with its binary arguments; the first
// argument of each acknowledgement (Node forwards only that one); fetched sockets with their
// handshake, rooms and data (data as JSON values); server-side events, in JSON for the classic
// format, so that their binary arguments arrive as {"type":"Buffer","data":[...]} objects.
package redis
