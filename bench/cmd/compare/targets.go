package main

import (
	"fmt"
	"strings"
)

// A target is one of the goals for Tether: a bound on one figure of
// one scenario, either absolute or a multiple of the reference peer's figure
// measured in the same run.
type target struct {
	scenario, metric string // scenario name and metric key
	text             string // the goal as the issue states it
	relative         bool   // bound is a multiple of the reference peer's median
	atMost           bool   // the figure must be at most the bound, else at least
	bound            float64
}

// targets are the targets (issue 7), in its order. The "KB"
// of memory is read as KiB, the unit the server's VmRSS is counted in.
var targets = []target{
	{"ws-echo", "cpu", "WebSocket echo: server CPU per message ≤ 0.8 × gws", true, true, 0.8},
	{"ws-echo", "rate", "WebSocket echo: messages per second ≥ 1.3 × gws", true, false, 1.3},
	{"ws-idle", "mem", "WebSocket idle memory ≤ 4 KiB per connection", false, true, 4},
	{"sio-echo", "cpu", "Socket.IO echo: server CPU per message ≤ 0.5 × Node", true, true, 0.5},
	{"sio-echo", "rate", "Socket.IO echo: messages per second ≥ 2 × Node", true, false, 2},
	{"sio-ack", "cpu", "Socket.IO echo with ack: server CPU per message ≤ 0.5 × Node", true, true, 0.5},
	{"sio-ack", "rate", "Socket.IO echo with ack: messages per second ≥ 2 × Node", true, false, 2},
	{"sio-idle", "mem", "Socket.IO idle memory ≤ 8 KiB per connection", false, true, 8},
	{"broadcast", "cpu", "Broadcast: server CPU ≤ 5 µs per delivery", false, true, 5},
	{"broadcast", "rate", "Broadcast: deliveries per second ≥ 3 × Node", true, false, 3},
	{"connect", "cpu", "Connect: server CPU ≤ 100 µs per Socket.IO handshake", false, true, 100},
	{"connect", "rate", "Connect: handshakes per second ≥ 3 × Node", true, false, 3},
}

// find returns the scenario named name and its metric with key, if they ran.
func (r *results) find(name, key string) (*scenario, metric, bool) {
	for _, g := range r.groups {
		for _, sc := range g.scenarios {
			if sc.name != name {
				continue
			}
			for _, m := range sc.metrics {
				if m.key == key {
					return sc, m, true
				}
			}
		}
	}
	return nil, metric{}, false
}

// targetTable renders the targets of the scenarios that ran: Tether's figure,
// the reference peer's, their ratio, and whether the target is met.
func (r *results) targetTable() string {
	var b strings.Builder
	b.WriteString("| target | tether | reference | tether ÷ reference | met |\n| --- | --- | --- | --- | --- |\n")
	rows := 0
	for _, t := range targets {
		sc, m, ok := r.find(t.scenario, t.metric)
		if !ok {
			continue
		}
		rows++
		tether, okT := r.median(sc, "tether", m)
		ref, okR := r.median(sc, sc.group.reference, m)
		cells := []string{t.text, "–", "–", "–", "–"}
		if okT {
			cells[1] = m.withUnit(tether)
		}
		if okR {
			cells[2] = sc.group.reference + " " + m.withUnit(ref)
		}
		x, okX := r.ratio(sc, m)
		if okX {
			cells[3] = fmt.Sprintf("%.2f×", x)
		}
		figure, known := tether, okT
		if t.relative {
			figure, known = x, okX
		}
		if known {
			cells[4] = "✗"
			if (t.atMost && figure <= t.bound) || (!t.atMost && figure >= t.bound) {
				cells[4] = "✓"
			}
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
	}
	if rows == 0 {
		return ""
	}
	return b.String()
}
