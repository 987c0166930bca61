package main

import (
	"fmt"
	"os/exec"
	"strconv"
)

// broadcastSize is the payload of the broadcast scenario, the 100 B.
const broadcastSize = 100

// A peer is one server implementation, started as its own process on a free
// loopback port; it prints "listening on ADDR" once it accepts connections.
type peer struct {
	name    string
	program string // "echoserver", "sioserver" (Go, -impl arg) or "node" (script arg)
	arg     string
}

// command returns the command that starts the peer.
func (p peer) command(b *binaries) *exec.Cmd {
	switch p.program {
	case "node":
		cmd := exec.Command(b.node, p.arg, "-addr", "127.0.0.1:0")
		cmd.Dir = b.nodeDir
		return cmd
	case "echoserver":
		return exec.Command(b.echoserver, "-impl", p.arg, "-addr", "127.0.0.1:0")
	default:
		return exec.Command(b.sioserver, "-impl", p.arg, "-addr", "127.0.0.1:0")
	}
}

// A group is a set of scenarios run against the same peers and reported in
// one table, with Tether's ratio to the group's reference peer.
type group struct {
	title     string
	reference string // the peer the targets are stated against
	peers     []peer
	scenarios []*scenario
}

// A scenario is one `tether bench` command line, run against every peer of
// its group.
type scenario struct {
	name    string // what -scenarios selects
	label   string // the column headings' prefix
	about   string // what it does, under its group's title
	group   *group
	idle    bool // the server settles before the run, which measures memory
	args    func(cfg *config, addr string) []string
	metrics []metric
}

// A metric is one figure of a run's result, one column of its group's table.
type metric struct {
	key    string // what targets refer to: rate, cpu, mem, p50, p99
	title  string
	value  func(r *result) float64
	scale  float64 // value × scale is displayed
	format string
	unit   string // of the displayed figure
	brief  string // what follows the figure in the progress log
}

func (m metric) display(v float64) string { return fmt.Sprintf(m.format, v*m.scale) }

func (m metric) withUnit(v float64) string { return m.display(v) + m.unit }

var (
	rateMetric = func(what string) metric {
		return metric{key: "rate", title: what + "/s", value: func(r *result) float64 { return r.OpsPerSec },
			scale: 1e-3, format: "%.1fk", unit: "/s", brief: what + "/s"}
	}
	cpuMetric = func(what string) metric {
		return metric{key: "cpu", title: "server CPU µs/" + what, value: func(r *result) float64 { return r.Server.CPUPerOp },
			scale: 1, format: "%.2f", unit: " µs", brief: "µs CPU/" + what}
	}
	memMetric = metric{key: "mem", title: "KiB/conn", value: func(r *result) float64 { return r.Server.KiBPerConn },
		scale: 1, format: "%.1f", unit: " KiB", brief: "KiB/conn"}
	p50Metric = metric{key: "p50", title: "p50 ms", value: func(r *result) float64 { return r.Latency.P50 },
		scale: 1e-3, format: "%.2f", unit: " ms", brief: "ms p50"}
	p99Metric = metric{key: "p99", title: "p99 ms", value: func(r *result) float64 { return r.Latency.P99 },
		scale: 1e-3, format: "%.2f", unit: " ms", brief: "ms p99"}
)

// plan returns every group with every scenario and peer, before -scenarios
// and -impls filter them.
func plan(cfg *config) []*group {
	itoa := strconv.Itoa
	wsURL := func(addr string) string { return "ws://" + addr + "/" }
	sioURL := func(addr string) string { return "http://" + addr }
	timed := func(cfg *config, args ...string) []string {
		return append(args, "--warmup", cfg.warmup.String(), "--duration", cfg.duration.String())
	}
	sioPeers := []peer{
		{"node-socketio", "node", "sio-server.mjs"},
		{"zishang520", "sioserver", "zishang520"},
		{"tether", "sioserver", "tether"},
	}

	ws := &group{title: "WebSocket", reference: "gws", peers: []peer{
		{"gorilla", "echoserver", "gorilla"},
		{"gws", "echoserver", "gws"},
		{"coder", "echoserver", "coder"},
		{"node-ws", "node", "ws-server.mjs"},
		{"tether", "echoserver", "tether"},
	}}
	ws.scenarios = []*scenario{
		{name: "ws-echo", label: "echo", group: ws,
			about: fmt.Sprintf("Echo: %d connections each send a %d-byte binary message and wait for it to come back.",
				cfg.conns, cfg.size),
			args: func(cfg *config, addr string) []string {
				return timed(cfg, "ws-echo", "--url", wsURL(addr), "--conns", itoa(cfg.conns), "--size", itoa(cfg.size))
			},
			metrics: []metric{rateMetric("msgs"), cpuMetric("msg")}},
		{name: "ws-idle", label: "idle", group: ws, idle: true,
			about: fmt.Sprintf("Idle: %s open WebSocket connections that send nothing.", thousands(cfg.idle)),
			args: func(cfg *config, addr string) []string {
				return []string{"idle", "--proto", "ws", "--url", wsURL(addr), "--conns", itoa(cfg.idle), "--settle", cfg.settle.String()}
			},
			metrics: []metric{memMetric}},
	}

	sio := &group{title: "Socket.IO echo and memory", reference: "node-socketio", peers: sioPeers}
	sioLoad := func(name string) func(cfg *config, addr string) []string {
		return func(cfg *config, addr string) []string {
			return timed(cfg, name, "--url", sioURL(addr), "--conns", itoa(cfg.conns), "--size", itoa(cfg.size))
		}
	}
	sio.scenarios = []*scenario{
		{name: "sio-echo", label: "echo", group: sio, args: sioLoad("sio-echo"),
			about: fmt.Sprintf("Echo: %d sockets (over WebSocket) each emit `message` with a %d-byte string and wait "+
				"for `message-back` with the same string.", cfg.conns, cfg.size),
			metrics: []metric{rateMetric("msgs"), cpuMetric("msg")}},
		{name: "sio-ack", label: "ack", group: sio, args: sioLoad("sio-ack"),
			about:   "Ack: the same with `message-with-ack`, answered by its acknowledgement.",
			metrics: []metric{rateMetric("msgs"), cpuMetric("msg")}},
		{name: "sio-idle", label: "idle", group: sio, idle: true,
			about: fmt.Sprintf("Idle: %s Socket.IO connections (over WebSocket, in namespace `/`) that send nothing.",
				thousands(cfg.idle)),
			args: func(cfg *config, addr string) []string {
				return []string{"idle", "--proto", "sio", "--url", sioURL(addr), "--conns", itoa(cfg.idle), "--settle", cfg.settle.String()}
			},
			metrics: []metric{memMetric}},
	}

	broadcast := &group{title: "Broadcast fan-out", reference: "node-socketio", peers: sioPeers}
	broadcast.scenarios = []*scenario{
		{name: "broadcast", label: "broadcast", group: broadcast,
			about: fmt.Sprintf("%s idle Socket.IO subscribers; one more socket emits `broadcast` with a %d-byte string, "+
				"which the server sends as `broadcast-back` to every other socket; the next broadcast leaves when the "+
				"last subscriber has the previous one.", thousands(cfg.subscribers), broadcastSize),
			args: func(cfg *config, addr string) []string {
				return timed(cfg, "broadcast", "--url", sioURL(addr), "--conns", itoa(cfg.subscribers), "--size", itoa(broadcastSize))
			},
			metrics: []metric{rateMetric("deliveries"), cpuMetric("delivery"), p50Metric, p99Metric}},
	}

	connect := &group{title: "Connect churn", reference: "node-socketio", peers: sioPeers}
	connect.scenarios = []*scenario{
		{name: "connect", label: "connect", group: connect,
			about: fmt.Sprintf("%d loops, each opening a Socket.IO connection (TCP, WebSocket handshake on "+
				"`/socket.io/?EIO=4&transport=websocket`, Engine.IO open, CONNECT to `/` and its reply) and closing "+
				"it, over and over.", cfg.conns),
			args: func(cfg *config, addr string) []string {
				return timed(cfg, "connect", "--proto", "sio", "--url", sioURL(addr), "--conns", itoa(cfg.conns))
			},
			metrics: []metric{rateMetric("handshakes"), cpuMetric("handshake")}},
	}
	return []*group{ws, sio, broadcast, connect}
}

// scenarioNames lists every scenario name, in run order.
func scenarioNames(groups []*group) []string {
	var names []string
	for _, g := range groups {
		for _, sc := range g.scenarios {
			names = append(names, sc.name)
		}
	}
	return names
}

// peerNames lists every peer name once, in the order of first appearance.
func peerNames(groups []*group) []string {
	var names []string
	seen := map[string]bool{}
	for _, g := range groups {
		for _, p := range g.peers {
			if !seen[p.name] {
				seen[p.name] = true
				names = append(names, p.name)
			}
		}
	}
	return names
}

// selectPlan keeps the scenarios and peers the filters name (nil: all) and
// drops the groups left empty.
func selectPlan(groups []*group, scenarios, peers map[string]bool) []*group {
	var out []*group
	for _, g := range groups {
		var keptScenarios []*scenario
		for _, sc := range g.scenarios {
			if scenarios == nil || scenarios[sc.name] {
				keptScenarios = append(keptScenarios, sc)
			}
		}
		var keptPeers []peer
		for _, p := range g.peers {
			if peers == nil || peers[p.name] {
				keptPeers = append(keptPeers, p)
			}
		}
		if len(keptScenarios) > 0 && len(keptPeers) > 0 {
			g.scenarios, g.peers = keptScenarios, keptPeers
			out = append(out, g)
		}
	}
	return out
}
