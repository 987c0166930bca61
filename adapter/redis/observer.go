package redis

// Observer is told of the adapter's faults, for metrics: set it as the Observer of Options,
// ShardedOptions or StreamsOptions. Its methods are called on the adapter's goroutines and
// must return at once. Package metrics/prometheus has one.
type Observer interface {
	// PublishError is called for each failed attempt to publish to Redis (one per batch of
	// messages; the attempt is retried, and the messages dropped after a while).
	PublishError()
	// SubscribeError is called for each failed attempt to subscribe, or to read the
	// subscription.
	SubscribeError()
	// RequestTimeout is called for each request to the other nodes (fetch sockets, all
	// rooms, server-side emit with acknowledgement, …) that ended without all their answers
	// when its RequestsTimeout ran out.
	RequestTimeout()
}

// setObserver has the link's publish and subscribe failures told to obs (nil: to no one).
// It takes each outage's lock: the link's goroutines are running already.
func (l *link) setObserver(obs Observer) {
	if obs == nil {
		return
	}
	for o, f := range map[*outage]func(){&l.subOutage: obs.SubscribeError, &l.pubOutage: obs.PublishError} {
		o.mu.Lock()
		o.count = f
		o.mu.Unlock()
	}
}
