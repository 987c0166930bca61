package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCompare runs the whole comparison once, briefly, with few connections:
// every scenario against every peer, then the report. It catches a peer that
// fails to start or answer and a report that lacks a figure, not performance
// regressions. It needs node and the Node peers (make bench-deps).
func TestCompare(t *testing.T) {
	cfg := &config{rounds: 1, conns: 4, idle: 20, subscribers: 10, size: 64,
		warmup: 100 * time.Millisecond, duration: 300 * time.Millisecond, settle: 50 * time.Millisecond,
		write: filepath.Join(t.TempDir(), "PERFORMANCE.md")}
	cfg.groups = plan(cfg)
	t.Cleanup(killChildren)
	if err := run(cfg, []string{"-rounds", "1"}); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(cfg.write)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, g := range cfg.groups {
		if !strings.Contains(text, "### "+g.title) {
			t.Errorf("no table %q", g.title)
		}
		for _, p := range g.peers {
			if !strings.Contains(text, "| "+p.name+" | ") {
				t.Errorf("%s: no row for %s", g.title, p.name)
			}
		}
	}
	if strings.Contains(text, "| – |") || strings.Contains(text, " – |") {
		t.Errorf("a figure is missing:\n%s", text)
	}
	if got, want := strings.Count(text, "✓")+strings.Count(text, "✗"), len(targets); got != want {
		t.Errorf("%d targets checked, want %d:\n%s", got, want, text)
	}
}

func TestReport(t *testing.T) {
	cfg := &config{rounds: 3, conns: 100, idle: 10000, subscribers: 10000, size: 64, duration: time.Second}
	groups := selectPlan(plan(cfg), map[string]bool{"ws-echo": true, "ws-idle": true, "broadcast": true},
		map[string]bool{"gws": true, "tether": true, "node-socketio": true})
	if len(groups) != 2 || len(groups[0].peers) != 2 || len(groups[1].peers) != 2 {
		t.Fatalf("selectPlan kept %d groups", len(groups))
	}
	res := newResults(groups)
	ws := groups[0].scenarios
	add := func(sc *scenario, peer string, rate, cpu, mem float64) {
		r := &result{Ops: 1, OpsPerSec: rate, Server: &serverUsage{CPUPerOp: cpu, KiBPerConn: mem}}
		res.add(sc, peer, r)
	}
	for _, rate := range []float64{50000, 60000, 55000} {
		add(ws[0], "gws", rate, 10, 0)
	}
	for _, rate := range []float64{80000, 70000, 75000} {
		add(ws[0], "tether", rate, 7, 0)
	}
	add(ws[1], "gws", 0, 0, 10.9)
	add(ws[1], "tether", 0, 0, 4.5)
	table := res.table(groups[0])
	for _, want := range []string{
		"| server | echo msgs/s | echo server CPU µs/msg | idle KiB/conn |",
		"| gws | 55.0k (50.0k–60.0k) | 10.00 (10.00–10.00) | 10.9 |",
		"| tether | 75.0k (70.0k–80.0k) | 7.00 (7.00–7.00) | 4.5 |",
		"| **tether ÷ gws** | **1.36×** | **0.70×** | **0.41×** |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// The broadcast scenario ran with no results: its figures are missing.
	if !strings.Contains(res.table(groups[1]), "| tether | – | – | – | – |") {
		t.Errorf("broadcast table:\n%s", res.table(groups[1]))
	}
	targets := res.targetTable()
	for _, want := range []string{
		"| WebSocket echo: server CPU per message ≤ 0.8 × gws | 7.00 µs | gws 10.00 µs | 0.70× | ✓ |",
		"| WebSocket echo: messages per second ≥ 1.3 × gws | 75.0k/s | gws 55.0k/s | 1.36× | ✓ |",
		"| WebSocket idle memory ≤ 4 KiB per connection | 4.5 KiB | gws 10.9 KiB | 0.41× | ✗ |",
		"| Broadcast: server CPU ≤ 5 µs per delivery | – | – | – | – |",
	} {
		if !strings.Contains(targets, want) {
			t.Errorf("targets lack %q:\n%s", want, targets)
		}
	}
	if strings.Contains(targets, "Socket.IO echo") {
		t.Errorf("targets of scenarios that did not run:\n%s", targets)
	}
}

func TestFilters(t *testing.T) {
	known := []string{"a", "b"}
	if f, err := parseFilter("-x", "", known); f != nil || err != nil {
		t.Errorf("empty filter = %v, %v", f, err)
	}
	if f, err := parseFilter("-x", "b, a", known); err != nil || !f["a"] || !f["b"] {
		t.Errorf("filter = %v, %v", f, err)
	}
	if _, err := parseFilter("-x", "a,c", known); err == nil {
		t.Error("unknown name accepted")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{1: "1", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
