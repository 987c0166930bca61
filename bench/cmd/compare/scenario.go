package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/tether-rt/tether/bench/internal/proc"
)

// sample is what one run of a scenario measures. Echo runs fill rate and
// cpu; idle runs fill mem.
type sample struct {
	rate float64 // echoed messages per second
	cpu  float64 // server CPU seconds per message
	mem  float64 // server RSS bytes per idle connection
}

type scenario struct {
	name  string
	conns int
	idle  bool
}

func (sc scenario) run(cfg *config, bins binaries, impl string) (sample, error) {
	if sc.idle {
		return runIdle(cfg, bins, impl, sc.conns)
	}
	return runEcho(cfg, bins, impl, sc.conns)
}

func (sc scenario) show(v sample) string {
	if sc.idle {
		return fmt.Sprintf("%.2f KiB/conn", v.mem/1024)
	}
	return fmt.Sprintf("%.0f msgs/s, %.2f µs CPU/msg", v.rate, v.cpu*1e6)
}

// runEcho measures one echo run against a fresh server. wsload samples the
// server's CPU time itself, at the exact edges of its counted window.
func runEcho(cfg *config, bins binaries, impl string, conns int) (sample, error) {
	srv, err := startServer(bins.server, impl)
	if err != nil {
		return sample{}, err
	}
	defer srv.stop()
	out, err := runLoad(bins.load, cfg.warmup+cfg.duration+2*time.Minute,
		"-mode", "echo", "-addr", srv.addr, "-conns", strconv.Itoa(conns), "-size", strconv.Itoa(cfg.size),
		"-warmup", cfg.warmup.String(), "-duration", cfg.duration.String(),
		"-server-pid", strconv.Itoa(srv.pid), "-sources", strconv.Itoa(cfg.sources))
	if err != nil {
		return sample{}, err
	}
	if err := srv.alive(); err != nil {
		return sample{}, err
	}
	var r struct {
		Msgs       int64   `json:"msgs"`
		MsgsPerSec float64 `json:"msgs_per_sec"`
		ServerCPU  float64 `json:"server_cpu_seconds"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return sample{}, fmt.Errorf("wsload output %q: %w", out, err)
	}
	if r.Msgs <= 0 {
		return sample{}, fmt.Errorf("no messages echoed")
	}
	return sample{rate: r.MsgsPerSec, cpu: r.ServerCPU / float64(r.Msgs)}, nil
}

// runIdle measures the server's resident memory per idle connection: the
// growth of VmRSS from the freshly started server to the server holding n
// connections that have completed the handshake and sent nothing, after a
// settle period.
func runIdle(cfg *config, bins binaries, impl string, n int) (sample, error) {
	srv, err := startServer(bins.server, impl)
	if err != nil {
		return sample{}, err
	}
	defer srv.stop()
	time.Sleep(500 * time.Millisecond) // let the runtime finish starting up
	before, err := proc.RSS(srv.pid)
	if err != nil {
		return sample{}, err
	}

	cmd := exec.Command(bins.load, "-mode", "idle", "-addr", srv.addr, "-conns", strconv.Itoa(n),
		"-sources", strconv.Itoa(cfg.sources), "-hold", (cfg.settle + 5*time.Minute).String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return sample{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return sample{}, err
	}
	if err := start(cmd); err != nil {
		return sample{}, err
	}
	defer kill(cmd) // reaps it; a no-op signal once it has exited
	line, err := readLine(stdout, 3*time.Minute)
	if err != nil || line != "ready "+strconv.Itoa(n) {
		return sample{}, fmt.Errorf("wsload idle: got %q, %v", line, err)
	}
	time.Sleep(cfg.settle)
	after, err := proc.RSS(srv.pid)
	if err != nil {
		return sample{}, err
	}
	// Every connection must still be open on the server side.
	if fds, err := proc.OpenFiles(srv.pid); err != nil || fds < n {
		return sample{}, fmt.Errorf("server holds %d descriptors, want at least %d (%v)", fds, n, err)
	}
	_ = stdin.Close() // wsload closes its connections and exits
	return sample{mem: float64(after-before) / float64(n)}, nil
}

// results collects samples per implementation and scenario, in run order.
type results struct {
	impls     []string
	scenarios []scenario
	samples   map[string]map[string][]sample
}

func newResults(cfg *config) *results {
	r := &results{impls: cfg.impls, samples: map[string]map[string][]sample{}}
	for _, n := range cfg.conns {
		r.scenarios = append(r.scenarios, scenario{name: fmt.Sprintf("echo %d", n), conns: n})
	}
	if cfg.idle > 0 {
		r.scenarios = append(r.scenarios, scenario{name: fmt.Sprintf("idle %d", cfg.idle), conns: cfg.idle, idle: true})
	}
	for _, impl := range cfg.impls {
		r.samples[impl] = map[string][]sample{}
	}
	return r
}

func (r *results) add(impl string, sc scenario, v sample) {
	r.samples[impl][sc.name] = append(r.samples[impl][sc.name], v)
}

// table renders one row per implementation: throughput and CPU per message
// for each echo scenario, then memory per idle connection.
func (r *results) table() string {
	var b strings.Builder
	var head, rule []string
	head = append(head, "server")
	for _, sc := range r.scenarios {
		if sc.idle {
			head = append(head, fmt.Sprintf("memory / idle conn, %s conns (KiB)", thousands(sc.conns)))
		} else {
			head = append(head,
				fmt.Sprintf("echo msgs/s, %s conns", thousands(sc.conns)),
				fmt.Sprintf("server CPU / msg, %s conns (µs)", thousands(sc.conns)))
		}
	}
	for range head {
		rule = append(rule, "---")
	}
	fmt.Fprintf(&b, "| %s |\n| %s |\n", strings.Join(head, " | "), strings.Join(rule, " | "))
	for _, impl := range r.impls {
		row := []string{impl}
		for _, sc := range r.scenarios {
			s := r.samples[impl][sc.name]
			if sc.idle {
				row = append(row, spread(s, func(v sample) float64 { return v.mem / 1024 }, "%.1f"))
			} else {
				row = append(row,
					spread(s, func(v sample) float64 { return v.rate / 1000 }, "%.1fk"),
					spread(s, func(v sample) float64 { return v.cpu * 1e6 }, "%.2f"))
			}
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
	}
	return b.String()
}
