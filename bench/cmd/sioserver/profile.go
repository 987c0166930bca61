//go:build profile

package main

import "github.com/tether-rt/tether/bench/internal/profiling"

// With -tags profile and SIOSERVER_PROFILE=PREFIX set, the server records a CPU profile to
// PREFIX.cpu and, on SIGINT or SIGTERM, writes it and an allocation profile (PREFIX.allocs)
// before exiting (see package profiling).
func init() { profiling.Start("SIOSERVER_PROFILE", "sioserver") }
