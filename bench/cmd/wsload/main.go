// Command wsload is the load generator of the Tether benchmark. It is a
// minimal RFC 6455 client written directly over net.Conn, so that it costs
// the same against every server and allocates nothing per message.
//
//	wsload -addr 127.0.0.1:PORT -mode echo -conns 100 -size 64 -duration 5s [-server-pid PID]
//	wsload -addr 127.0.0.1:PORT -mode idle -conns 10000
//
// Echo mode keeps one message in flight per connection and prints one JSON
// line with the result; with -server-pid it also reports the server's CPU
// time over exactly the counted window. Idle mode opens the connections,
// prints "ready N", and holds them until stdin closes, a signal arrives or
// -hold passes.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "", "server address host:port (required)")
	flag.StringVar(&o.mode, "mode", "echo", "echo or idle")
	flag.IntVar(&o.conns, "conns", 100, "number of connections")
	flag.IntVar(&o.size, "size", 64, "echo message size in bytes")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "echo: traffic before counting starts")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "echo: counted duration")
	flag.IntVar(&o.serverPID, "server-pid", 0, "echo: report this process's CPU time over the counted window")
	flag.IntVar(&o.sources, "sources", 1, "spread connections over 127.0.0.1..127.0.0.N source addresses")
	flag.IntVar(&o.dialers, "dialers", 64, "connections opened concurrently")
	flag.DurationVar(&o.hold, "hold", 5*time.Minute, "idle: longest time to hold the connections")
	flag.Parse()
	if o.addr == "" || o.conns < 1 || o.size < 1 || o.sources < 1 || o.sources > 254 || o.dialers < 1 {
		flag.Usage()
		os.Exit(2)
	}
	raiseNoFile()

	var err error
	switch o.mode {
	case "echo":
		var res echoResult
		if res, err = runEcho(&o); err == nil {
			err = json.NewEncoder(os.Stdout).Encode(res)
		}
	case "idle":
		err = runIdle(&o)
	default:
		err = fmt.Errorf("unknown -mode %q", o.mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsload:", err)
		os.Exit(1)
	}
}

type options struct {
	addr             string
	mode             string
	conns, size      int
	warmup, duration time.Duration
	serverPID        int
	sources          int
	dialers          int
	hold             time.Duration
}

// raiseNoFile lifts the soft open-files limit to the hard one: 10,000 idle
// connections need more descriptors than a shell's usual default.
func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
