package redis

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/socketio"
)

// StreamsOptions configure the adapter of NewStreamsAdapter. The zero value is Node's
// defaults, except BlockTime.
type StreamsOptions struct {
	// StreamName is the Redis stream every node appends to and reads; default "socket.io".
	StreamName string
	// ChannelPrefix prefixes the pub/sub channels of requests and responses; default
	// "socket.io".
	ChannelPrefix string
	// MaxLen is about how many entries the stream keeps; default 10,000. A client can recover
	// only while its last offset is still in the stream.
	MaxLen int64
	// ReadCount is how many entries one read takes; default 100.
	ReadCount int64
	// BlockTime is how long one read waits for new entries; default 1 s (Node: 5 s). It also
	// bounds how long closing the adapter waits for the reader.
	BlockTime time.Duration
	// SessionKeyPrefix prefixes the keys of disconnected sessions; default "sio:session:".
	SessionKeyPrefix string
	// RequestsTimeout bounds how long a request to the other nodes waits; default 5 s.
	RequestsTimeout time.Duration
	// Logger receives the adapter's warnings (the start and end of each Redis outage) and,
	// at debug level, the messages it ignores; default: the server's (AdapterHost.Logger).
	Logger *slog.Logger
	// Observer, when set, is told of publish and subscribe errors and of requests timed out,
	// for metrics.
	Observer Observer
	// DeliveryWorkers bounds the goroutines that deliver one broadcast read from the stream
	// to this node's sockets; default GOMAXPROCS. See Options.DeliveryWorkers.
	DeliveryWorkers int

	publishTimeout time.Duration // a test's bound on one publishing round trip
	minShare       int           // a test's fewest recipients per delivery worker
}

// NewStreamsAdapter returns an adapter factory for socketio.ServerOptions.Adapter over a Redis
// stream, in the format of Node's @socket.io/redis-streams-adapter 0.3. Broadcasts and room
// changes are appended to the stream, which every node reads; requests and responses, which
// need not last, go over pub/sub.
//
// Because the stream numbers every broadcast and sessions are kept in Redis, connection state
// recovery works across nodes: a client cut from one node and reconnected to another (or to a
// Node node with the streams adapter) gets its id, rooms, data and missed events back, for
// the server's MaxDisconnectionDuration and while its offset is among the stream's last MaxLen
// entries.
//
// When Redis is unreachable, local delivery goes on without offsets (those events cannot be
// recovered), the error is logged once, and reading resumes by itself.
func NewStreamsAdapter(client goredis.UniversalClient, opts *StreamsOptions) func(socketio.AdapterHost) socketio.Adapter {
	o := StreamsOptions{}
	if opts != nil {
		o = *opts
	}
	if o.StreamName == "" {
		o.StreamName = "socket.io"
	}
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "socket.io"
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 10000
	}
	if o.ReadCount <= 0 {
		o.ReadCount = 100
	}
	if o.BlockTime <= 0 {
		o.BlockTime = time.Second
	}
	if o.SessionKeyPrefix == "" {
		o.SessionKeyPrefix = "sio:session:"
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = 5 * time.Second
	}
	f := &streamsFactory{
		client: client,
		opts:   o,
		links:  &linkPool{client: client, timeout: o.publishTimeout, obs: o.Observer},
		seen:   newDedup(time.Now),
		recent: &recentBroadcasts{maxEntries: int(o.MaxLen), maxBytes: recentBroadcastBytes},
	}
	return f.newAdapter
}

// recentBroadcastBytes bounds the memory of the broadcasts a node keeps for restorations
// (recentBroadcasts), counted as the size of their data in the stream.
const recentBroadcastBytes = 32 << 20

// recentReadWait bounds how long a restoration waits for the reader to reach the end of the
// stream before it reads the stream itself.
const recentReadWait = time.Second

// streamsFactory shares one stream reader among the namespaces of a server.
type streamsFactory struct {
	client goredis.UniversalClient
	opts   StreamsOptions
	links  *linkPool
	seen   *dedup // the stream entries of other Tether nodes, read by read alone
	recent *recentBroadcasts
	// ownPending holds the local deliveries of this node's recoverable broadcasts until the
	// reader reads them (broadcastInOrder).
	ownPending pendingDeliveries

	mu       sync.Mutex
	adapters map[string]*clusterAdapter // by namespace
	stop     context.CancelFunc
	stopped  chan struct{}
}

func (f *streamsFactory) newAdapter(host socketio.AdapterHost) socketio.Adapter {
	log := loggerFor(f.opts.Logger, host)
	a := newClusterAdapter(host, f.opts.RequestsTimeout, log, true, splitter(f.opts.DeliveryWorkers, f.opts.minShare))
	a.reqs.obs = f.opts.Observer
	t := &streamsTransport{
		f:             f,
		a:             a,
		link:          f.links.get(log),
		publicChannel: f.opts.ChannelPrefix + "#" + host.Namespace() + "#",
		seen:          newDedup(time.Now),
	}
	t.privateChannel = t.publicChannel + a.uid + "#"
	a.t = t
	t.link.subscribe(t.onMessage, t.publicChannel, t.privateChannel)
	f.mu.Lock()
	if f.adapters == nil {
		f.adapters = map[string]*clusterAdapter{}
	}
	f.adapters[host.Namespace()] = a
	if f.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		f.stop, f.stopped = cancel, make(chan struct{})
		go f.read(ctx, f.stopped, log)
	}
	f.mu.Unlock()
	return &streamsAdapter{clusterAdapter: a, t: t}
}

// read follows the stream from its end, handing entries to their namespace's adapter, and
// logs to log.
func (f *streamsFactory) read(ctx context.Context, done chan struct{}, log *slog.Logger) {
	defer close(done)
	offset := "$"
	f.recent.reset() // what a reader stopped earlier kept is not followed by what comes now
	delay := 50 * time.Millisecond
	var down outage
	down.log, down.what = log, "reading the stream"
	for ctx.Err() == nil {
		if offset == "$" {
			// Where the stream ends, as an id: the reader has read that far (for
			// restorations: recentBroadcasts.waitRead), and reads what comes after.
			last, err := f.client.XRevRangeN(ctx, f.opts.StreamName, "+", "-", 1).Result()
			switch {
			case err == nil && len(last) == 1:
				offset = last[0].ID
			case err == nil:
				offset = "0-0" // no stream yet: everything that comes is new
			}
			if offset != "$" {
				f.recent.advance(offset)
			}
		}
		res, err := f.client.XRead(ctx, &goredis.XReadArgs{
			Streams: []string{f.opts.StreamName, offset},
			Count:   f.opts.ReadCount,
			Block:   f.opts.BlockTime,
		}).Result()
		if errors.Is(err, goredis.Nil) {
			down.ok()
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			down.fail(err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, maxRetryDelay)
			continue
		}
		down.ok()
		delay = 50 * time.Millisecond
		for _, s := range res {
			for _, m := range s.Messages {
				offset = m.ID
				if !f.seen.freshEntry(m.Values) {
					continue // an XADD Redis ran twice
				}
				uid, _ := m.Values["uid"].(string)
				seq, _ := m.Values["seq"].(string)
				own := f.ownPending.take(uid + "/" + seq)
				msg, err := decodeStreamEntry(m.Values)
				if err != nil {
					log.Debug("redis adapter: ignoring stream entry", "id", m.ID, logattr.Err, err)
					continue
				}
				nsp, _ := msg.field("nsp").text()
				if typ, _ := msg.field("type").int(); typ == msgBroadcast {
					data := msg.field("data")
					size := 0
					if d, ok := m.Values["data"].(string); ok {
						size = len(d)
					}
					f.recent.add(m.ID, nsp, broadcastOptions(data.field("opts")), data.field("packet"), size)
				}
				if own != nil {
					own(m.ID) // after add: see recentBroadcasts.add
					continue
				}
				f.mu.Lock()
				a := f.adapters[nsp]
				f.mu.Unlock()
				if a != nil {
					a.onMessage(msg, m.ID)
				}
			}
		}
		// After the batch: every broadcast up to offset is kept and delivered by now.
		f.recent.advance(offset)
	}
}

// release forgets a namespace's adapter, stopping the reader with the last one.
func (f *streamsFactory) release(nsp string) {
	f.mu.Lock()
	delete(f.adapters, nsp)
	var stop context.CancelFunc
	var stopped chan struct{}
	if len(f.adapters) == 0 && f.stop != nil {
		stop, stopped = f.stop, f.stopped
		f.stop, f.stopped = nil, nil
	}
	f.mu.Unlock()
	if stop != nil {
		stop()
		<-stopped
	}
}

// streamsTransport carries the cluster format: lasting messages in the stream, requests and
// responses over pub/sub.
type streamsTransport struct {
	f                             *streamsFactory
	a                             *clusterAdapter
	link                          *link
	publicChannel, privateChannel string
	seen                          *dedup // what came over pub/sub from other Tether nodes

	mu        sync.Mutex
	downUntil time.Time // after a failed XADD, skip waiting on Redis for a moment
}

// ephemeral reports the messages Node's streams adapter sends over pub/sub rather than the
// stream: those that only matter to nodes up at the time.
func ephemeral(msg value) bool {
	typ, _ := msg.field("type").int()
	if typ == msgBroadcast {
		_, withAck := msg.field("data").get("requestId")
		return withAck
	}
	return typ == msgServerSideEmit || typ == msgFetchSockets
}

// syncAddTimeout bounds a synchronous XADD, which holds up a broadcast.
const syncAddTimeout = 2 * time.Second

func (t *streamsTransport) publish(ctx context.Context, msg value, sync bool) (string, error) {
	if ephemeral(msg) {
		var buf bytes.Buffer
		if err := withSeq(msg).encodeMsgpack(&buf); err != nil {
			return "", err
		}
		t.link.publish(t.publicChannel, buf.Bytes(), stampMsgpack)
		return "", nil
	}
	fields := append(streamFields(msg), "seq", "0")
	if !sync {
		t.link.enqueue(outgoing{stream: t.f.opts.StreamName, maxLen: t.f.opts.MaxLen, fields: fields, stamp: stampField})
		return "", nil
	}
	// Outside the queue, the entry gets a number of the direct lane (see dedup.go).
	fields[len(fields)-1] = strconv.FormatUint(t.link.nextDirectSeq(), 10)
	return t.addNow(ctx, fields)
}

// addNow appends an entry to the stream at once, within syncAddTimeout, and returns its id.
func (t *streamsTransport) addNow(ctx context.Context, fields []string) (string, error) {
	t.mu.Lock()
	down := time.Now().Before(t.downUntil)
	t.mu.Unlock()
	if down {
		return "", errors.New("redis adapter: Redis unreachable")
	}
	ctx, cancel := context.WithTimeout(ctx, syncAddTimeout)
	defer cancel()
	id, err := t.f.client.XAdd(ctx, xaddArgs(t.f.opts.StreamName, t.f.opts.MaxLen, fields)).Result()
	if err != nil {
		t.link.pubOutage.fail(err)
		t.mu.Lock()
		t.downUntil = time.Now().Add(time.Second)
		t.mu.Unlock()
		return "", err
	}
	t.link.pubOutage.ok()
	return id, nil
}

// broadcastInOrder appends a recoverable broadcast to the stream and leaves its local
// delivery to the reader, which delivers it with its id as offset, in the stream's order among
// the other nodes' broadcasts. Delivered at once instead, it could reach a socket ahead of an
// earlier entry the reader has not got to yet; the client, which resumes from the last offset
// it got, would then have the earlier entry's offset and be sent this one again. When the entry
// cannot be appended, deliver runs at once, without an offset.
func (t *streamsTransport) broadcastInOrder(msg value, deliver func(offset string)) {
	seq := strconv.FormatUint(t.link.nextDirectSeq(), 10)
	fields := append(streamFields(msg), "seq", seq)
	uid, _ := msg.field("uid").text()
	key := uid + "/" + seq
	t.f.ownPending.add(key, deliver)
	if _, err := t.addNow(context.Background(), fields); err != nil {
		// It may still run in Redis (a timeout): whichever of this and the reader takes the
		// delivery first makes it, once.
		if d := t.f.ownPending.take(key); d != nil {
			d("")
		}
	}
}

// streamFields encodes a message as a stream entry: uid, nsp, type as a decimal string, and
// data as JSON, or as base64 MessagePack when it carries binary.
func streamFields(msg value) []string {
	uid, _ := msg.field("uid").text()
	nsp, _ := msg.field("nsp").text()
	typ, _ := msg.field("type").int()
	fields := []string{"uid", uid, "nsp", nsp, "type", strconv.FormatInt(typ, 10)}
	if data, ok := msg.get("data"); ok {
		var encoded string
		var buf bytes.Buffer
		if data.hasBinary() && data.encodeMsgpack(&buf) == nil {
			encoded = base64.StdEncoding.EncodeToString(buf.Bytes())
		} else {
			encoded = string(data.json())
		}
		fields = append(fields, "data", encoded)
	}
	return fields
}

// decodeStreamEntry reads a stream entry back into a message.
func decodeStreamEntry(fields map[string]any) (value, error) {
	text := func(k string) string { s, _ := fields[k].(string); return s }
	msg := object("uid", str(text("uid")), "nsp", str(text("nsp")), "type", str(text("type")))
	if raw := text("data"); raw != "" {
		var data value
		var err error
		if strings.HasPrefix(raw, "{") {
			data, err = decodeJSON([]byte(raw))
		} else {
			var b []byte
			if b, err = base64Text(raw); err == nil {
				data, err = decodeMsgpack(b)
			}
		}
		if err != nil {
			return value{}, err
		}
		msg.set("data", data)
	}
	return msg, nil
}

func (t *streamsTransport) respond(uid string, msg value) {
	var buf bytes.Buffer
	if err := withSeq(msg).encodeMsgpack(&buf); err != nil {
		return
	}
	t.link.publish(t.f.opts.ChannelPrefix+"#"+t.a.host.Namespace()+"#"+uid+"#", buf.Bytes(), stampMsgpack)
}

func (t *streamsTransport) serverCount(ctx context.Context) (int, error) {
	return t.link.numSub(ctx, t.publicChannel)
}

func (t *streamsTransport) offsets() bool { return true }

func (t *streamsTransport) onMessage(_ string, payload []byte) {
	msg, err := decodeMsgpack(payload)
	if err != nil || msg.kind != kindObject {
		t.a.logf("ignoring malformed message", logattr.Err, err)
		return
	}
	if uid, _ := msg.field("uid").text(); !t.seen.fresh(uid, seqOf(msg)) {
		return
	}
	t.a.onMessage(msg, "")
}

func (t *streamsTransport) close() {
	t.link.unsubscribe([]string{t.publicChannel, t.privateChannel}, nil)
	t.f.release(t.a.host.Namespace())
	t.link.release()
}

// streamsAdapter adds sessions kept in Redis to the cluster adapter, and numbers what a
// recovering client can receive with stream ids, which every node can resume from.
type streamsAdapter struct {
	*clusterAdapter
	t *streamsTransport
}

// Broadcast sends p as the cluster adapter does, except that a broadcast to this node's
// sockets only gets no offset: it is not in the stream, so no node could resume from it (an
// in-memory offset would make the client's next recovery fail). Node's adapter does the same.
func (a *streamsAdapter) Broadcast(p *socketio.Packet, opts socketio.BroadcastOptions) error {
	if opts.Flags.Local {
		a.deliver(p, opts)
		return nil
	}
	return a.clusterAdapter.Broadcast(p, opts)
}

// SocketEmit sends an event to local socket id through the stream, as Node's server does
// with recovery on (a broadcast to the socket's own room): the event gets a stream id as its
// offset, at the cost of a round trip to Redis. When Redis is unreachable the event is
// delivered without an offset, as broadcasts are. A volatile event, which no recovery
// replays, is only delivered.
func (a *streamsAdapter) SocketEmit(p *socketio.Packet, id string, flags socketio.BroadcastFlags) error {
	opts := socketio.BroadcastOptions{Rooms: []string{id}, Flags: flags}
	if flags.Volatile {
		opts.Flags.Local = true
		a.deliver(p, opts)
		return nil
	}
	opts.Flags.Local = false
	return a.clusterAdapter.Broadcast(p, opts)
}

// PersistSession keeps a disconnected socket's session in Redis for the server's
// MaxDisconnectionDuration, where any node can take it back: base64 MessagePack of
// {sid, pid, rooms, data}, as Node's adapter stores it.
func (a *streamsAdapter) PersistSession(s *socketio.SessionState) error {
	rec := a.host.Recovery()
	if rec == nil {
		return nil
	}
	data := object() // Node's socket.data starts as {}, and Node apps assume an object
	if s.Data != nil {
		var err error
		if data, err = fromAny(s.Data); err != nil {
			return fmt.Errorf("redis adapter: session data: %w", err)
		}
	}
	var buf bytes.Buffer
	session := object("sid", str(s.SID), "pid", str(s.PID), "rooms", strs(nonNil(s.Rooms)), "data", data)
	if err := session.encodeMsgpack(&buf); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), syncAddTimeout)
	defer cancel()
	key := a.t.f.opts.SessionKeyPrefix + s.PID
	if err := a.t.f.client.Set(ctx, key, base64.StdEncoding.EncodeToString(buf.Bytes()), rec.MaxDisconnectionDuration).Err(); err != nil {
		return fmt.Errorf("redis adapter: persisting session: %w", err)
	}
	return nil
}

var offsetPattern = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// maxRestorePages bounds the stream reads of one restoration, of restorePageSize entries
// each, as Node's adapter does.
const (
	maxRestorePages = 100
	restorePageSize = 100
)

// errOffsetGone is MissedPackets' error for an offset that has left the stream.
var errOffsetGone = errors.New("redis adapter: recovery offset no longer in the stream")

// TakeSession takes back a session from Redis (once: it is deleted, as Node's adapter does).
// It returns nil when the session is unknown or expired or when offset has left the stream.
func (a *streamsAdapter) TakeSession(ctx context.Context, pid, offset string) (*socketio.SessionState, error) {
	if !offsetPattern.MatchString(offset) {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	client := a.t.f.client
	key := a.t.f.opts.SessionKeyPrefix + pid
	var get *goredis.StringCmd
	if _, err := client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		get = p.Get(ctx, key)
		p.Del(ctx, key)
		return nil
	}); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis adapter: taking session: %w", err)
	}
	raw, err := get.Result()
	if err != nil {
		return nil, nil
	}
	// Apart from the transaction: in a Redis cluster the stream and the key may be on
	// different shards.
	at, err := client.XRange(ctx, a.t.f.opts.StreamName, offset, offset).Result()
	if err != nil || len(at) == 0 {
		return nil, err
	}
	b, err := base64Text(raw)
	if err != nil {
		return nil, nil
	}
	sv, err := decodeMsgpack(b)
	if err != nil {
		return nil, nil
	}
	state := &socketio.SessionState{PID: pid, Rooms: sv.field("rooms").stringList(), Data: sv.field("data").toAny()}
	state.SID, _ = sv.field("sid").text()
	return state, nil
}

// MissedPackets returns the events of the stream after offset that a socket in rooms would
// have received, each with its stream id as offset.
func (a *streamsAdapter) MissedPackets(ctx context.Context, offset string, rooms []string) ([]*socketio.Packet, error) {
	if !offsetPattern.MatchString(offset) {
		return nil, errOffsetGone
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	client, stream := a.t.f.client, a.t.f.opts.StreamName
	// From memory when this node's reader holds the offset and has read as far as the
	// stream goes now (what comes after reaches the socket through its rooms); a short wait
	// for a reader a little behind is cheaper than reading the stream.
	if last, err := client.XRevRangeN(ctx, stream, "+", "-", 1).Result(); err == nil && len(last) == 1 {
		wait, cancelWait := context.WithTimeout(ctx, recentReadWait)
		caughtUp := a.t.f.recent.waitRead(wait, last[0].ID)
		cancelWait()
		if caughtUp {
			if missed, ok := a.t.f.recent.missed(a.host, offset, rooms); ok {
				return missed, nil
			}
		}
	}
	// The entries after offset, and offset itself: if it has left the stream (trimmed since
	// the session was taken), entries between them are gone too.
	var at, page *goredis.XMessageSliceCmd
	if _, err := client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		at = p.XRange(ctx, stream, offset, offset)
		page = p.XRangeN(ctx, stream, nextOffset(offset), "+", restorePageSize)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("redis adapter: reading missed packets: %w", err)
	}
	if entries, _ := at.Result(); len(entries) == 0 {
		return nil, errOffsetGone
	}
	entries, _ := page.Result()
	var missed []*socketio.Packet
	for i := 1; ; i++ {
		for _, e := range entries {
			offset = e.ID
			if e.Values["nsp"] != a.host.Namespace() || e.Values["type"] != strconv.Itoa(msgBroadcast) {
				continue
			}
			msg, err := decodeStreamEntry(e.Values)
			if err != nil {
				continue
			}
			data := msg.field("data")
			if !missedBy(rooms, broadcastOptions(data.field("opts"))) {
				continue
			}
			p, err := eventPacket(a.host, data.field("packet"))
			if err != nil {
				continue
			}
			missed = append(missed, p.WithOffset(e.ID))
		}
		if len(entries) < restorePageSize || i == maxRestorePages {
			return missed, nil
		}
		var err error
		if entries, err = client.XRangeN(ctx, stream, nextOffset(offset), "+", restorePageSize).Result(); err != nil {
			return nil, fmt.Errorf("redis adapter: reading missed packets: %w", err)
		}
	}
}

// nextOffset is the stream id right after offset.
func nextOffset(offset string) string {
	ts, seq, _ := strings.Cut(offset, "-")
	n, _ := strconv.ParseUint(seq, 10, 64)
	return ts + "-" + strconv.FormatUint(n+1, 10)
}

// missedBy reports whether a socket in rooms was among a broadcast's recipients.
func missedBy(rooms []string, opts socketio.BroadcastOptions) bool {
	in := len(opts.Rooms) == 0
	for _, r := range opts.Rooms {
		if slices.Contains(rooms, r) {
			in = true
			break
		}
	}
	for _, r := range opts.Except {
		if slices.Contains(rooms, r) {
			return false
		}
	}
	return in
}
