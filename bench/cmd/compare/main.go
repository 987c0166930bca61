// Command compare runs the WebSocket echo benchmark: it builds echoserver
// and wsload, then measures each server implementation (gorilla, gws,
// coder, tether) in alternation, round after round, each run against a
// freshly started server process, and prints a markdown table of medians
// with their min–max range.
//
// Run it from the bench module:
//
//	cd bench && go run ./cmd/compare [-rounds 3] [-duration 5s] [-write ../docs/PERFORMANCE.md]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	impls    []string
	rounds   int
	conns    []int
	idle     int
	size     int
	warmup   time.Duration
	duration time.Duration
	settle   time.Duration
	sources  int
	write    string
}

func main() {
	var cfg config
	impls := flag.String("impls", "gorilla,gws,coder,tether", "comma-separated server implementations")
	conns := flag.String("conns", "100,1000", "comma-separated connection counts for the echo scenarios")
	flag.IntVar(&cfg.rounds, "rounds", 3, "rounds; every round runs every scenario against every implementation")
	flag.IntVar(&cfg.idle, "idle", 10000, "idle connections for the memory scenario (0 skips it)")
	flag.IntVar(&cfg.size, "size", 64, "echo message size in bytes")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "echo traffic before counting starts")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "counted duration of each echo run")
	flag.DurationVar(&cfg.settle, "settle", 2*time.Second, "wait between opening the idle connections and reading the server's RSS")
	flag.IntVar(&cfg.sources, "sources", 1, "spread client connections over 127.0.0.1..127.0.0.N")
	flag.StringVar(&cfg.write, "write", "", "also write the report as markdown to this file (e.g. ../docs/PERFORMANCE.md)")
	flag.Parse()
	cfg.impls = strings.Split(*impls, ",")
	for _, s := range strings.Split(*conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatalf("bad -conns %q", *conns)
		}
		cfg.conns = append(cfg.conns, n)
	}
	if cfg.rounds < 1 || cfg.size < 1 || cfg.duration <= 0 {
		fatalf("-rounds, -size and -duration must be positive")
	}

	// Children run in their own process groups; kill them if we are stopped.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		killChildren()
		os.Exit(130)
	}()

	err := run(&cfg)
	killChildren()
	if err != nil {
		fatalf("%v", err)
	}
}

func run(cfg *config) error {
	dir, err := os.MkdirTemp("", "tether-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins, err := build(dir)
	if err != nil {
		return err
	}
	m := describeMachine()
	logf("%s", m.summary())

	res := newResults(cfg)
	start := time.Now()
	for round := 1; round <= cfg.rounds; round++ {
		for _, sc := range res.scenarios {
			for _, impl := range cfg.impls {
				v, err := sc.run(cfg, bins, impl)
				if err != nil {
					return fmt.Errorf("round %d, %s, %s: %w", round, sc.name, impl, err)
				}
				res.add(impl, sc, v)
				logf("round %d/%d  %-14s %-8s %s", round, cfg.rounds, sc.name, impl, sc.show(v))
			}
		}
	}
	logf("done in %s", time.Since(start).Round(time.Second))

	table := res.table()
	fmt.Print(table)
	if cfg.write != "" {
		return os.WriteFile(cfg.write, []byte(document(cfg, m, table, start)), 0o644)
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
