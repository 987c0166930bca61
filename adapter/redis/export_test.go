package redis

import "time"

// SetPublishTimeout shortens the bound on one publishing round trip (5 s in use), so that a
// fault test pausing Redis for longer than it takes seconds, not tens of seconds.
func (o *Options) SetPublishTimeout(d time.Duration) { o.publishTimeout = d }

// SetPublishTimeout is Options.SetPublishTimeout.
func (o *ShardedOptions) SetPublishTimeout(d time.Duration) { o.publishTimeout = d }

// SetPublishTimeout is Options.SetPublishTimeout.
func (o *StreamsOptions) SetPublishTimeout(d time.Duration) { o.publishTimeout = d }

// SetMinShare sets the fewest recipients a delivery worker is given (256 in use), so that a
// test with a few clients has its broadcasts split among the workers.
func (o *Options) SetMinShare(n int) { o.minShare = n }

// SetMinShare is Options.SetMinShare.
func (o *ShardedOptions) SetMinShare(n int) { o.minShare = n }

// SetMinShare is Options.SetMinShare.
func (o *StreamsOptions) SetMinShare(n int) { o.minShare = n }
