//go:build profile

package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// With -tags profile and SIOSERVER_PROFILE=PREFIX set, the server records a
// CPU profile to PREFIX.cpu and, on SIGINT/SIGTERM, writes it and an
// allocation profile (PREFIX.allocs) before exiting, and prints the
// runtime's memory figures to stderr. It is a build tag, not a
// flag, so that the benchmarked binaries stay identical in what they do.
func init() {
	prefix := os.Getenv("SIOSERVER_PROFILE")
	if prefix == "" {
		return
	}
	f, err := os.Create(prefix + ".cpu")
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sioserver: profile:", err)
		os.Exit(1)
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		pprof.StopCPUProfile()
		_ = f.Close()
		if a, err := os.Create(prefix + ".allocs"); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(a, 0)
			_ = a.Close()
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(os.Stderr, "sioserver: goroutines %d, heap in use %d KiB, stacks in use %d KiB, runtime sys %d KiB\n",
			runtime.NumGoroutine(), m.HeapInuse>>10, m.StackInuse>>10, m.Sys>>10)
		os.Exit(0)
	}()
}
