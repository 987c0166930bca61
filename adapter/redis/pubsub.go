package redis

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/socketio"
)

// Options configure the adapter of NewAdapter. The zero value is Node's defaults.
type Options struct {
	// Key prefixes every channel name; default "socket.io". Nodes of one cluster, Node ones
	// included, share it.
	Key string
	// RequestsTimeout bounds how long a request to the other nodes (fetch sockets, all rooms,
	// server-side emit with acknowledgement) waits for their answers; default 5 s.
	RequestsTimeout time.Duration
	// PublishOnSpecificResponseChannel makes this node answer each request on a channel of the
	// requesting node alone, rather than on the channel every node reads.
	PublishOnSpecificResponseChannel bool
	// Logger receives the adapter's warnings (the start and end of each Redis outage) and,
	// at debug level, the messages it ignores; default: the server's (AdapterHost.Logger).
	Logger *slog.Logger
	// Observer, when set, is told of publish and subscribe errors and of requests timed out,
	// for metrics.
	Observer Observer
	// DeliveryWorkers bounds the goroutines that deliver one broadcast of another node to
	// this node's sockets; default GOMAXPROCS. They take its recipients 256 at a time (a
	// broadcast to fewer than 512 stays on the goroutine reading Redis), and the next
	// message read from Redis waits until they are done, so that each socket gets a
	// publisher's broadcasts in the order they were made. 1: the reading goroutine alone.
	DeliveryWorkers int

	publishTimeout time.Duration // a test's bound on one publishing round trip
	minShare       int           // a test's fewest recipients per delivery worker
}

// Request types of Node's @socket.io/redis-adapter, in its order.
const (
	reqSockets = iota
	reqAllRooms
	reqRemoteJoin
	reqRemoteLeave
	reqRemoteDisconnect
	reqRemoteFetch
	reqServerSideEmit
	reqBroadcast
	reqBroadcastClientCount
	reqBroadcastAck
)

// NewAdapter returns an adapter factory for socketio.ServerOptions.Adapter that connects
// the server's namespaces to a cluster over Redis pub/sub, speaking the wire format of
// Node's @socket.io/redis-adapter (createAdapter, version 8): Go and Node nodes sharing a Redis
// and a Key form one cluster. The client is used for publishing and for one subscription
// connection per factory; the caller closes it after the server's Shutdown.
//
// Broadcasts are delivered locally at once and published without waiting for Redis. When
// Redis is unreachable, local delivery goes on, the error is logged once, publishing and
// subscribing resume by themselves, and requests to other nodes fail after their timeout.
//
// Connection state recovery, if on, works on the node the client comes back to only; use
// NewStreamsAdapter for recovery across nodes.
func NewAdapter(client goredis.UniversalClient, opts *Options) func(socketio.AdapterHost) socketio.Adapter {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Key == "" {
		o.Key = "socket.io"
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = 5 * time.Second
	}
	links := &linkPool{client: client, timeout: o.publishTimeout, obs: o.Observer}
	return func(host socketio.AdapterHost) socketio.Adapter {
		o := o
		o.Logger = loggerFor(o.Logger, host)
		return newPubSubAdapter(host, links.get(o.Logger), o)
	}
}

// linkPool hands the adapters of one factory the same link, making a new one if they all
// closed it (a server shut down and started again).
type linkPool struct {
	client  goredis.UniversalClient
	sharded bool
	timeout time.Duration
	obs     Observer

	mu   sync.Mutex
	link *link
}

// get returns the link, made with log (the first adapter's logger: those of one server share
// it) if there is none.
func (p *linkPool) get(log *slog.Logger) *link {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.link == nil || p.link.isClosed() {
		p.link = newLink(p.client, p.sharded, log, p.timeout)
		p.link.setObserver(p.obs)
	}
	p.link.acquire()
	return p.link
}

// pubSubAdapter is a namespace's adapter in the classic format.
type pubSubAdapter struct {
	*socketio.MemoryAdapter
	host socketio.AdapterHost
	link *link
	opts Options
	uid  string

	channel                 string // broadcasts: channel, or channel + room + "#"
	requestChannel          string
	responseChannel         string
	specificResponseChannel string

	reqs      *requests
	seen      *dedup                                  // what came from other Tether nodes
	split     func(n int, deliver func(from, to int)) // spreads other nodes' broadcasts
	closeOnce sync.Once
}

func newPubSubAdapter(host socketio.AdapterHost, l *link, o Options) *pubSubAdapter {
	nsp := host.Namespace()
	a := &pubSubAdapter{
		MemoryAdapter: socketio.NewMemoryAdapter(host),
		host:          host,
		link:          l,
		opts:          o,
		uid:           randomID(3), // Node's uid2(6): six characters
		reqs:          newRequests(),
		seen:          newDedup(time.Now),
		split:         splitter(o.DeliveryWorkers, o.minShare),
	}
	a.reqs.obs = o.Observer
	a.channel = o.Key + "#" + nsp + "#"
	a.requestChannel = o.Key + "-request#" + nsp + "#"
	a.responseChannel = o.Key + "-response#" + nsp + "#"
	a.specificResponseChannel = a.responseChannel + a.uid + "#"
	l.psubscribe(a.onBroadcast, a.channel+"*")
	l.subscribe(a.onRequest, a.requestChannel, a.responseChannel, a.specificResponseChannel)
	return a
}

func (a *pubSubAdapter) logf(msg string, args ...any) {
	a.opts.Logger.Debug("redis adapter: "+msg, append(args, logattr.Namespace, a.host.Namespace())...)
}

// Broadcast delivers p to the local sockets and publishes it for the other nodes.
func (a *pubSubAdapter) Broadcast(p *socketio.Packet, opts socketio.BroadcastOptions) error {
	if !opts.Flags.Local {
		pv, err := packetValue(p)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		// Node reads [uid, packet, opts]; the number goes fourth.
		if err := array(str(a.uid), pv, optionsValue(opts), integer(0)).encodeMsgpack(&buf); err != nil {
			return err
		}
		channel := a.channel
		if len(opts.Rooms) == 1 {
			channel += opts.Rooms[0] + "#"
		}
		a.link.publish(channel, buf.Bytes(), stampMsgpack)
	}
	return a.MemoryAdapter.Broadcast(p, opts)
}

// BroadcastWithAck delivers p to the local sockets and asks the other nodes to deliver it;
// they report their recipient counts and forward acknowledgements until the flags' Timeout.
func (a *pubSubAdapter) BroadcastWithAck(p *socketio.Packet, opts socketio.BroadcastOptions, onCount func(int), onAck func(socketio.Args)) error {
	if !opts.Flags.Local {
		pv, err := packetValue(p)
		if err != nil {
			return err
		}
		id := randomID(3)
		timeout := opts.Flags.Timeout
		if timeout <= 0 {
			timeout = a.opts.RequestsTimeout
		}
		a.reqs.addAck(id, timeout, onCount, onAck)
		req := object("uid", str(a.uid), "requestId", str(id), "type", integer(reqBroadcast),
			"packet", pv, "opts", optionsValue(opts))
		var buf bytes.Buffer
		if err := withSeq(req).encodeMsgpack(&buf); err != nil {
			return err
		}
		a.link.publish(a.requestChannel, buf.Bytes(), stampMsgpack)
	}
	return a.MemoryAdapter.BroadcastWithAck(p, opts, onCount, onAck)
}

// ServerCount counts the nodes subscribed to the namespace's request channel.
func (a *pubSubAdapter) ServerCount(ctx context.Context) (int, error) {
	n, err := a.link.numSub(ctx, a.requestChannel)
	if err != nil {
		return 0, fmt.Errorf("redis adapter: counting nodes: %w", err)
	}
	return max(n, 1), nil
}

// FetchSockets returns the sockets opts selects on every node.
func (a *pubSubAdapter) FetchSockets(ctx context.Context, opts socketio.BroadcastOptions) ([]socketio.SocketInfo, error) {
	local, err := a.MemoryAdapter.FetchSockets(ctx, opts)
	if err != nil || opts.Flags.Local {
		return local, err
	}
	got, err := a.ask(ctx, "fetchSockets", object("type", integer(reqRemoteFetch), "opts", roomsValue(opts)))
	return append(local, got.sockets...), err
}

// AllRooms returns the rooms of every node.
func (a *pubSubAdapter) AllRooms(ctx context.Context) ([]string, error) {
	local := a.Rooms()
	got, err := a.ask(ctx, "allRooms", object("type", integer(reqAllRooms)))
	seen := map[string]struct{}{}
	for _, r := range local {
		seen[r] = struct{}{}
	}
	for r := range got.rooms {
		if _, ok := seen[r]; !ok {
			seen[r] = struct{}{}
			local = append(local, r)
		}
	}
	return local, err
}

// ask sends a request, in JSON as Node does, and gathers every other node's answer.
func (a *pubSubAdapter) ask(ctx context.Context, what string, body value) (gathered, error) {
	return a.reqs.ask(ctx, what, a.ServerCount, randomID(3), func(id string) error {
		body.set("uid", str(a.uid))
		body.set("requestId", str(id))
		a.link.publish(a.requestChannel, withSeq(body).json(), stampJSON)
		return nil
	}, a.opts.RequestsTimeout)
}

// AddSockets makes the sockets opts selects join rooms, here and on the other nodes.
func (a *pubSubAdapter) AddSockets(opts socketio.BroadcastOptions, rooms []string) error {
	if !opts.Flags.Local {
		a.publishRequest(object("type", integer(reqRemoteJoin), "opts", roomsValue(opts), "rooms", strs(nonNil(rooms))))
	}
	return a.MemoryAdapter.AddSockets(opts, rooms)
}

// DelSockets makes the sockets opts selects leave rooms, here and on the other nodes.
func (a *pubSubAdapter) DelSockets(opts socketio.BroadcastOptions, rooms []string) error {
	if !opts.Flags.Local {
		a.publishRequest(object("type", integer(reqRemoteLeave), "opts", roomsValue(opts), "rooms", strs(nonNil(rooms))))
	}
	return a.MemoryAdapter.DelSockets(opts, rooms)
}

// DisconnectSockets disconnects the sockets opts selects, here and on the other nodes.
func (a *pubSubAdapter) DisconnectSockets(opts socketio.BroadcastOptions, closeConn bool) error {
	if !opts.Flags.Local {
		a.publishRequest(object("type", integer(reqRemoteDisconnect), "opts", roomsValue(opts), "close", boolean(closeConn)))
	}
	return a.MemoryAdapter.DisconnectSockets(opts, closeConn)
}

// publishRequest publishes a request that expects no answer, in JSON as Node does.
func (a *pubSubAdapter) publishRequest(body value) {
	body.set("uid", str(a.uid))
	a.link.publish(a.requestChannel, withSeq(body).json(), stampJSON)
}

// ServerSideEmit sends an event to the other nodes' server-side handlers. Node sends it as
// JSON, so binary arguments arrive as {"type":"Buffer","data":[...]} objects.
func (a *pubSubAdapter) ServerSideEmit(p *socketio.Packet) error {
	data, err := eventData(p)
	if err != nil {
		return err
	}
	a.publishRequest(object("type", integer(reqServerSideEmit), "data", data))
	return nil
}

// ServerSideEmitWithAck sends an event to the other nodes' server-side handlers and collects
// the first argument of each node's answer.
func (a *pubSubAdapter) ServerSideEmitWithAck(ctx context.Context, p *socketio.Packet) ([]socketio.Args, error) {
	data, err := eventData(p)
	if err != nil {
		return nil, err
	}
	got, err := a.ask(ctx, "serverSideEmit", object("type", integer(reqServerSideEmit), "data", data))
	return append([]socketio.Args{}, got.answers...), err
}

// Close unsubscribes the namespace's channels and lets go of the link.
func (a *pubSubAdapter) Close() error {
	a.closeOnce.Do(func() {
		a.link.unsubscribe([]string{a.requestChannel, a.responseChannel, a.specificResponseChannel}, []string{a.channel + "*"})
		a.reqs.close()
		a.link.release()
	})
	return nil
}

// onBroadcast delivers a broadcast another node published: [uid, packet, opts].
func (a *pubSubAdapter) onBroadcast(channel string, payload []byte) {
	if len(channel) < len(a.channel) || channel[:len(a.channel)] != a.channel {
		return
	}
	if room := channel[len(a.channel):]; len(room) > 1 && !a.HasRoom(room[:len(room)-1]) {
		return // a broadcast to one room this node has no socket in
	}
	msg, err := decodeMsgpack(payload)
	if err != nil || msg.kind != kindArray || len(msg.items) < 3 {
		a.logf("ignoring malformed broadcast", logattr.Err, err)
		return
	}
	uid, _ := msg.items[0].text()
	if uid == a.uid {
		return
	}
	pv := msg.items[1]
	if packetNamespace(pv) != a.host.Namespace() {
		return
	}
	var seq uint64
	if len(msg.items) > 3 {
		if n, ok := msg.items[3].int(); ok && n > 0 {
			seq = uint64(n)
		}
	}
	if !a.seen.fresh(uid, seq) {
		return
	}
	p, err := eventPacket(a.host, pv)
	if err != nil {
		a.logf("ignoring broadcast", logattr.Err, err)
		return
	}
	_ = a.MemoryAdapter.BroadcastSplit(p, broadcastOptions(msg.items[2]), a.split)
}

// onRequest handles the request and response channels.
func (a *pubSubAdapter) onRequest(channel string, payload []byte) {
	msg, err := decodeMessage(payload)
	if err != nil || msg.kind != kindObject {
		a.logf("ignoring malformed message", "channel", channel, logattr.Err, err)
		return
	}
	if uid, _ := msg.field("uid").text(); uid != a.uid && !a.seen.fresh(uid, seqOf(msg)) {
		return
	}
	if channel != a.requestChannel {
		a.onResponse(msg)
		return
	}
	typ, _ := msg.field("type").int()
	id, _ := msg.field("requestId").text()
	uid, _ := msg.field("uid").text()
	mine := uid == a.uid
	switch typ {
	case reqSockets:
		if mine || a.reqs.has(id) {
			return
		}
		local, _ := a.MemoryAdapter.FetchSockets(context.Background(), socketio.BroadcastOptions{Rooms: msg.field("rooms").stringList()})
		ids := make([]string, len(local))
		for i, s := range local {
			ids[i] = s.ID
		}
		a.respond(msg, a.stamped(object("requestId", str(id), "sockets", strs(ids))).json(), stampJSON)
	case reqAllRooms:
		if mine || a.reqs.has(id) {
			return
		}
		a.respond(msg, a.stamped(object("requestId", str(id), "rooms", strs(nonNil(a.Rooms())))).json(), stampJSON)
	case reqRemoteJoin, reqRemoteLeave, reqRemoteDisconnect:
		if mine {
			return // done locally when asked
		}
		a.onRemoteRoomChange(typ, msg, id)
	case reqRemoteFetch:
		if mine || a.reqs.has(id) {
			return
		}
		local, _ := a.MemoryAdapter.FetchSockets(context.Background(), broadcastOptions(msg.field("opts")))
		sockets := value{kind: kindArray}
		for _, s := range local {
			sockets.items = append(sockets.items, socketValue(s))
		}
		a.respond(msg, a.stamped(object("requestId", str(id), "sockets", sockets)).json(), stampJSON)
	case reqServerSideEmit:
		if mine {
			return
		}
		a.onServerSideEmit(msg, id)
	case reqBroadcast:
		if mine || a.reqs.has(id) {
			return
		}
		a.onBroadcastWithAck(msg, id)
	}
}

// onRemoteRoomChange applies another node's socketsJoin, socketsLeave or disconnectSockets
// (or the older form naming one socket, which is answered).
func (a *pubSubAdapter) onRemoteRoomChange(typ int64, msg value, id string) {
	if o, ok := msg.get("opts"); ok && o.kind == kindObject {
		opts := broadcastOptions(o)
		switch typ {
		case reqRemoteJoin:
			_ = a.MemoryAdapter.AddSockets(opts, msg.field("rooms").stringList())
		case reqRemoteLeave:
			_ = a.MemoryAdapter.DelSockets(opts, msg.field("rooms").stringList())
		default:
			_ = a.MemoryAdapter.DisconnectSockets(opts, msg.field("close").truthy())
		}
		return
	}
	sid, _ := msg.field("sid").text()
	if _, ok := a.host.LocalSocket(sid); !ok {
		return
	}
	room, _ := msg.field("room").text()
	own := socketio.BroadcastOptions{Rooms: []string{sid}, Flags: socketio.BroadcastFlags{Local: true}}
	switch typ {
	case reqRemoteJoin:
		_ = a.MemoryAdapter.AddSockets(own, []string{room})
	case reqRemoteLeave:
		_ = a.MemoryAdapter.DelSockets(own, []string{room})
	default:
		_ = a.MemoryAdapter.DisconnectSockets(own, msg.field("close").truthy())
	}
	a.respond(msg, a.stamped(object("requestId", str(id))).json(), stampJSON)
}

// onServerSideEmit runs the namespace's server-side handlers for another node's event, off
// the subscription's goroutine (handlers are user code), and answers when asked to.
func (a *pubSubAdapter) onServerSideEmit(msg value, id string) {
	p, err := serverSidePacket(a.host, msg.field("data"))
	if err != nil {
		a.logf("ignoring server-side emit", logattr.Err, err)
		return
	}
	var reply func(socketio.Args)
	if _, withAck := msg.get("requestId"); withAck {
		var once sync.Once
		reply = func(args socketio.Args) {
			once.Do(func() {
				v, err := firstArg(args)
				if err != nil {
					a.logf("cannot forward a server-side acknowledgement", logattr.Err, err)
				}
				// Node answers on the shared response channel, whatever its options.
				a.link.publish(a.responseChannel, a.stamped(object("type", integer(reqServerSideEmit), "requestId", str(id), "data", v)).json(), stampJSON)
			})
		}
	}
	go a.host.ReceiveServerSideEmit(p, reply)
}

// onBroadcastWithAck delivers another node's broadcast with acknowledgements, reporting the
// recipient count and forwarding each acknowledgement's first argument.
func (a *pubSubAdapter) onBroadcastWithAck(msg value, id string) {
	p, err := eventPacket(a.host, msg.field("packet"))
	if err != nil {
		a.logf("ignoring broadcast with acknowledgements", logattr.Err, err)
		return
	}
	onCount := func(n int) {
		a.respond(msg, a.stamped(object("type", integer(reqBroadcastClientCount), "requestId", str(id), "clientCount", integer(int64(n)))).json(), stampJSON)
	}
	onAck := func(args socketio.Args) {
		v, err := firstArg(args)
		if err != nil {
			a.logf("cannot forward an acknowledgement", logattr.Err, err)
		}
		var buf bytes.Buffer
		if a.stamped(object("type", integer(reqBroadcastAck), "requestId", str(id), "packet", v)).encodeMsgpack(&buf) == nil {
			a.respond(msg, buf.Bytes(), stampMsgpack)
		}
	}
	_ = a.MemoryAdapter.BroadcastWithAck(p, broadcastOptions(msg.field("opts")), onCount, onAck)
}

// stamped adds the responder and the number's placeholder to a response: Node's responses
// name no responder, and Node ignores both.
func (a *pubSubAdapter) stamped(response value) value {
	response.set("uid", str(a.uid))
	return withSeq(response)
}

// respond publishes the answer to a request, made by stamped.
func (a *pubSubAdapter) respond(req value, payload []byte, s stamp) {
	channel := a.responseChannel
	if a.opts.PublishOnSpecificResponseChannel {
		uid, _ := req.field("uid").text()
		channel = a.responseChannel + uid + "#"
	}
	a.link.publish(channel, payload, s)
}

// onResponse records another node's answer to one of this node's requests.
func (a *pubSubAdapter) onResponse(msg value) {
	id, _ := msg.field("requestId").text()
	if ack := a.reqs.ack(id); ack != nil {
		typ, _ := msg.field("type").int()
		switch typ {
		case reqBroadcastClientCount:
			if n, ok := msg.field("clientCount").int(); ok {
				ack.onCount(int(n))
			}
		case reqBroadcastAck:
			if args, err := argsOf(a.host, msg.field("packet")); err == nil {
				ack.onAck(args)
			}
		}
		return
	}
	a.reqs.answer(id, func(what string, got *gathered) {
		switch what {
		case "fetchSockets":
			for _, s := range msg.field("sockets").items {
				if info, ok := socketInfoOf(a.host, s); ok {
					got.sockets = append(got.sockets, info)
				}
			}
		case "allRooms":
			if got.rooms == nil {
				got.rooms = map[string]struct{}{}
			}
			for _, r := range msg.field("rooms").stringList() {
				got.rooms[r] = struct{}{}
			}
		case "serverSideEmit":
			if args, err := argsOf(a.host, msg.field("data")); err == nil {
				got.answers = append(got.answers, args)
			}
		}
	})
}
