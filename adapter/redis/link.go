package redis

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/internal/logattr"
)

// A link is one node's connection to Redis, shared by the adapters of all its namespaces
// (as Node's adapters share their pub and sub clients): one subscription connection that
// routes messages by channel, and one publishing goroutine that pipelines what the adapters
// send. Neither ever blocks a caller on Redis: when Redis is away, subscriptions are retried
// with back-off and go-redis resubscribes on reconnection, messages to publish queue up to a
// bound, and each failure is logged once per outage.
type link struct {
	client  goredis.UniversalClient
	sharded bool // SSUBSCRIBE/SPUBLISH instead of SUBSCRIBE/PUBLISH
	log     *slog.Logger
	timeout time.Duration // bounds one round trip: a pipeline, a subscription change

	mu       sync.Mutex
	ps       *goredis.PubSub
	channels map[string]func(channel string, payload []byte)
	patterns map[string]func(channel string, payload []byte)
	users    int // adapters using the link; it closes with the last one

	pubMu    sync.Mutex
	queue    []outgoing
	seq      uint64 // the last number given in lane laneQueued
	dropped  int
	wake     chan struct{}
	closing  bool
	done     chan struct{} // closed when both goroutines have returned
	stopSubs chan struct{}

	subOutage, pubOutage outage

	directSeq atomic.Uint64 // the last number given in lane laneDirect
}

// outgoing is a message to publish on a channel, or an entry to add to a stream.
type outgoing struct {
	channel string
	payload []byte

	stream string // XADD to stream, trimmed to about maxLen entries, instead of publishing
	maxLen int64
	fields []string

	stamp stamp // where the link writes the message's number
}

const (
	// maxQueued bounds the messages waiting to be published while Redis is slow or away;
	// beyond it new messages are dropped (pub/sub delivery is at most once anyway).
	maxQueued = 10000
	// maxBatch is how many messages one pipeline carries.
	maxBatch = 256
	// publishTimeout bounds one pipeline's round trip, unless a test sets a shorter one.
	publishTimeout = 5 * time.Second
	// idlePing is how long the subscription may be silent before it is checked with a PING.
	idlePing = 15 * time.Second
	// maxRetryDelay caps the back-off between attempts to get the subscription back.
	maxRetryDelay = 2 * time.Second
)

func newLink(client goredis.UniversalClient, sharded bool, log *slog.Logger, timeout time.Duration) *link {
	if timeout <= 0 {
		timeout = publishTimeout
	}
	l := &link{
		client:   client,
		sharded:  sharded,
		log:      log,
		timeout:  timeout,
		channels: map[string]func(string, []byte){},
		patterns: map[string]func(string, []byte){},
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		stopSubs: make(chan struct{}),
	}
	l.subOutage = outage{log: log, what: "subscription"}
	l.pubOutage = outage{log: log, what: "publishing"}
	ctx := context.Background()
	if sharded {
		l.ps = client.SSubscribe(ctx)
	} else {
		l.ps = client.Subscribe(ctx)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.receive() }()
	go func() { defer wg.Done(); l.publishLoop() }()
	go func() { wg.Wait(); close(l.done) }()
	return l
}

// acquire and release count the adapters using the link.
func (l *link) acquire() {
	l.mu.Lock()
	l.users++
	l.mu.Unlock()
}

// release closes the link when the last adapter lets go of it, after trying to publish what
// is queued.
func (l *link) release() {
	l.mu.Lock()
	l.users--
	last := l.users == 0
	l.mu.Unlock()
	if !last {
		return
	}
	l.pubMu.Lock()
	l.closing = true
	l.pubMu.Unlock()
	l.signal()
	close(l.stopSubs)
	_ = l.ps.Close()
	<-l.done
}

// subscribe routes the messages of channels to handle. Subscribing while Redis is away
// succeeds: go-redis subscribes once the connection is back.
func (l *link) subscribe(handle func(channel string, payload []byte), channels ...string) {
	l.mu.Lock()
	for _, c := range channels {
		l.channels[c] = handle
	}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	var err error
	if l.sharded {
		err = l.ps.SSubscribe(ctx, channels...)
	} else {
		err = l.ps.Subscribe(ctx, channels...)
	}
	if err != nil {
		l.subOutage.fail(err)
	}
}

// psubscribe routes the messages of channels matching pattern to handle.
func (l *link) psubscribe(handle func(channel string, payload []byte), pattern string) {
	l.mu.Lock()
	l.patterns[pattern] = handle
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if err := l.ps.PSubscribe(ctx, pattern); err != nil {
		l.subOutage.fail(err)
	}
}

// unsubscribe stops routing channels and patterns.
func (l *link) unsubscribe(channels, patterns []string) {
	l.mu.Lock()
	for _, c := range channels {
		delete(l.channels, c)
	}
	for _, p := range patterns {
		delete(l.patterns, p)
	}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	// Errors do not matter: the channels are forgotten, and a closed link unsubscribes all.
	if len(channels) > 0 {
		if l.sharded {
			_ = l.ps.SUnsubscribe(ctx, channels...)
		} else {
			_ = l.ps.Unsubscribe(ctx, channels...)
		}
	}
	if len(patterns) > 0 {
		_ = l.ps.PUnsubscribe(ctx, patterns...)
	}
}

// receive reads the subscription until the link closes, routing messages to their handler.
func (l *link) receive() {
	ctx := context.Background()
	delay := 50 * time.Millisecond
	for {
		msg, err := l.ps.ReceiveTimeout(ctx, idlePing)
		select {
		case <-l.stopSubs:
			return
		default:
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Silence: a PING makes a dead connection show itself.
				_ = l.ps.Ping(ctx)
				continue
			}
			if errors.Is(err, goredis.ErrClosed) {
				return
			}
			l.subOutage.fail(err)
			select {
			case <-l.stopSubs:
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, maxRetryDelay)
			continue
		}
		delay = 50 * time.Millisecond
		switch m := msg.(type) {
		case *goredis.Subscription:
			l.subOutage.ok()
		case *goredis.Message:
			l.route(m)
		}
	}
}

func (l *link) route(m *goredis.Message) {
	l.mu.Lock()
	var handle func(string, []byte)
	if m.Pattern != "" {
		handle = l.patterns[m.Pattern]
	} else {
		handle = l.channels[m.Channel]
	}
	l.mu.Unlock()
	if handle != nil {
		handle(m.Channel, []byte(m.Payload))
	}
}

// publish queues a message, numbered where s says. It never blocks: when the queue is full
// the message is dropped, and the drop is reported when Redis answers again.
func (l *link) publish(channel string, payload []byte, s stamp) {
	l.enqueue(outgoing{channel: channel, payload: payload, stamp: s})
}

// nextDirectSeq numbers a message sent outside the queue.
func (l *link) nextDirectSeq() uint64 { return l.directSeq.Add(1)<<1 | laneDirect }

func (l *link) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// publishLoop publishes the queue in order, in pipelines, until the link closes. A batch that
// fails is retried with back-off, so a brief blip (Redis restarting) loses nothing; one still
// failing after the longest back-off is dropped, and so is one failing while the link closes.
// A batch that timed out may still run (Redis paused with it in its socket buffer), so the
// retry may run it twice: Tether receivers drop the repeats by their numbers, and go-redis
// retries a timed-out command by itself anyway. Not retrying would lose every batch sent
// into a connection that died, to spare Node receivers a repeat that go-redis may send them
// all the same.
func (l *link) publishLoop() {
	const firstDelay = 50 * time.Millisecond
	delay := firstDelay
	for {
		batch, closing, ok := l.next()
		if !ok {
			return
		}
		err := l.send(batch)
		if err == nil {
			if dropped := l.advance(len(batch), false); l.pubOutage.ok() && dropped > 0 {
				l.log.Warn("redis adapter: messages dropped while Redis was unreachable", "count", dropped)
			}
			delay = firstDelay
			continue
		}
		l.pubOutage.fail(err)
		if closing {
			l.advance(len(batch), true)
			continue
		}
		if delay >= maxRetryDelay {
			l.advance(len(batch), true)
		}
		select {
		case <-time.After(delay):
		case <-l.stopSubs:
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// next waits for messages to publish and returns the first batch of them, without copying:
// publish only appends past them. It reports false when the link is closed and the queue
// empty.
func (l *link) next() (batch []outgoing, closing, ok bool) {
	l.pubMu.Lock()
	defer l.pubMu.Unlock()
	for len(l.queue) == 0 && !l.closing {
		l.pubMu.Unlock()
		<-l.wake
		l.pubMu.Lock()
	}
	n := min(len(l.queue), maxBatch)
	return l.queue[:n:n], l.closing, n > 0
}

// advance removes the first n queued messages, counting them as dropped when they were not
// sent. After a success it returns the number dropped since the last one, and resets it.
func (l *link) advance(n int, dropped bool) int {
	l.pubMu.Lock()
	defer l.pubMu.Unlock()
	clear(l.queue[:n]) // let the payloads go
	l.queue = l.queue[n:]
	if dropped {
		l.dropped += n
		return 0
	}
	d := l.dropped
	l.dropped = 0
	return d
}

func (l *link) send(batch []outgoing) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if len(batch) == 1 {
		return l.publishOne(ctx, l.client, batch[0])
	}
	_, err := l.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, m := range batch {
			_ = l.publishOne(ctx, p, m)
		}
		return nil
	})
	return err
}

func (l *link) publishOne(ctx context.Context, c goredis.Cmdable, m outgoing) error {
	if m.stream != "" {
		return c.XAdd(ctx, xaddArgs(m.stream, m.maxLen, m.fields)).Err()
	}
	if l.sharded {
		return c.SPublish(ctx, m.channel, m.payload).Err()
	}
	return c.Publish(ctx, m.channel, m.payload).Err()
}

// enqueue queues an outgoing message as publish does, numbering it in the queue's order.
func (l *link) enqueue(m outgoing) {
	if m.stamp == stampJSON || m.stamp == stampMsgpack {
		m.payload = slices.Grow(m.payload, seqRoom)
	}
	l.pubMu.Lock()
	if l.closing {
		l.pubMu.Unlock()
		return
	}
	if len(l.queue) >= maxQueued {
		l.dropped++
		l.pubMu.Unlock()
		return
	}
	if m.stamp != stampNone {
		l.seq++
		m.stamp.write(&m, l.seq<<1|laneQueued)
	}
	l.queue = append(l.queue, m)
	l.pubMu.Unlock()
	l.signal()
}

// xaddArgs describes an XADD trimmed to about maxLen entries, as Node's streams adapter does.
func xaddArgs(stream string, maxLen int64, fields []string) *goredis.XAddArgs {
	values := make([]any, len(fields))
	for i, f := range fields {
		values[i] = f
	}
	return &goredis.XAddArgs{Stream: stream, MaxLen: maxLen, Approx: true, ID: "*", Values: values}
}

// numSub counts the subscribers of channel: Node's adapters count nodes that way.
func (l *link) numSub(ctx context.Context, channel string) (int, error) {
	var counts map[string]int64
	var err error
	if l.sharded {
		counts, err = l.client.PubSubShardNumSub(ctx, channel).Result()
	} else {
		counts, err = l.client.PubSubNumSub(ctx, channel).Result()
	}
	if err != nil {
		return 0, err
	}
	return int(counts[channel]), nil
}

// outage logs a failing operation once when it starts failing and once when it works again,
// however many messages fail in between, both as warnings: the default level of a server's
// log shows warnings, and an operator who sees an outage begin must see it end.
type outage struct {
	log  *slog.Logger
	what string
	// count, when set, is called for each failure (an Observer's method).
	count func()

	mu   sync.Mutex
	down bool
}

func (o *outage) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.count != nil {
		o.count()
	}
	if !o.down {
		o.down = true
		o.log.Warn("redis adapter: Redis unreachable; local delivery goes on, retrying", logattr.Op, o.what, logattr.Err, err)
	}
}

// ok records a success and reports whether it ended an outage.
func (o *outage) ok() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		o.down = false
		o.log.Warn("redis adapter: Redis reachable again", logattr.Op, o.what)
		return true
	}
	return false
}

// isClosed reports whether the link's last adapter has released it.
func (l *link) isClosed() bool {
	select {
	case <-l.stopSubs:
		return true
	default:
		return false
	}
}
