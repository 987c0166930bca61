//go:build !race

package websocket

// raceEnabled is whether the race detector is on (see nowait_race.go).
const raceEnabled = false
