//go:build linux

package adversary

import (
	"context"
	"fmt"
	"time"
)

// Attack is one entry of the suite's table.
type Attack struct {
	Name   string
	Inputs func(Mode) string // what the attack sends, for the summary
	// Flags are the server's flags besides --addr and --debug-addr; nil means RelaxedFlags.
	Flags []string
	// FullOnly attacks run only with TETHER_ADVERSARY=full.
	FullOnly bool
	// Timeout bounds Run; 0 means DefaultAttackTimeout.
	Timeout time.Duration
	// Run performs the attack against tg and checks what the attacker itself sees. It
	// returns what happened in a few words, and an error saying what the server did wrong.
	Run func(ctx context.Context, tg *Target) (outcome string, err error)
}

// RelaxedFlags are the settings of every attack server: 1 s pings and 2 s to answer, rather
// than the test server's 300 ms and 200 ms, and 5 s to join a namespace rather than 1 s, so
// that a loaded CI machine does not make the control client miss a pong nor a client's
// CONNECT, queued behind an attack's megabytes, come too late. No attack here needs the real
// settings.
var RelaxedFlags = []string{"--ping-interval", "1s", "--ping-timeout", "2s", "--connect-timeout", "5s"}

// DefaultAttackTimeout bounds an attack's Run.
const DefaultAttackTimeout = 3 * time.Minute

// SettleBound is how long the suite waits, polling, for the figures to come back to the
// baseline once an attack is over.
const SettleBound = 30 * time.Second

// SlowReaderBound is how long the server may take to let go of a client that stopped reading.
// The Engine.IO heartbeat (RelaxedFlags: 1 s + 2 s) or the send queue's limit ends such a
// session within seconds; writes to it must then give up within a write deadline.
const SlowReaderBound = 30 * time.Second

// Attacks returns the suite's table, in the order it runs.
func Attacks() []Attack {
	return []Attack{
		{
			Name: "slow-reader",
			Inputs: func(Mode) string {
				return "1 WebSocket (4 KiB SO_RCVBUF): 40, 60 × 100,000-byte message, 1,100 × small message; never reads"
			},
			Run: slowReader,
		},
		{
			Name:   "invalid-utf8-polling",
			Inputs: func(Mode) string { return `polling POST 42["broadcast","\xff\xfe invalid"]; a WebSocket observer on /` },
			Run:    invalidUTF8Polling,
		},
		{
			Name: "idle-keepalive-flood",
			Inputs: func(m Mode) string {
				return fmt.Sprintf("%d keep-alive connections, one GET /nothing each, then idle (bound %v)", m.IdleConns, m.IdleBound)
			},
			Run:     idleFlood,
			Timeout: 10 * time.Minute,
		},
		{
			Name: "slow-post-body",
			Inputs: func(m Mode) string {
				return fmt.Sprintf("%d polling POSTs, Content-Length 1000, 1 byte / 2 s (bound %v)", m.SlowPosts, m.BodyBound)
			},
			Run: slowPost,
		},
		{
			Name: "header-amplification",
			Inputs: func(m Mode) string {
				return fmt.Sprintf("%d WebSocket handshakes with %d bytes of extra headers each", m.HeaderFloods, headerPadBytes)
			},
			Run: headerAmplification,
		},
		{
			Name: "large-json-arrays",
			Inputs: func(m Mode) string {
				return fmt.Sprintf("%d WebSockets, each one event with a %d-number JSON array (%d bytes)", m.JSONConns, jsonArrayLen, len(jsonArrayEvent()))
			},
			Run: largeJSONArrays,
		},
		{
			Name: "many-json-arguments",
			Inputs: func(m Mode) string {
				return fmt.Sprintf("%d WebSockets, each one event with %d numbers as arguments (%d bytes)", m.JSONArgsConns, jsonArrayLen, len(jsonArgsEvent()))
			},
			Run: manyJSONArguments,
		},
		{
			Name: "malformed-packets",
			Inputs: func(Mode) string {
				return fmt.Sprintf("%d malformed Engine.IO/Socket.IO packets, over WebSocket and polling", len(malformedPackets))
			},
			Run: malformedPacketsAttack,
		},
		{
			Name: "malformed-frames",
			Inputs: func(Mode) string {
				return fmt.Sprintf("%d malformed WebSocket frames and close frames", len(malformedFrames))
			},
			Run: malformedFramesAttack,
		},
		{
			Name:   "oversize",
			Inputs: func(Mode) string { return "frames, a fragmented message and POST bodies over 1,000,000 bytes" },
			Run:    oversize,
		},
		{
			Name: "slowloris-headers",
			Inputs: func(m Mode) string {
				return fmt.Sprintf("%d requests sending a header byte a second (bound %v)", m.Slowloris, m.HeaderBound)
			},
			Run: slowloris,
		},
		{
			Name: "connection-flood",
			Inputs: func(m Mode) string {
				return fmt.Sprintf("%d connections opened and dropped (half with a reset), %d more after a partial request", m.FloodConns, m.FloodConns/5)
			},
			Run: connectionFlood,
		},
		{
			Name: "abandoned-handshakes",
			Inputs: func(m Mode) string {
				return fmt.Sprintf("%d each: TCP connect, half a request, WebSocket upgrade, polling handshake; then nothing", m.Abandoned)
			},
			Run: abandonedHandshakes,
		},
		{
			Name: "sid-misuse",
			Inputs: func(Mode) string {
				return fmt.Sprintf("%d cases: unknown, foreign and oversized sids, overlapping GETs, double upgrade", len(sidCases))
			},
			Run: sidMisuse,
		},
		{
			Name: "slow-consumers-at-scale",
			Inputs: func(m Mode) string {
				return fmt.Sprintf("%d non-reading + %d healthy WebSocket clients; broadcast of 4 KiB, 50/s for %v", m.SlowConsumers, m.Healthy, scaleDuration)
			},
			FullOnly: true,
			Timeout:  5 * time.Minute,
			Run:      slowConsumersAtScale,
		},
	}
}
