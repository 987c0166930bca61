//go:build race

package websocket

// raceEnabled is whether the race detector is on. socketWriter then writes with
// syscall.Write rather than a raw system call: syscall.Write tells the detector that what
// a goroutine did before writing to a socket happens before what a reader of the other end
// does after reading it, and tests that learn of an event through a socket rely on that.
const raceEnabled = true
