// Package profiling lets a benchmarked server record its own profiles: the servers' profile.go
// files call Start from an init function built only with -tags profile, so that the binaries
// compared stay identical in what they do.
package profiling

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// Start records a CPU profile to PREFIX.cpu when the environment variable env holds PREFIX,
// and on SIGINT or SIGTERM writes it and an allocation profile (PREFIX.allocs), prints the
// runtime's memory figures to stderr under name, and exits. Without env set it does nothing.
func Start(env, name string) {
	prefix := os.Getenv(env)
	if prefix == "" {
		return
	}
	f, err := os.Create(prefix + ".cpu")
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: profile: %v\n", name, err)
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
		fmt.Fprintf(os.Stderr, "%s: goroutines %d, heap in use %d KiB, stacks in use %d KiB, runtime sys %d KiB\n",
			name, runtime.NumGoroutine(), m.HeapInuse>>10, m.StackInuse>>10, m.Sys>>10)
		os.Exit(0)
	}()
}
