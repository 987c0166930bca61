package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/socketio"
)

// Message types of the cluster format of Node's socket.io-adapter (ClusterAdapter), which
// the sharded and the streams adapters speak: {uid, nsp, type, data}.
const (
	msgInitialHeartbeat = iota + 1
	msgHeartbeat
	msgBroadcast
	msgSocketsJoin
	msgSocketsLeave
	msgDisconnectSockets
	msgFetchSockets
	msgFetchSocketsResponse
	msgServerSideEmit
	msgServerSideEmitResponse
	msgBroadcastClientCount
	msgBroadcastAck
	msgAdapterClose
)

// clusterTransport is how a cluster-format adapter reaches the other nodes.
// orderedBroadcaster is a transport that delivers this node's recoverable broadcasts to its
// own sockets in the order of the other nodes' (the streams transport: see broadcastInOrder).
type orderedBroadcaster interface {
	broadcastInOrder(msg value, deliver func(offset string))
}

type clusterTransport interface {
	// publish sends a message to every node; with sync, it waits for Redis and returns the
	// message's offset when the transport numbers messages ("" otherwise).
	publish(ctx context.Context, msg value, sync bool) (offset string, err error)
	// respond sends a message to the node whose id is uid.
	respond(uid string, msg value)
	serverCount(ctx context.Context) (int, error)
	// offsets reports whether published broadcasts get offsets a recovery can use.
	offsets() bool
	close()
}

// clusterAdapter implements the Adapter over the cluster format, whatever carries it.
type clusterAdapter struct {
	*socketio.MemoryAdapter
	host    socketio.AdapterHost
	uid     string
	t       clusterTransport
	timeout time.Duration
	log     *slog.Logger

	reqs      *requests
	split     func(n int, deliver func(from, to int)) // spreads broadcasts read from Redis
	closeOnce sync.Once
}

// newClusterAdapter returns the adapter of host's namespace. With numbered, the transport
// numbers broadcasts and keeps them (a Redis stream): the MemoryAdapter is then given a host
// without recovery settings, so that it delivers packets as they are and keeps none. split
// spreads the deliveries of broadcasts read from Redis (splitter).
func newClusterAdapter(host socketio.AdapterHost, timeout time.Duration, log *slog.Logger, numbered bool, split func(n int, deliver func(from, to int))) *clusterAdapter {
	local := host
	if numbered {
		local = unnumbered{host}
	}
	return &clusterAdapter{
		MemoryAdapter: socketio.NewMemoryAdapter(local),
		host:          host,
		uid:           randomID(8), // as Node's randomBytes(8).toString("hex")
		timeout:       timeout,
		log:           log,
		reqs:          newRequests(),
		split:         split,
	}
}

// unnumbered is a host whose server keeps no recovery state, for a MemoryAdapter that must
// keep none: the transport does.
type unnumbered struct{ socketio.AdapterHost }

func (unnumbered) Recovery() *socketio.RecoveryOptions { return nil }

// deliver sends p to the local sockets opts selects, as it is, spread over the delivery
// workers (fanout.go). Only for a numbered transport, whose MemoryAdapter keeps nothing (see
// newClusterAdapter).
func (a *clusterAdapter) deliver(p *socketio.Packet, opts socketio.BroadcastOptions) {
	_ = a.MemoryAdapter.BroadcastSplit(p, opts, a.split)
}

func (a *clusterAdapter) message(typ int, data value) value {
	m := object("uid", str(a.uid), "nsp", str(a.host.Namespace()), "type", integer(int64(typ)))
	if data.kind != kindNull {
		m.set("data", data)
	}
	return m
}

func (a *clusterAdapter) logf(msg string, args ...any) {
	a.log.Debug("redis adapter: "+msg, append(args, logattr.Namespace, a.host.Namespace())...)
}

// recoverable reports whether a broadcast gets an offset: with recovery on, events that ask
// for no acknowledgement and are not volatile.
func (a *clusterAdapter) recoverable(p *socketio.Packet, opts socketio.BroadcastOptions) bool {
	return a.host.Recovery() != nil && p.ID() < 0 && !opts.Flags.Volatile
}

// Broadcast publishes p for the other nodes and delivers it to the local sockets. When the
// transport numbers messages and recovery is on, the local sockets get the message's offset,
// which any node can resume from.
func (a *clusterAdapter) Broadcast(p *socketio.Packet, opts socketio.BroadcastOptions) error {
	if opts.Flags.Local {
		return a.MemoryAdapter.Broadcast(p, opts)
	}
	pv, err := packetValue(p)
	if err != nil {
		return err
	}
	msg := a.message(msgBroadcast, object("packet", pv, "opts", optionsValue(opts)))
	if !a.t.offsets() {
		_, _ = a.t.publish(context.Background(), msg, false)
		return a.MemoryAdapter.Broadcast(p, opts)
	}
	recoverable := a.recoverable(p, opts)
	if ob, ok := a.t.(orderedBroadcaster); ok && recoverable {
		ob.broadcastInOrder(msg, func(offset string) {
			if offset != "" {
				a.deliver(p.WithOffset(offset), opts)
			} else {
				a.deliver(p, opts)
			}
		})
		return nil
	}
	offset, err := a.t.publish(context.Background(), msg, recoverable)
	if recoverable && err == nil && offset != "" {
		p = p.WithOffset(offset)
	}
	// Without Redis there is no offset to give: the event goes out without one, as Node's
	// does, and a client that misses it cannot recover it.
	a.deliver(p, opts)
	return nil
}

// BroadcastWithAck asks the other nodes to deliver p with acknowledgements and delivers it
// locally.
func (a *clusterAdapter) BroadcastWithAck(p *socketio.Packet, opts socketio.BroadcastOptions, onCount func(int), onAck func(socketio.Args)) error {
	if !opts.Flags.Local {
		pv, err := packetValue(p)
		if err != nil {
			return err
		}
		id := randomID(8)
		timeout := opts.Flags.Timeout
		if timeout <= 0 {
			timeout = a.timeout
		}
		a.reqs.addAck(id, timeout, onCount, onAck)
		_, _ = a.t.publish(context.Background(), a.message(msgBroadcast, object("packet", pv, "requestId", str(id), "opts", optionsValue(opts))), false)
	}
	return a.MemoryAdapter.BroadcastWithAck(p, opts, onCount, onAck)
}

// ServerCount returns the number of nodes.
func (a *clusterAdapter) ServerCount(ctx context.Context) (int, error) {
	n, err := a.t.serverCount(ctx)
	if err != nil {
		return 0, fmt.Errorf("redis adapter: counting nodes: %w", err)
	}
	return max(n, 1), nil
}

// FetchSockets returns the sockets opts selects on every node.
func (a *clusterAdapter) FetchSockets(ctx context.Context, opts socketio.BroadcastOptions) ([]socketio.SocketInfo, error) {
	local, err := a.MemoryAdapter.FetchSockets(ctx, opts)
	if err != nil || opts.Flags.Local {
		return local, err
	}
	timeout := a.timeout
	if opts.Flags.Timeout > 0 {
		timeout = opts.Flags.Timeout
	}
	got, err := a.ask(ctx, "fetchSockets", msgFetchSockets, object("opts", optionsValue(opts)), timeout)
	return append(local, got.sockets...), err
}

// ask sends a request and gathers every other node's answer.
func (a *clusterAdapter) ask(ctx context.Context, what string, typ int, data value, timeout time.Duration) (gathered, error) {
	return a.reqs.ask(ctx, what, a.ServerCount, randomID(8), func(id string) error {
		data.set("requestId", str(id))
		_, err := a.t.publish(ctx, a.message(typ, data), false)
		return err
	}, timeout)
}

// AddSockets makes the sockets opts selects join rooms, here and on the other nodes.
func (a *clusterAdapter) AddSockets(opts socketio.BroadcastOptions, rooms []string) error {
	if !opts.Flags.Local {
		a.publishQuietly(a.message(msgSocketsJoin, object("opts", optionsValue(opts), "rooms", strs(nonNil(rooms)))))
	}
	return a.MemoryAdapter.AddSockets(opts, rooms)
}

// DelSockets makes the sockets opts selects leave rooms, here and on the other nodes.
func (a *clusterAdapter) DelSockets(opts socketio.BroadcastOptions, rooms []string) error {
	if !opts.Flags.Local {
		a.publishQuietly(a.message(msgSocketsLeave, object("opts", optionsValue(opts), "rooms", strs(nonNil(rooms)))))
	}
	return a.MemoryAdapter.DelSockets(opts, rooms)
}

// DisconnectSockets disconnects the sockets opts selects, here and on the other nodes.
func (a *clusterAdapter) DisconnectSockets(opts socketio.BroadcastOptions, closeConn bool) error {
	if !opts.Flags.Local {
		a.publishQuietly(a.message(msgDisconnectSockets, object("opts", optionsValue(opts), "close", boolean(closeConn))))
	}
	return a.MemoryAdapter.DisconnectSockets(opts, closeConn)
}

func (a *clusterAdapter) publishQuietly(msg value) {
	_, _ = a.t.publish(context.Background(), msg, false)
}

// ServerSideEmit sends an event to the other nodes' server-side handlers.
func (a *clusterAdapter) ServerSideEmit(p *socketio.Packet) error {
	data, err := eventData(p)
	if err != nil {
		return err
	}
	a.publishQuietly(a.message(msgServerSideEmit, object("packet", data)))
	return nil
}

// ServerSideEmitWithAck sends an event to the other nodes' server-side handlers and collects
// the first argument of each node's answer.
func (a *clusterAdapter) ServerSideEmitWithAck(ctx context.Context, p *socketio.Packet) ([]socketio.Args, error) {
	data, err := eventData(p)
	if err != nil {
		return nil, err
	}
	got, err := a.ask(ctx, "serverSideEmit", msgServerSideEmit, object("packet", data), a.timeout)
	return append([]socketio.Args{}, got.answers...), err
}

// Close stops the adapter's traffic.
func (a *clusterAdapter) Close() error {
	a.closeOnce.Do(func() {
		a.reqs.close()
		a.t.close()
	})
	return nil
}

// onMessage handles a message of another node; offset is its stream entry id, if any.
func (a *clusterAdapter) onMessage(msg value, offset string) {
	uid, _ := msg.field("uid").text()
	if uid == a.uid {
		return
	}
	if nsp, _ := msg.field("nsp").text(); nsp != a.host.Namespace() {
		return
	}
	typ, _ := msg.field("type").int()
	data := msg.field("data")
	switch typ {
	case msgBroadcast:
		p, err := eventPacket(a.host, data.field("packet"))
		if err != nil {
			a.logf("ignoring broadcast", logattr.Err, err)
			return
		}
		opts := broadcastOptions(data.field("opts"))
		if id, withAck := data.field("requestId").text(); withAck {
			a.onBroadcastWithAck(uid, id, p, opts)
			return
		}
		if offset == "" {
			_ = a.MemoryAdapter.BroadcastSplit(p, opts, a.split)
			return
		}
		if a.recoverable(p, opts) {
			p = p.WithOffset(offset)
		}
		a.deliver(p, opts)
	case msgSocketsJoin:
		_ = a.MemoryAdapter.AddSockets(broadcastOptions(data.field("opts")), data.field("rooms").stringList())
	case msgSocketsLeave:
		_ = a.MemoryAdapter.DelSockets(broadcastOptions(data.field("opts")), data.field("rooms").stringList())
	case msgDisconnectSockets:
		_ = a.MemoryAdapter.DisconnectSockets(broadcastOptions(data.field("opts")), data.field("close").truthy())
	case msgFetchSockets:
		id, _ := data.field("requestId").text()
		local, _ := a.MemoryAdapter.FetchSockets(context.Background(), broadcastOptions(data.field("opts")))
		sockets := value{kind: kindArray}
		for _, s := range local {
			sockets.items = append(sockets.items, socketValue(s))
		}
		a.t.respond(uid, a.message(msgFetchSocketsResponse, object("requestId", str(id), "sockets", sockets)))
	case msgServerSideEmit:
		a.onServerSideEmit(uid, data)
	case msgBroadcastClientCount, msgBroadcastAck, msgFetchSocketsResponse, msgServerSideEmitResponse:
		a.onResponse(typ, data)
	}
}

func (a *clusterAdapter) onBroadcastWithAck(uid, id string, p *socketio.Packet, opts socketio.BroadcastOptions) {
	onCount := func(n int) {
		a.t.respond(uid, a.message(msgBroadcastClientCount, object("requestId", str(id), "clientCount", integer(int64(n)))))
	}
	onAck := func(args socketio.Args) {
		v, err := firstArg(args)
		if err != nil {
			a.logf("cannot forward an acknowledgement", logattr.Err, err)
		}
		a.t.respond(uid, a.message(msgBroadcastAck, object("requestId", str(id), "packet", v)))
	}
	_ = a.MemoryAdapter.BroadcastWithAck(p, opts, onCount, onAck)
}

func (a *clusterAdapter) onServerSideEmit(uid string, data value) {
	p, err := serverSidePacket(a.host, data.field("packet"))
	if err != nil {
		a.logf("ignoring server-side emit", logattr.Err, err)
		return
	}
	var reply func(socketio.Args)
	if id, withAck := data.field("requestId").text(); withAck {
		var once sync.Once
		reply = func(args socketio.Args) {
			once.Do(func() {
				v, err := firstArg(args)
				if err != nil {
					a.logf("cannot forward a server-side acknowledgement", logattr.Err, err)
				}
				a.t.respond(uid, a.message(msgServerSideEmitResponse, object("requestId", str(id), "packet", v)))
			})
		}
	}
	go a.host.ReceiveServerSideEmit(p, reply)
}

func (a *clusterAdapter) onResponse(typ int64, data value) {
	id, _ := data.field("requestId").text()
	switch typ {
	case msgBroadcastClientCount:
		if ack := a.reqs.ack(id); ack != nil {
			if n, ok := data.field("clientCount").int(); ok {
				ack.onCount(int(n))
			}
		}
	case msgBroadcastAck:
		if ack := a.reqs.ack(id); ack != nil {
			if args, err := argsOf(a.host, data.field("packet")); err == nil {
				ack.onAck(args)
			}
		}
	case msgFetchSocketsResponse:
		a.reqs.answer(id, func(_ string, got *gathered) {
			for _, s := range data.field("sockets").items {
				if info, ok := socketInfoOf(a.host, s); ok {
					got.sockets = append(got.sockets, info)
				}
			}
		})
	case msgServerSideEmitResponse:
		a.reqs.answer(id, func(_ string, got *gathered) {
			if args, err := argsOf(a.host, data.field("packet")); err == nil {
				got.answers = append(got.answers, args)
			}
		})
	}
}
