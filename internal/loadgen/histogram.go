package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram counts durations in log-linear buckets: every power of two of
// nanoseconds is split into histSub equal buckets, so a quantile is off by at
// most 1/histSub (3%) whatever its size. Histograms from several goroutines or
// processes merge by adding counts.
type Histogram struct {
	counts [64 * histSub]uint64
	total  uint64
	sum    uint64
	max    uint64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
)

func bucketOf(v uint64) int {
	if v < histSub {
		return int(v)
	}
	exp := bits.Len64(v) - histSubBits - 1 // shift that leaves histSub..2*histSub-1
	return (exp+1)*histSub + int(v>>uint(exp)) - histSub
}

// bucketMid is the middle of the values bucket i holds.
func bucketMid(i int) float64 {
	if i < histSub {
		return float64(i)
	}
	exp := i/histSub - 1
	lo := uint64(i%histSub+histSub) << uint(exp)
	return float64(lo) + float64(uint64(1)<<uint(exp))/2
}

// Record adds one observation.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)]++
	h.total++
	h.sum += v
	h.max = max(h.max, v)
}

// Merge adds o's observations to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Reset forgets every observation.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.total }

// Quantile returns the duration below which a fraction q of the observations
// fall, or 0 when there are none.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketMid(i), float64(h.max)))
		}
	}
	return time.Duration(h.max)
}

// Mean returns the average observation.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / h.total)
}

// Max returns the largest observation.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// histogramWire is a histogram as a worker sends it: only the non-empty buckets.
type histogramWire struct {
	Buckets map[int]uint64 `json:"b,omitempty"`
	Sum     uint64         `json:"s,omitempty"`
	Max     uint64         `json:"m,omitempty"`
}

func (h *Histogram) wire() *histogramWire {
	w := &histogramWire{Buckets: map[int]uint64{}, Sum: h.sum, Max: h.max}
	for i, c := range h.counts {
		if c != 0 {
			w.Buckets[i] = c
		}
	}
	return w
}

func (h *Histogram) mergeWire(w *histogramWire) {
	if w == nil {
		return
	}
	for i, c := range w.Buckets {
		if i >= 0 && i < len(h.counts) {
			h.counts[i] += c
			h.total += c
		}
	}
	h.sum += w.Sum
	h.max = max(h.max, w.Max)
}
