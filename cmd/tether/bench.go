package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/tether-rt/tether/internal/loadgen"
)

// benchWorkerEnv marks a process started as a load-generator worker. The
// flag --worker does the same for the tether binary; the variable lets a
// test binary, whose flags are the test framework's, serve as a worker too.
const benchWorkerEnv = "TETHER_BENCH_WORKER"

func runBench(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var cfg loadgen.Config
	fs.StringVar(&cfg.URL, "url", "", "server `URL`: ws://host:port/path for WebSocket, http://host:port for Socket.IO\n(default ws://127.0.0.1:8765/ or http://127.0.0.1:3000)")
	fs.StringVar(&cfg.Proto, "proto", "", "for connect and idle: `ws` or sio (default sio)")
	fs.StringVar(&cfg.Path, "path", "", "Socket.IO endpoint `path` (default /socket.io/)")
	fs.StringVar(&cfg.Namespace, "namespace", "/", "Socket.IO `namespace`")
	fs.StringVar(&cfg.Event, "event", "", "event to emit (default message, message-with-ack or broadcast)")
	fs.StringVar(&cfg.Reply, "reply", "", "event expected back (default message-back or broadcast-back)")
	fs.IntVar(&cfg.Conns, "conns", 100, "connections (connect: concurrent loops; broadcast: subscribers)")
	fs.IntVar(&cfg.Total, "total", 10000, "connect --hold: connections to open and hold")
	fs.BoolVar(&cfg.Hold, "hold", false, "connect: keep every connection open instead of closing it")
	fs.IntVar(&cfg.Size, "size", 64, "payload `bytes`")
	fs.IntVar(&cfg.Inflight, "inflight", 1, "messages in flight per connection (broadcast: broadcasts in flight)")
	fs.DurationVar(&cfg.Interval, "interval", 0, "broadcast: send one broadcast every `interval` instead of --inflight at a time as fast as they arrive")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "traffic before the measured window")
	fs.DurationVar(&cfg.Settle, "settle", 2*time.Second, "idle: wait after connecting before reading the server's memory")
	fs.IntVar(&cfg.PID, "pid", 0, "server process `id`: report its CPU time and memory (from /proc)")
	fs.IntVar(&cfg.Workers, "workers", 0, "worker processes to spread connections over (default 1 per 10,000, at least 2 from 1,000)")
	fs.IntVar(&cfg.Sources, "sources", 0, "use source addresses 127.0.0.1 .. 127.0.0.`N` (default: enough for the connections)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object, without progress")
	worker := fs.Bool("worker", false, "run as a worker of another tether bench (internal)")
	names := make([]string, len(loadgen.Scenarios))
	for i, s := range loadgen.Scenarios {
		names[i] = string(s)
	}
	fs.Usage = usageFunc(fs, "tether bench <scenario> [flags]",
		"Loads a WebSocket or Socket.IO server and reports rates, latency percentiles and errors;\n"+
			"with --pid, the server's CPU time per operation and memory. Scenarios:\n\n"+
			"  ws-echo    each connection sends a binary message and waits for it to come back\n"+
			"  sio-echo   each socket emits message and waits for message-back with the same string\n"+
			"  sio-ack    each socket emits message-with-ack and waits for the ack\n"+
			"  broadcast  --conns idle subscribers; one publisher emits broadcast, every other socket\n"+
			"             must get broadcast-back; latency is send to last delivery\n"+
			"  connect    handshakes per second: open and close (or --hold) connections\n"+
			"  idle       open --conns silent connections; with --pid, server memory per connection\n\n"+
			"The Socket.IO events are those of \"tether testserver\". Connections are spread over\n"+
			"worker processes and loopback source addresses, so one run can hold more than a\n"+
			"process's open-file limit.")
	positional, done, code := parseInterspersed(fs, args, stdout, stderr)
	if done {
		return code
	}
	if *worker || os.Getenv(benchWorkerEnv) == "1" {
		if err := loadgen.ServeWorker(ctx, stdin, stdout); err != nil {
			fmt.Fprintf(stderr, "tether bench worker: %v\n", err)
			return 1
		}
		return 0
	}
	if len(positional) != 1 {
		fmt.Fprintf(stderr, "tether bench: name one scenario: %s\n", strings.Join(names, ", "))
		return 2
	}
	cfg.Scenario = loadgen.Scenario(positional[0])
	if err := cfg.Normalize(); err != nil {
		fmt.Fprintf(stderr, "tether bench: %v\n", err)
		return 2
	}

	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "tether bench: finding this program to start workers: %v\n", err)
		return 1
	}
	runner := &loadgen.Runner{Command: func() *exec.Cmd {
		cmd := exec.Command(exe, "bench", "--worker")
		cmd.Env = append(os.Environ(), benchWorkerEnv+"=1")
		return cmd
	}}
	if !*asJSON {
		runner.Progress = stderr
		runner.Redraw = isTerminal(stderr)
	}
	res, err := runner.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "tether bench: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "tether bench: %v\n", err)
			return 1
		}
		return 0
	}
	if err := res.WriteTable(stdout); err != nil {
		return 1
	}
	return 0
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
