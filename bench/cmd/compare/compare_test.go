package main

import (
	"strings"
	"testing"
	"time"
)

// TestScenarios runs every scenario briefly against every implementation:
// it catches a server that fails to echo or drops idle connections, not
// performance regressions.
func TestScenarios(t *testing.T) {
	bins, err := build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(killChildren)
	cfg := &config{size: 64, warmup: 50 * time.Millisecond, duration: 200 * time.Millisecond,
		settle: 10 * time.Millisecond, sources: 1}
	for _, impl := range []string{"gorilla", "gws", "coder", "tether"} {
		t.Run(impl, func(t *testing.T) {
			v, err := runEcho(cfg, bins, impl, 10)
			if err != nil {
				t.Fatalf("echo: %v", err)
			}
			if v.rate <= 0 || v.cpu < 0 {
				t.Errorf("echo: got %+v", v)
			}
			if _, err := runIdle(cfg, bins, impl, 200); err != nil {
				t.Fatalf("idle: %v", err)
			}
		})
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int]string{1: "1", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	s := []sample{{rate: 3}, {rate: 1}, {rate: 2}, {rate: 10}}
	if got, want := spread(s, func(v sample) float64 { return v.rate }, "%.1f"), "2.5 (1.0–10.0)"; got != want {
		t.Errorf("spread = %q, want %q", got, want)
	}
	table := newResultsForTest().table()
	if !strings.Contains(table, "| tether | 1.0k | 2.00 | 0.5 |") {
		t.Errorf("table:\n%s", table)
	}
}

func newResultsForTest() *results {
	r := newResults(&config{impls: []string{"tether"}, conns: []int{100}, idle: 10})
	r.add("tether", r.scenarios[0], sample{rate: 1000, cpu: 2e-6})
	r.add("tether", r.scenarios[1], sample{mem: 512})
	return r
}
