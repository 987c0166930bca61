package main

// The HTTP limits flags that serve, testserver and echo share.

import (
	"flag"
	"fmt"
	"io"

	"github.com/tether-rt/tether/internal/httpserver"
)

// addLimitFlags defines --idle-timeout, --header-timeout and
// --max-header-bytes on fs, with the defaults of package httpserver.
func addLimitFlags(fs *flag.FlagSet) *httpserver.Limits {
	l := &httpserver.Limits{}
	fs.DurationVar(&l.IdleTimeout, "idle-timeout", httpserver.DefaultIdleTimeout,
		"close a keep-alive connection that sends no new request for this long")
	fs.DurationVar(&l.HeaderTimeout, "header-timeout", httpserver.DefaultHeaderTimeout,
		"close a connection whose request line and headers take longer than this to arrive")
	fs.IntVar(&l.MaxHeaderBytes, "max-header-bytes", httpserver.DefaultMaxHeaderBytes,
		"answer 431 to a request whose request line and headers are longer than this many `bytes`")
	return l
}

// checkLimits says on stderr what is wrong with the values of the limit
// flags, if anything, and returns false then.
func checkLimits(cmd string, l *httpserver.Limits, stderr io.Writer) bool {
	if l.IdleTimeout <= 0 || l.HeaderTimeout <= 0 {
		fmt.Fprintf(stderr, "tether %s: --idle-timeout and --header-timeout must be positive\n", cmd)
		return false
	}
	if l.MaxHeaderBytes < httpserver.MinMaxHeaderBytes {
		fmt.Fprintf(stderr, "tether %s: --max-header-bytes must be at least %d\n", cmd, httpserver.MinMaxHeaderBytes)
		return false
	}
	return true
}

// limitsUsage is the paragraph server commands add to their description.
var limitsUsage = fmt.Sprintf("HTTP limits: a keep-alive connection that sends no new request within\n"+
	"--idle-timeout (%v) is closed, as is one whose request line and headers take\n"+
	"longer than --header-timeout (%v) to arrive; a request whose request line and\n"+
	"headers are longer than --max-header-bytes (%d bytes, as Node's default) is\n"+
	"answered 431. Running out of file descriptors is logged as one warning every 10s\n"+
	"while it lasts; new connections wait in the listen backlog meanwhile and are\n"+
	"served as soon as descriptors free.",
	httpserver.DefaultIdleTimeout, httpserver.DefaultHeaderTimeout, httpserver.DefaultMaxHeaderBytes)
