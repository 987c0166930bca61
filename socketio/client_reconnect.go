package socketio

import (
	"context"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tether-rt/tether/internal/logattr"
)

// backoffDelay returns the wait before reconnection attempt n (from 0): base doubled n times,
// moved up or down by a random part of itself of at most jitter, then capped at maxDelay. It
// is the formula of the JavaScript client, so that mixed fleets behave alike; rnd is uniform
// in [0, 1).
func backoffDelay(n int, base, maxDelay time.Duration, jitter, rnd float64) time.Duration {
	d := float64(base) * math.Pow(2, float64(min(n, 62)))
	if jitter > 0 {
		dev := math.Floor(rnd * jitter * d)
		if int(math.Floor(rnd*10))&1 == 0 {
			d -= dev
		} else {
			d += dev
		}
	}
	if d > float64(maxDelay) {
		return maxDelay
	}
	return time.Duration(d)
}

// startReconnecting runs the reconnection loop, unless it runs already or the client closed.
func (c *Client) startReconnecting(reason DisconnectReason, err error) {
	c.mu.Lock()
	if c.closed || c.reconnect {
		c.mu.Unlock()
		return
	}
	c.reconnect = true
	c.wg.Add(1)
	c.mu.Unlock()
	go c.reconnectLoop(reason, err)
}

// reconnectLoop dials again after a back-off until a connection is up (dial rejoins the
// sockets that were connected), the attempts run out, no socket wants a connection any more,
// or the client closes.
func (c *Client) reconnectLoop(reason DisconnectReason, lastErr error) {
	defer c.wg.Done()
	stop := func() {
		c.mu.Lock()
		c.reconnect = false
		c.mu.Unlock()
	}
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for attempt := 0; ; attempt++ {
		if n := c.opts.ReconnectionAttempts; n > 0 && attempt >= n {
			stop()
			c.opts.Logger.Info("socketio: reconnection failed", "attempts", attempt, logattr.Err, lastErr)
			c.hookFailed()
			c.shutdown(&ConnectionLostError{Reason: reason, Err: lastErr}, reason, false)
			return
		}
		timer.Reset(backoffDelay(attempt, c.opts.ReconnectionDelay, c.opts.ReconnectionDelayMax, c.opts.RandomizationFactor, rand.Float64()))
		select {
		case <-timer.C:
		case <-c.ctx.Done():
			stop()
			return
		}
		if len(c.activeSockets()) == 0 {
			stop()
			return
		}
		c.hookAttempt(attempt + 1)
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.DialTimeout)
		_, err := c.connection(ctx)
		cancel()
		if err == nil {
			c.hookReconnect(attempt + 1)
			// A connection lost again meanwhile found this loop running and left it the work.
			c.mu.Lock()
			if c.conn != nil || c.closed {
				c.reconnect = false
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			attempt = -1
			continue
		}
		if c.ctx.Err() != nil {
			stop()
			return
		}
		lastErr = err
		c.opts.Logger.Debug("socketio: reconnection attempt failed", "attempt", attempt+1, logattr.Err, err)
		c.hookReconnectError(err)
	}
}
