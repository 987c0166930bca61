// Command compare runs Tether's side-by-side comparison: WebSocket echo and
// idle memory against gorilla/websocket, lxzan/gws, coder/websocket and
// Node's ws; Socket.IO echo, echo with acks, idle memory, broadcast fan-out
// and connect churn against Node's socket.io and zishang520/socket.io.
//
// Every scenario is driven by the same client, `tether bench` (built from the
// main module), against a freshly started server process per run. Rounds
// alternate between the implementations (A B C A B C …); the report gives the
// median of the rounds with their min–max range, Tether's ratio to the
// reference peer, and the targets.
//
// Run it from the bench module, after `make bench-deps` (the Node peers):
//
//	cd bench && go run ./cmd/compare [-rounds 3] [-duration 5s] [-scenarios ws-echo,sio-echo] [-write ../docs/PERFORMANCE.md]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

type config struct {
	rounds      int
	conns       int // echo, ack and connect loops
	idle        int // connections held by the idle scenarios
	subscribers int // broadcast subscribers
	size        int // echo payload
	warmup      time.Duration
	duration    time.Duration
	settle      time.Duration
	write       string
	groups      []*group // what runs, after the filters
}

func main() {
	var cfg config
	impls := flag.String("impls", "", "comma-separated implementations to run (default all: "+
		strings.Join(peerNames(plan(&cfg)), ",")+")")
	scenarios := flag.String("scenarios", "", "comma-separated scenarios to run (default all: "+
		strings.Join(scenarioNames(plan(&cfg)), ",")+")")
	flag.IntVar(&cfg.rounds, "rounds", 3, "rounds; every round runs every scenario against every implementation")
	flag.IntVar(&cfg.conns, "conns", 100, "connections of the echo and ack scenarios, loops of the connect scenario")
	flag.IntVar(&cfg.idle, "idle", 10000, "connections of the idle-memory scenarios")
	flag.IntVar(&cfg.subscribers, "subscribers", 10000, "subscribers of the broadcast scenario")
	flag.IntVar(&cfg.size, "size", 64, "payload of the echo and ack scenarios, in bytes")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "traffic before counting starts")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "counted window of each run")
	flag.DurationVar(&cfg.settle, "settle", 2*time.Second, "wait between opening the idle connections and reading the server's memory")
	flag.StringVar(&cfg.write, "write", "", "also write the report as markdown to this file (e.g. ../docs/PERFORMANCE.md)")
	flag.Parse()
	if flag.NArg() > 0 {
		fatalf("unexpected arguments %q", flag.Args())
	}
	if cfg.rounds < 1 || cfg.conns < 1 || cfg.idle < 1 || cfg.subscribers < 1 || cfg.size < 1 ||
		cfg.duration <= 0 || cfg.warmup < 0 || cfg.settle < 0 {
		fatalf("-rounds, -conns, -idle, -subscribers, -size and -duration must be positive")
	}
	all := plan(&cfg)
	scenarioFilter, err := parseFilter("-scenarios", *scenarios, scenarioNames(all))
	if err != nil {
		fatalf("%v", err)
	}
	peerFilter, err := parseFilter("-impls", *impls, peerNames(all))
	if err != nil {
		fatalf("%v", err)
	}
	if cfg.groups = selectPlan(all, scenarioFilter, peerFilter); len(cfg.groups) == 0 {
		fatalf("-scenarios and -impls leave nothing to run")
	}

	// Children run in their own process groups; kill them if we are stopped.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		killChildren()
		os.Exit(130)
	}()

	err = run(&cfg, os.Args[1:])
	killChildren()
	if err != nil {
		fatalf("%v", err)
	}
}

// parseFilter turns a comma-separated list into a set, nil for an empty list
// (everything), refusing names not in known.
func parseFilter(flagName, list string, known []string) (map[string]bool, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	set := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("%s: unknown name %q (known: %s)", flagName, name, strings.Join(known, ","))
		}
		set[name] = true
	}
	return set, nil
}

// run builds the programs, runs the rounds and reports. args is the command
// line, quoted in the report.
func run(cfg *config, args []string) error {
	dir, err := os.MkdirTemp("", "tether-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins, err := build(dir)
	if err != nil {
		return err
	}
	m := describeMachine(bins)
	logf("%s", m.summary())

	res := newResults(cfg.groups)
	start := time.Now()
	for round := 1; round <= cfg.rounds; round++ {
		for _, g := range cfg.groups {
			for _, sc := range g.scenarios {
				for _, p := range g.peers {
					r, err := runOnce(cfg, bins, sc, p)
					if err != nil {
						return fmt.Errorf("round %d, %s, %s: %w", round, sc.name, p.name, err)
					}
					res.add(sc, p.name, r)
					logf("round %d/%d  %-9s %-13s %s", round, cfg.rounds, sc.name, p.name, sc.show(r))
				}
			}
		}
	}
	elapsed := time.Since(start).Round(time.Second)
	logf("done in %s", elapsed)

	tables := res.tables() + "\n" + res.targetTable()
	fmt.Print(tables)
	if cfg.write != "" {
		return os.WriteFile(cfg.write, []byte(document(cfg, m, res, args, start, elapsed)), 0o644)
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
	killChildren()
	os.Exit(1)
}
