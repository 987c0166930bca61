package redis

import "time"

// SetPublishTimeout shortens the bound on one publishing round trip (5 s in use), so that a
// fault test pausing Redis for longer than it takes seconds, not tens of seconds.
func (o *Options) SetPublishTimeout(d time.Duration) { o.publishTimeout = d }

// SetPublishTimeout is Options.SetPublishTimeout.
func (o *ShardedOptions) SetPublishTimeout(d time.Duration) { o.publishTimeout = d }

// SetPublishTimeout is Options.SetPublishTimeout.
func (o *StreamsOptions) SetPublishTimeout(d time.Duration) { o.publishTimeout = d }
