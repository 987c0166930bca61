//go:build !linux

package main

import "syscall"

// rusageThread falls back to the whole process where getrusage has no
// per-thread figure.
const rusageThread = syscall.RUSAGE_SELF
