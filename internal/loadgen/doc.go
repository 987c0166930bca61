// Package loadgen is the load generator behind "tether bench": it drives a
// WebSocket or Socket.IO server with many cheap client connections spread
// over worker processes and loopback source addresses, and reports rates,
// latency percentiles and, given the server's PID, its CPU time and memory.
//
// The clients are deliberately minimal (a WebSocket framer over net.Conn and
// the few Engine.IO/Socket.IO packets the scenarios need) so that the load
// generator costs less per message than the servers it measures.
package loadgen
