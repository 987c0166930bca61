//go:build linux

package adversary

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The publisher of slowConsumersAtScale: a 4 KiB broadcast, scaleRate a second, for
// scaleDuration.
const (
	scaleDuration = 30 * time.Second
	scaleRate     = 50
)

// ScaleRSSBound is how much the server's RSS may grow during slowConsumersAtScale. Each of
// the ~2,100 connections costs the server a few tens of KiB (buffers, goroutine stacks,
// session and socket), about 100 MiB in all; the broadcasts are encoded once and shared, so
// a full send queue (1,024 packets) is pointers, not copies. 512 MiB leaves room for GC pace
// and would still catch a copy of the payload per slow client (2,000 × 1,024 × 4 KiB = 8 GiB).
const ScaleRSSBound = 512 << 20

// slowConsumersAtScale connects SlowConsumers clients that join "/" and then never read
// (4 KiB receive buffers) and Healthy ones that read everything, and has a publisher emit
// broadcast with a 4 KiB string scaleRate times a second for scaleDuration. Every healthy
// client must get every broadcast, in order; the slow ones must be disconnected by the
// server's policy (heartbeat or send queue); the server's RSS must stay within
// ScaleRSSBound of the baseline; and, after, everything must be released (the slow clients
// keep their sockets open until the leak check).
func slowConsumersAtScale(ctx context.Context, tg *Target) (string, error) {
	m := tg.Mode
	healthy := make([]*counter, m.Healthy)
	clients := make([]*SIOClient, 0, m.Healthy+1)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := range healthy {
		h := &counter{}
		c, err := tg.DialSIO(ctx, fmt.Sprintf("healthy-%d", i), h.onEvent)
		if err != nil {
			return "", err
		}
		healthy[i] = h
		clients = append(clients, c)
	}
	if err := dialSlowConsumers(ctx, tg, m.SlowConsumers); err != nil {
		return "", err
	}
	pub, err := tg.DialSIO(ctx, "publisher", nil)
	if err != nil {
		return "", err
	}
	clients = append(clients, pub)

	pad := strings.Repeat("p", 4096)
	sent := 0
	tick := time.NewTicker(time.Second / scaleRate)
	end := time.Now().Add(scaleDuration)
	for time.Now().Before(end) && ctx.Err() == nil {
		<-tick.C
		if err := pub.Emit(`["broadcast","` + strconv.Itoa(sent) + `:` + pad + `"]`); err != nil {
			tick.Stop()
			return "", fmt.Errorf("the publisher could not emit broadcast %d: %w", sent, err)
		}
		sent++
	}
	tick.Stop()

	// The healthy clients get everything, within 10 s of the last emit.
	var errs []error
	deadline := time.Now().Add(10 * time.Second)
	for _, h := range healthy {
		for h.got.Load() < int64(sent) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	short, disorder := 0, 0
	for _, h := range healthy {
		if h.got.Load() != int64(sent) {
			short++
		}
		if h.disorder.Load() > 0 {
			disorder++
		}
	}
	if short > 0 {
		errs = append(errs, fmt.Errorf("%d of %d healthy clients did not get all %d broadcasts", short, m.Healthy, sent))
	}
	if disorder > 0 {
		errs = append(errs, fmt.Errorf("%d of %d healthy clients got broadcasts out of order or twice", disorder, m.Healthy))
	}
	for _, c := range clients {
		if f := c.Failures(); len(f) > 0 {
			errs = append(errs, fmt.Errorf("%s was hurt: %s", c.Name, strings.Join(f, "; ")))
			break
		}
	}

	// The slow ones are gone: only the healthy clients and the publisher remain.
	want := tg.Base().Sockets + m.Healthy + 1
	var s Sample
	for start := time.Now(); time.Since(start) < SettleBound; time.Sleep(500 * time.Millisecond) {
		if s, err = tg.Sample(ctx); err == nil && s.Sockets <= want {
			break
		}
	}
	if s.Sockets > want {
		errs = append(errs, fmt.Errorf("%d of %d non-reading clients still connected %v after the last broadcast",
			s.Sockets-want, m.SlowConsumers, SettleBound))
	}
	peak := tg.Peak()
	rss := int64(peak.RSS) - int64(tg.Base().RSS)
	if rss > ScaleRSSBound {
		errs = append(errs, fmt.Errorf("RSS grew by %.1f MiB, more than %s", float64(rss)/(1<<20), MiB(ScaleRSSBound)))
	}
	out := fmt.Sprintf("%d broadcasts; %d/%d healthy got all; peak sockets %d, RSS %s (%+.1f MiB), heap_inuse %s",
		sent, m.Healthy-short, m.Healthy, peak.Sockets, MiB(peak.RSS), float64(rss)/(1<<20), MiB(peak.HeapInuse))
	return out, errors.Join(errs...)
}

// counter counts the broadcasts a healthy client gets and notices gaps and repeats.
type counter struct {
	got      atomic.Int64
	disorder atomic.Int64
}

func (c *counter) onEvent(p []byte) {
	rest, ok := bytes.CutPrefix(p, []byte(`["broadcast-back","`))
	if !ok {
		return
	}
	seq, _, _ := bytes.Cut(rest, []byte(":"))
	n, err := strconv.ParseInt(string(seq), 10, 64)
	if err != nil || n != c.got.Load() {
		c.disorder.Add(1)
	}
	c.got.Add(1)
}

// dialSlowConsumers connects n clients with 4 KiB receive buffers to "/", 50 at a time; they
// never read again, and keep their sockets open until the suite closes them.
func dialSlowConsumers(ctx context.Context, tg *Target, n int) error {
	sem := make(chan struct{}, 50)
	var mu sync.Mutex
	var first error
	failed := 0
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			conn, err := tg.DialSmallRcvbuf(ctx, 4096)
			if err == nil {
				_, err = DialSIO(ctx, fmt.Sprintf("slow-%d", i), conn)
			}
			if err != nil {
				mu.Lock()
				failed++
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed > 0 {
		return fmt.Errorf("%d of %d non-reading clients could not connect, first: %w", failed, n, first)
	}
	return nil
}
