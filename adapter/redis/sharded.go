package redis

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/socketio"
)

// SubscriptionMode says which rooms get a channel of their own in the sharded adapter.
type SubscriptionMode string

// The subscription modes of Node's createShardedAdapter.
const (
	// StaticSubscription: two channels per namespace, whatever the rooms.
	StaticSubscription SubscriptionMode = "static"
	// DynamicSubscription (the default): also one channel per public room (a room that is
	// not a socket's own id), so a node only receives the room broadcasts it has sockets for.
	DynamicSubscription SubscriptionMode = "dynamic"
	// DynamicPrivateSubscription: one channel per room, private rooms included.
	DynamicPrivateSubscription SubscriptionMode = "dynamic-private"
)

// ShardedOptions configure the adapter of NewShardedAdapter. The zero value is Node's
// defaults.
type ShardedOptions struct {
	// ChannelPrefix prefixes every channel name; default "socket.io".
	ChannelPrefix string
	// SubscriptionMode; default DynamicSubscription. Every node of a cluster must use the
	// same.
	SubscriptionMode SubscriptionMode
	// RequestsTimeout bounds how long a request to the other nodes waits; default 5 s.
	RequestsTimeout time.Duration
	// Logger receives the adapter's warnings (the start and end of each Redis outage) and,
	// at debug level, the messages it ignores; default: the server's (AdapterHost.Logger).
	Logger *slog.Logger
	// Observer, when set, is told of publish and subscribe errors and of requests timed out,
	// for metrics.
	Observer Observer
	// DeliveryWorkers bounds the goroutines that deliver one broadcast of another node to
	// this node's sockets; default GOMAXPROCS. See Options.DeliveryWorkers.
	DeliveryWorkers int

	publishTimeout time.Duration // a test's bound on one publishing round trip
	minShare       int           // a test's fewest recipients per delivery worker
}

// NewShardedAdapter returns an adapter factory for socketio.ServerOptions.Adapter over
// Redis 7's sharded pub/sub (SSUBSCRIBE, SPUBLISH), which spreads channels over the shards of
// a Redis Cluster. It speaks the format of Node's createShardedAdapter from
// @socket.io/redis-adapter 8 (the cluster message format of socket.io-adapter), so Go and
// Node nodes can share a cluster. Behaviour under faults is NewAdapter's.
func NewShardedAdapter(client goredis.UniversalClient, opts *ShardedOptions) func(socketio.AdapterHost) socketio.Adapter {
	o := ShardedOptions{}
	if opts != nil {
		o = *opts
	}
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "socket.io"
	}
	if o.SubscriptionMode == "" {
		o.SubscriptionMode = DynamicSubscription
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = 5 * time.Second
	}
	links := &linkPool{client: client, sharded: true, timeout: o.publishTimeout, obs: o.Observer}
	return func(host socketio.AdapterHost) socketio.Adapter {
		log := loggerFor(o.Logger, host)
		a := newClusterAdapter(host, o.RequestsTimeout, log, false, splitter(o.DeliveryWorkers, o.minShare))
		a.reqs.obs = o.Observer
		t := &shardedTransport{
			a:               a,
			link:            links.get(log),
			mode:            o.SubscriptionMode,
			channel:         o.ChannelPrefix + "#" + host.Namespace() + "#",
			responseChannel: o.ChannelPrefix + "#" + host.Namespace() + "#" + a.uid + "#",
			subscribed:      map[string]bool{},
			seen:            newDedup(time.Now),
			wake:            make(chan struct{}, 1),
			stopped:         make(chan struct{}),
		}
		a.t = t
		t.link.subscribe(t.onMessage, t.channel, t.responseChannel)
		if t.mode != StaticSubscription {
			t.stopRoomEvents = host.OnRoomEvent(func(e socketio.RoomEvent) {
				switch e.Kind {
				case socketio.RoomCreated:
					t.roomChanged(e.Room, true)
				case socketio.RoomDeleted:
					t.roomChanged(e.Room, false)
				}
			})
			go t.manageRooms()
		} else {
			close(t.stopped)
		}
		return a
	}
}

// shardedTransport carries the cluster format over sharded pub/sub.
type shardedTransport struct {
	a                        *clusterAdapter
	link                     *link
	mode                     SubscriptionMode
	channel, responseChannel string
	seen                     *dedup // what came from other Tether nodes

	mu         sync.Mutex
	changes    []roomChange
	closed     bool
	subscribed map[string]bool // room channels, touched by manageRooms only
	wake       chan struct{}
	stopped    chan struct{}
	// stopRoomEvents removes the room listener: a namespace removed while the server runs
	// (ServerOptions.CleanupEmptyChildNamespaces) must not keep calling a closed transport.
	stopRoomEvents func()
}

type roomChange struct {
	room    string
	created bool
}

// looksLikeSocketID is Node's guess, from the sending side, that a room is a socket's own.
func looksLikeSocketID(room string) bool { return len(room) == 20 }

func (t *shardedTransport) roomChannel(room string) string { return t.channel + room + "#" }

func (t *shardedTransport) publish(_ context.Context, msg value, _ bool) (string, error) {
	payload, s := t.encode(msg)
	t.link.publish(t.channelOf(msg), payload, s)
	return "", nil
}

// channelOf is where a message goes: a broadcast without acknowledgement to exactly one
// room goes to that room's channel when the mode gives it one.
func (t *shardedTransport) channelOf(msg value) string {
	typ, _ := msg.field("type").int()
	data := msg.field("data")
	if typ != msgBroadcast || t.mode == StaticSubscription {
		return t.channel
	}
	if _, withAck := data.get("requestId"); withAck {
		return t.channel
	}
	rooms := data.field("opts").field("rooms").stringList()
	if len(rooms) != 1 {
		return t.channel
	}
	if t.mode == DynamicPrivateSubscription || !looksLikeSocketID(rooms[0]) {
		return t.roomChannel(rooms[0])
	}
	return t.channel
}

// encode writes JSON, or MessagePack when the message carries binary, as Node does, with
// the placeholder of the message's number.
func (t *shardedTransport) encode(msg value) ([]byte, stamp) {
	msg = withSeq(msg)
	if !msg.hasBinary() {
		return msg.json(), stampJSON
	}
	var buf bytes.Buffer
	if err := msg.encodeMsgpack(&buf); err != nil {
		return msg.json(), stampJSON
	}
	return buf.Bytes(), stampMsgpack
}

func (t *shardedTransport) respond(uid string, msg value) {
	payload, s := t.encode(msg)
	t.link.publish(t.channel+uid+"#", payload, s)
}

func (t *shardedTransport) serverCount(ctx context.Context) (int, error) {
	return t.link.numSub(ctx, t.channel)
}

func (t *shardedTransport) offsets() bool { return false }

func (t *shardedTransport) onMessage(_ string, payload []byte) {
	msg, err := decodeMessage(payload)
	if err != nil || msg.kind != kindObject {
		t.a.logf("ignoring malformed message", logattr.Err, err)
		return
	}
	if uid, _ := msg.field("uid").text(); !t.seen.fresh(uid, seqOf(msg)) {
		return
	}
	t.a.onMessage(msg, "")
}

// roomChanged is called with the memory adapter's lock held: it only queues the change.
func (t *shardedTransport) roomChanged(room string, created bool) {
	t.mu.Lock()
	if !t.closed {
		t.changes = append(t.changes, roomChange{room, created})
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// manageRooms subscribes to the channels of rooms as they appear and unsubscribes when they
// empty, off the adapter's lock.
func (t *shardedTransport) manageRooms() {
	defer close(t.stopped)
	for {
		t.mu.Lock()
		changes, closed := t.changes, t.closed
		t.changes = nil
		t.mu.Unlock()
		for _, c := range changes {
			ch := t.roomChannel(c.room)
			switch {
			case c.created && !t.subscribed[ch]:
				// A socket's own room is private; Node tells them apart the same way.
				if t.mode == DynamicSubscription && t.a.MemoryAdapter.IsSocket(c.room) {
					continue
				}
				t.subscribed[ch] = true
				t.link.subscribe(t.onMessage, ch)
			case !c.created && t.subscribed[ch]:
				delete(t.subscribed, ch)
				t.link.unsubscribe([]string{ch}, nil)
			}
		}
		if closed {
			return
		}
		<-t.wake
	}
}

func (t *shardedTransport) close() {
	if t.stopRoomEvents != nil {
		t.stopRoomEvents()
	}
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	<-t.stopped
	channels := []string{t.channel, t.responseChannel}
	for ch := range t.subscribed {
		channels = append(channels, ch)
	}
	t.link.unsubscribe(channels, nil)
	t.link.release()
}
