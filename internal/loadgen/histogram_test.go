package loadgen

import (
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {0.999, 9990 * time.Microsecond}, {1, 10000 * time.Microsecond}} {
		got := h.Quantile(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff < -0.04 || diff > 0.04 {
			t.Errorf("Quantile(%v) = %v, want %v ± 4%%", tc.q, got, tc.want)
		}
	}
	if h.Max() != 10*time.Millisecond || h.Count() != 10000 {
		t.Errorf("Max, Count = %v, %d", h.Max(), h.Count())
	}
	if m := h.Mean(); m < 5000*time.Microsecond || m > 5001*time.Microsecond {
		t.Errorf("Mean = %v", m)
	}
}

func TestHistogramBucketsAreMonotonic(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<20; v += 1 + v/64 {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d after %d", v, b, prev)
		}
		if mid := bucketMid(b); mid < float64(v)*0.95-1 || mid > float64(v)*1.05+1 {
			t.Fatalf("bucketMid(bucketOf(%d)) = %v", v, mid)
		}
		prev = b
	}
	if b := bucketOf(^uint64(0)); b >= 64*histSub {
		t.Fatalf("largest value lands in bucket %d", b)
	}
}

func TestHistogramWireRoundTrip(t *testing.T) {
	var a, b Histogram
	a.Record(3 * time.Microsecond)
	a.Record(7 * time.Millisecond)
	b.mergeWire(a.wire())
	b.mergeWire(a.wire())
	if b.Count() != 4 || b.Max() != 7*time.Millisecond || b.Quantile(0.25) > 4*time.Microsecond {
		t.Fatalf("merged: count %d max %v p25 %v", b.Count(), b.Max(), b.Quantile(0.25))
	}
}
