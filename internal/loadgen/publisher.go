package loadgen

import (
	"context"
	"fmt"
	"time"
)

// startPublisher connects the publishing socket (as the connection after the
// subscribers) and starts emitting: Inflight broadcasts at first, then one
// more each time one has reached every subscriber; or, with an Interval, one
// every Interval.
func (s *runState) startPublisher(ctx context.Context) error {
	cfg := s.cfg
	c, err := cfg.dialSocketIO(ctx, cfg.Conns)
	if err != nil {
		return err
	}
	s.publisher = c
	s.tokens = make(chan struct{}, cfg.Inflight)
	for range cfg.Inflight {
		s.tokens <- struct{}{}
	}
	go func() { // answers pings; what the server sends the publisher is not measured
		for {
			if _, _, err := c.next(); err != nil {
				return
			}
		}
	}()
	go func() {
		var arg, packet []byte
		var tick <-chan time.Time
		if cfg.Interval > 0 {
			t := time.NewTicker(cfg.Interval)
			defer t.Stop()
			tick = t.C
		}
		for seq := int64(0); ; seq++ {
			if tick != nil {
				select {
				case <-tick:
				case <-ctx.Done():
					return
				}
			} else {
				select {
				case <-s.tokens:
				case <-ctx.Done():
					return
				}
			}
			now := time.Now()
			s.mu.Lock()
			s.pending[seq] = &pendingBroadcast{sentAt: now, counted: s.marked.Load()}
			s.mu.Unlock()
			arg = broadcastArg(arg[:0], seq, now, cfg.Size)
			packet = c.appendEvent(packet[:0], cfg.Event, -1, arg)
			if err := c.write(opText, packet); err != nil {
				return // the run ends as broadcasts stop completing
			}
		}
	}()
	return nil
}

// broadcastDone notes that one worker's subscribers all got broadcast seq.
func (s *runState) broadcastDone(seq, last int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending[seq]
	if p == nil {
		s.failed = fmt.Errorf("broadcast %d was reported delivered twice", seq)
		return
	}
	p.workers++
	p.last = max(p.last, last)
	if p.workers < len(s.workers) {
		return
	}
	delete(s.pending, seq)
	if p.counted && s.marked.Load() {
		s.completed++
		s.broadcastHist.Record(time.Duration(p.last))
	}
	select {
	case s.tokens <- struct{}{}:
	default: // open loop: nobody takes tokens
	}
}

// checkBroadcasts fails the run when a broadcast has not reached every subscriber in time.
func (s *runState) checkBroadcasts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq, p := range s.pending {
		if time.Since(p.sentAt) > broadcastTimeout {
			s.failed = fmt.Errorf("broadcast %d did not reach every subscriber within %s (%d of %d workers' subscribers got it)",
				seq, broadcastTimeout, p.workers, len(s.workers))
			return
		}
	}
}
