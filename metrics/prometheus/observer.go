package prometheus

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/socketio"
)

// Options configures an Observer. The zero value (or nil) is ready to use.
type Options struct {
	// Events, when set, adds an event label to the event counters, with these names as its
	// values; an event not listed is counted under "other". Event names come from clients,
	// so list the ones the application handles: a label per name a client can make up would
	// grow without bound. With Events set, each event sent costs one small allocation,
	// once per recipient of a broadcast: its name is read out of the encoded packet. Without
	// it, counting allocates nothing.
	Events []string
	// AckBuckets are the buckets of tether_socketio_ack_duration_seconds, in seconds; nil
	// means prometheus.DefBuckets.
	AckBuckets []float64
}

// Observer turns what a server tells it into Prometheus metrics. It is a socketio.Observer
// and an engineio.Observer; set it as socketio.ServerOptions.Observer (or
// engineio.ServerOptions.Observer for a plain Engine.IO server) and as the Observer of the
// Redis adapter's options. One Observer may serve several servers: their figures add up.
type Observer struct {
	events map[string]struct{} // nil: no event label

	connected    *prometheus.GaugeVec
	connects     *prometheus.CounterVec
	refusals     *prometheus.CounterVec
	disconnects  *prometheus.CounterVec
	received     *prometheus.CounterVec
	sent         *prometheus.CounterVec
	recipients   *prometheus.HistogramVec
	acksPending  *prometheus.GaugeVec
	ackDuration  *prometheus.HistogramVec
	ackFailures  *prometheus.CounterVec
	sessions     prometheus.Gauge
	opened       *prometheus.CounterVec
	closed       *prometheus.CounterVec
	refused      *prometheus.CounterVec
	upgrades     prometheus.Counter
	msgsIn       prometheus.Counter
	msgsOut      prometheus.Counter
	bytesIn      prometheus.Counter
	bytesOut     prometheus.Counter
	volatileDrop prometheus.Counter
	slowClients  prometheus.Counter
	pubErrors    prometheus.Counter
	subErrors    prometheus.Counter
	reqTimeouts  prometheus.Counter
}

var (
	_ socketio.Observer = (*Observer)(nil)
	_ engineio.Observer = (*Observer)(nil)
)

// New returns an Observer whose collectors are registered on reg; an error, and nothing
// registered, when reg refuses one (another set of Tether metrics registered there already,
// say).
func New(reg prometheus.Registerer, opts *Options) (*Observer, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	eventLabels := []string{"namespace"}
	obs := &Observer{}
	if o.Events != nil {
		obs.events = make(map[string]struct{}, len(o.Events))
		for _, e := range o.Events {
			obs.events[e] = struct{}{}
		}
		eventLabels = append(eventLabels, "event")
	}
	ackBuckets := o.AckBuckets
	if ackBuckets == nil {
		ackBuckets = prometheus.DefBuckets
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	obs.connected = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tether_socketio_connected_sockets",
		Help: "Socket.IO sockets connected now."}, []string{"namespace"})
	obs.connects = counterVec("tether_socketio_connects_total", "Socket.IO sockets connected.", "namespace")
	obs.refusals = counterVec("tether_socketio_connect_refusals_total", "Socket.IO sockets a middleware refused.", "namespace")
	obs.disconnects = counterVec("tether_socketio_disconnects_total", "Socket.IO sockets that left, by reason.", "namespace", "reason")
	obs.received = counterVec("tether_socketio_events_received_total", "Socket.IO events received from clients.", eventLabels...)
	obs.sent = counterVec("tether_socketio_events_sent_total", "Socket.IO events sent, once per recipient.", eventLabels...)
	obs.recipients = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tether_socketio_broadcast_recipients",
		Help:    "Local sockets each broadcast reached.",
		Buckets: []float64{0, 1, 10, 100, 1000, 10000, 100000}}, []string{"namespace"})
	obs.acksPending = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tether_socketio_acks_pending",
		Help: "Emits waiting for their acknowledgement."}, []string{"namespace"})
	obs.ackDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tether_socketio_ack_duration_seconds",
		Help: "Time until an acknowledgement came.", Buckets: ackBuckets}, []string{"namespace"})
	obs.ackFailures = counterVec("tether_socketio_ack_failures_total", "Acknowledgements that never came (timeout, socket gone).", "namespace")
	obs.sessions = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tether_engineio_open_sessions", Help: "Engine.IO sessions open now."})
	obs.opened = counterVec("tether_engineio_sessions_opened_total", "Engine.IO handshakes completed, by first transport.", "transport")
	obs.closed = counterVec("tether_engineio_sessions_closed_total", "Engine.IO sessions ended, by reason.", "reason")
	obs.refused = counterVec("tether_engineio_requests_refused_total", "Engine.IO requests refused, by reason.", "reason")
	obs.upgrades = counter("tether_engineio_upgrades_total", "Engine.IO sessions upgraded from polling to websocket.")
	obs.msgsIn = counter("tether_engineio_messages_received_total", "Engine.IO messages received.")
	obs.msgsOut = counter("tether_engineio_messages_sent_total", "Engine.IO messages queued for clients.")
	obs.bytesIn = counter("tether_engineio_received_bytes_total", "Engine.IO message payload bytes received.")
	obs.bytesOut = counter("tether_engineio_sent_bytes_total", "Engine.IO message payload bytes queued for clients.")
	obs.volatileDrop = counter("tether_engineio_volatile_drops_total", "Volatile messages dropped for clients not keeping up.")
	obs.slowClients = counter("tether_engineio_slow_client_disconnects_total", "Sessions closed because their client did not read (send queue full, write timeout).")
	obs.pubErrors = counter("tether_redis_publish_errors_total", "Redis adapter publishes that failed.")
	obs.subErrors = counter("tether_redis_subscribe_errors_total", "Redis adapter subscriptions that failed.")
	obs.reqTimeouts = counter("tether_redis_request_timeouts_total", "Redis adapter requests that other nodes did not all answer in time.")

	cs := []prometheus.Collector{obs.connected, obs.connects, obs.refusals, obs.disconnects, obs.received, obs.sent,
		obs.recipients, obs.acksPending, obs.ackDuration, obs.ackFailures, obs.sessions, obs.opened, obs.closed,
		obs.refused, obs.upgrades, obs.msgsIn, obs.msgsOut, obs.bytesIn, obs.bytesOut, obs.volatileDrop,
		obs.slowClients, obs.pubErrors, obs.subErrors, obs.reqTimeouts}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	return obs, nil
}

// eventCounter returns the counter of an event of nsp, labelled with its name when asked.
func (o *Observer) eventCounter(v *prometheus.CounterVec, nsp string, event func() string) prometheus.Counter {
	if o.events == nil {
		return v.WithLabelValues(nsp)
	}
	name := event()
	if _, ok := o.events[name]; !ok {
		name = "other"
	}
	return v.WithLabelValues(nsp, name)
}

// SocketConnected implements socketio.Observer.
func (o *Observer) SocketConnected(nsp string) {
	o.connected.WithLabelValues(nsp).Inc()
	o.connects.WithLabelValues(nsp).Inc()
}

// SocketDisconnected implements socketio.Observer.
func (o *Observer) SocketDisconnected(nsp string, reason socketio.DisconnectReason) {
	o.connected.WithLabelValues(nsp).Dec()
	o.disconnects.WithLabelValues(nsp, string(reason)).Inc()
}

// ConnectRefused implements socketio.Observer.
func (o *Observer) ConnectRefused(nsp string) { o.refusals.WithLabelValues(nsp).Inc() }

// EventReceived implements socketio.Observer.
func (o *Observer) EventReceived(nsp, event string) {
	o.eventCounter(o.received, nsp, func() string { return event }).Inc()
}

// EventSent implements socketio.Observer.
func (o *Observer) EventSent(nsp string, p *socketio.Packet) {
	o.eventCounter(o.sent, nsp, p.Event).Inc()
}

// Broadcast implements socketio.Observer.
func (o *Observer) Broadcast(nsp string, recipients int) {
	o.recipients.WithLabelValues(nsp).Observe(float64(recipients))
}

// AckWaiting implements socketio.Observer.
func (o *Observer) AckWaiting(nsp string) { o.acksPending.WithLabelValues(nsp).Inc() }

// AckDone implements socketio.Observer.
func (o *Observer) AckDone(nsp string, waited time.Duration, ok bool) {
	o.acksPending.WithLabelValues(nsp).Dec()
	if ok {
		o.ackDuration.WithLabelValues(nsp).Observe(waited.Seconds())
	} else {
		o.ackFailures.WithLabelValues(nsp).Inc()
	}
}

// SessionOpened implements engineio.Observer.
func (o *Observer) SessionOpened(transport string) {
	o.sessions.Inc()
	o.opened.WithLabelValues(transport).Inc()
}

// SessionClosed implements engineio.Observer.
func (o *Observer) SessionClosed(reason engineio.CloseReason) {
	o.sessions.Dec()
	o.closed.WithLabelValues(string(reason)).Inc()
}

// refusalReasons names engineio's Code constants, by code.
var refusalReasons = [...]string{
	engineio.CodeUnknownTransport:           "unknown_transport",
	engineio.CodeUnknownSession:             "unknown_session",
	engineio.CodeBadHandshakeMethod:         "bad_handshake_method",
	engineio.CodeBadRequest:                 "bad_request",
	engineio.CodeForbidden:                  "forbidden",
	engineio.CodeUnsupportedProtocolVersion: "unsupported_protocol_version",
}

// RequestRefused implements engineio.Observer.
func (o *Observer) RequestRefused(code int) {
	reason := "other"
	if code >= 0 && code < len(refusalReasons) {
		reason = refusalReasons[code]
	}
	o.refused.WithLabelValues(reason).Inc()
}

// Upgraded implements engineio.Observer.
func (o *Observer) Upgraded() { o.upgrades.Inc() }

// MessageReceived implements engineio.Observer.
func (o *Observer) MessageReceived(bytes int) {
	o.msgsIn.Inc()
	o.bytesIn.Add(float64(bytes))
}

// MessageSent implements engineio.Observer.
func (o *Observer) MessageSent(bytes int) {
	o.msgsOut.Inc()
	o.bytesOut.Add(float64(bytes))
}

// VolatileDropped implements engineio.Observer.
func (o *Observer) VolatileDropped() { o.volatileDrop.Inc() }

// SlowClient implements engineio.Observer.
func (o *Observer) SlowClient() { o.slowClients.Inc() }

// PublishError implements the Redis adapter's Observer.
func (o *Observer) PublishError() { o.pubErrors.Inc() }

// SubscribeError implements the Redis adapter's Observer.
func (o *Observer) SubscribeError() { o.subErrors.Inc() }

// RequestTimeout implements the Redis adapter's Observer.
func (o *Observer) RequestTimeout() { o.reqTimeouts.Inc() }
