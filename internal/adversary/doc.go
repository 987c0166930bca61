// Package adversary is Tether's adversarial suite: it runs known attacks against a real
// `tether testserver` process and checks that nobody else is hurt and nothing leaks.
//
// For each attack the suite starts a fresh server (built once from ./cmd/tether with
// `go build`) with a debug listener, connects a control client (Socket.IO over WebSocket,
// namespace "/") that emits message-with-ack every 100 ms and answers pings, takes a baseline
// of the server's figures (goroutines, live heap, heap in use, RSS, open descriptors,
// connected Socket.IO sockets) after a forced GC, runs the attack, and then waits, bounded,
// for the figures to come back to the baseline. Attacks speak raw TCP, raw HTTP and a small
// hand-written WebSocket framer (wsraw.go), never the project's own client, so that they can
// send malformed bytes.
//
// An attack fails when
//   - the server did not behave as the attack expects (a close code, a status, a timeout),
//   - the control client was hurt: disconnected, an ack missing for more than ControlAckBound,
//     or a text frame that is not valid UTF-8,
//   - after SettleBound the server still holds a connection the attack opened (whether or not
//     the attack closed it: attacks that must keep their sockets open, such as the slow reader,
//     close them only after this check), or more Socket.IO sockets than at the baseline, or
//     more than the tolerances below of goroutines, descriptors and live heap.
//
// Tolerances after settling (see Tolerance): goroutines ≤ baseline+5, descriptors ≤
// baseline+5, heap_live ≤ baseline+8 MiB, Socket.IO sockets ≤ baseline, none of the attack's
// connections held, and no goroutine waiting for the same lock for over a second. Idle
// socketio handler workers, which the server keeps while events keep coming, are reported and
// not counted, up to IdleWorkerAllowance. A failure names the goroutines above the baseline
// by where they wait. RSS is reported (baseline, peak, after) but the leak check only
// holds it to baseline+RSSSettleSlack: the Go runtime returns freed pages to the system
// gradually, so RSS lags the heap; attacks about memory assert their own peak bounds.
//
// Modes: `go test ./internal/adversary` runs the short version (small counts; part of
// `make test`; about two minutes once the server passes every attack). `make adversary`
// (TETHER_ADVERSARY=full) runs bigger counts and the slow-consumers-at-scale scenario. Both
// log a markdown summary table (attack | inputs | outcome | leak after settling | control
// failures); `go test -v` shows it. The bounds the server's HTTP timeouts are held to can be
// changed with TETHER_ADVERSARY_IDLE_BOUND and TETHER_ADVERSARY_BODY_BOUND (see Mode).
//
// Every loop is bounded in count and time, everything runs on loopback, and every
// connection and the server process are cleaned up when a test ends.
package adversary
