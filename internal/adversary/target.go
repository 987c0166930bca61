//go:build linux

package adversary

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Mode holds the counts and bounds of a run: short (the default, part of `make test`) or full
// (TETHER_ADVERSARY=full, `make adversary`).
type Mode struct {
	Full bool

	IdleConns     int // keep-alive connections left idle
	FloodConns    int // connections opened and dropped
	SlowPosts     int // POST bodies trickled a byte at a time
	Slowloris     int // connections sending a header byte a second
	Abandoned     int // handshakes of each kind left unfinished
	HeaderFloods  int // WebSocket handshakes with ~1 MB of headers
	JSONConns     int // connections sending a 400,000-number array each
	JSONArgsConns int // connections sending 400,000 arguments each
	SlowConsumers int // non-reading clients beside Healthy ones (full only)
	Healthy       int

	// IdleBound is how long the server may keep an idle keep-alive connection: its idle
	// timeout plus slack. BodyBound is the same for a POST body that trickles in.
	// HeaderBound for a request whose headers trickle in (ReadHeaderTimeout, 10 s, plus slack).
	IdleBound   time.Duration
	BodyBound   time.Duration
	HeaderBound time.Duration
}

// The bounds the server's HTTP timeouts are held to, by default. The idle and body timeouts
// are being added to the server (issue 13's fixes); these bounds are what the suite expects
// of them, with slack for a loaded machine. TETHER_ADVERSARY_IDLE_BOUND and
// TETHER_ADVERSARY_BODY_BOUND (Go durations, such as 90s) override them.
const (
	DefaultIdleBound   = 45 * time.Second
	DefaultBodyBound   = 40 * time.Second
	DefaultHeaderBound = 20 * time.Second
)

// ModeFromEnv returns the mode TETHER_ADVERSARY asks for: "full", or anything else for short.
func ModeFromEnv() (Mode, error) {
	m := Mode{
		IdleConns: 300, FloodConns: 500, SlowPosts: 10, Slowloris: 20, Abandoned: 20,
		HeaderFloods: 50, JSONConns: 20, JSONArgsConns: 4,
		IdleBound: DefaultIdleBound, BodyBound: DefaultBodyBound, HeaderBound: DefaultHeaderBound,
	}
	if os.Getenv("TETHER_ADVERSARY") == "full" {
		m.Full = true
		m.IdleConns, m.FloodConns, m.SlowPosts, m.Slowloris, m.Abandoned = 5000, 5000, 200, 500, 500
		m.SlowConsumers, m.Healthy, m.JSONArgsConns = 2000, 100, 10
	}
	for env, d := range map[string]*time.Duration{
		"TETHER_ADVERSARY_IDLE_BOUND": &m.IdleBound,
		"TETHER_ADVERSARY_BODY_BOUND": &m.BodyBound,
	} {
		if v := os.Getenv(env); v != "" {
			var err error
			if *d, err = time.ParseDuration(v); err != nil || *d <= 0 {
				return m, fmt.Errorf("%s=%q: want a positive Go duration such as 90s", env, v)
			}
		}
	}
	return m, nil
}

// Descriptors returns how many descriptors the largest attack of the mode holds at once, in
// the test process and in the server alike, plus room for everything else.
func (m Mode) Descriptors() int {
	return max(m.IdleConns, m.Slowloris, 4*m.Abandoned, m.SlowConsumers+m.Healthy) + 1000 // floods keep ≤ 100 open
}

// Target is what an attack gets: the server's address, a way to open connections the suite
// keeps track of, and the server's figures.
type Target struct {
	Addr string // host:port of the server
	Mode Mode

	srv  *Server
	base Sample

	mu    sync.Mutex
	conns []net.Conn
	ports map[int]bool // local ports of the attack's connections
	peak  Peak
	hts   []*http.Transport
}

func newTarget(srv *Server, mode Mode, base Sample) *Target {
	return &Target{Addr: srv.Addr, Mode: mode, srv: srv, base: base, ports: map[int]bool{}}
}

// Dial opens a TCP connection to the server. The suite checks that the server lets go of it
// once the attack is over, and closes it after that check if the attack did not.
func (tg *Target) Dial(ctx context.Context) (net.Conn, error) {
	return tg.DialWith(ctx, &net.Dialer{})
}

// DialSmallRcvbuf dials with a receive buffer of size bytes, set before the connection is
// made so that the window the server sees is small from the start.
func (tg *Target) DialSmallRcvbuf(ctx context.Context, size int) (net.Conn, error) {
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return tg.DialWith(ctx, d)
}

// DialWith dials with d; see Dial.
func (tg *Target) DialWith(ctx context.Context, d *net.Dialer) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", tg.Addr)
	if err != nil {
		return nil, err
	}
	tg.mu.Lock()
	tg.conns = append(tg.conns, c)
	tg.ports[portOf(c.LocalAddr().String())] = true
	tg.mu.Unlock()
	return c, nil
}

// DialWS opens a WebSocket to path.
func (tg *Target) DialWS(ctx context.Context, path string) (*WS, error) {
	c, err := tg.Dial(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := Handshake(ctx, c, path)
	if err != nil {
		c.Close()
		return nil, err
	}
	return ws, nil
}

// DialSIO opens a Socket.IO client on "/" over WebSocket, its reader started with onEvent.
func (tg *Target) DialSIO(ctx context.Context, name string, onEvent func([]byte)) (*SIOClient, error) {
	c, err := tg.Dial(ctx)
	if err != nil {
		return nil, err
	}
	sc, err := DialSIO(ctx, name, c)
	if err != nil {
		return nil, err
	}
	sc.Start(onEvent)
	return sc, nil
}

// HTTPClient returns an HTTP client whose connections are the attack's (see Dial), one
// request at a time per connection, at most conns connections.
// Its idle connections are closed when the attack returns, as a real client closes them in
// the end: holding them is the idle-keepalive attack's business, not every attack's.
func (tg *Target) HTTPClient(conns int) *http.Client {
	ht := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return tg.Dial(ctx)
		},
		MaxConnsPerHost:     conns,
		MaxIdleConnsPerHost: conns,
		DisableCompression:  true,
	}
	tg.mu.Lock()
	tg.hts = append(tg.hts, ht)
	tg.mu.Unlock()
	return &http.Client{Timeout: 30 * time.Second, Transport: ht}
}

// attackDone closes the idle connections of the attack's HTTP clients.
func (tg *Target) attackDone() {
	tg.mu.Lock()
	hts := tg.hts
	tg.mu.Unlock()
	for _, ht := range hts {
		ht.CloseIdleConnections()
	}
}

// URL returns http://ADDR followed by path.
func (tg *Target) URL(path string) string { return "http://" + tg.Addr + path }

// Base returns the figures taken before the attack.
func (tg *Target) Base() Sample { return tg.base }

// Peak returns the highest figures seen since the attack began.
func (tg *Target) Peak() Peak {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.peak
}

// Sample reads the server's figures now (and counts them into the peak).
func (tg *Target) Sample(ctx context.Context) (Sample, error) {
	s, err := tg.srv.Sample(ctx)
	if err == nil {
		tg.mu.Lock()
		tg.peak.Add(s)
		tg.mu.Unlock()
	}
	return s, err
}

// Held returns how many of the attack's connections the server still holds, out of how many
// the attack opened.
func (tg *Target) Held() (held, opened int, err error) {
	peers, err := peerPorts(tg.srv.PID, portOf(tg.Addr))
	if err != nil {
		return 0, 0, err
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for p := range peers {
		if tg.ports[p] {
			held++
		}
	}
	return held, len(tg.conns), nil
}

// WaitReleased waits, polling, until the server holds none of the attack's connections and
// has no more Socket.IO sockets than at the baseline, or bound has passed. It returns how
// long that took.
func (tg *Target) WaitReleased(ctx context.Context, bound time.Duration) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		held, opened, err := tg.Held()
		if err != nil {
			return 0, err
		}
		s, err := tg.Sample(ctx)
		if err == nil && held == 0 && s.Sockets <= tg.base.Sockets {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("after %v the server still holds %d of the attack's %d connections and %d Socket.IO sockets (baseline %d)",
				bound.Round(time.Second), held, opened, s.Sockets, tg.base.Sockets)
		case <-tick.C:
		}
	}
}

// closeAll closes every connection the attack opened.
func (tg *Target) closeAll() {
	tg.mu.Lock()
	conns := tg.conns
	tg.conns = nil
	tg.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// Tolerance is how far above the baseline the figures may stay once the attack is over.
type Tolerance struct {
	Goroutines int
	FDs        int
	HeapLive   uint64
	RSS        uint64
}

// DefaultTolerance is the suite's tolerance after settling. A few goroutines and descriptors
// come and go on their own (the debug listener's connection, timers, the runtime's
// workers); 8 MiB of live heap is far below what any attack leaks if it leaks per
// connection; RSSSettleSlack is explained there.
var DefaultTolerance = Tolerance{Goroutines: 5, FDs: 5, HeapLive: 8 << 20, RSS: RSSSettleSlack}

// idleWorker is where socketio's idle handler goroutines wait for work (see Goroutines): the
// innermost Tether frame of a busy worker is the handler's.
const idleWorker = "socketio.(*workerPool).work ("

// IdleWorkerAllowance is how many idle handler goroutines above the baseline the leak check
// does not count as goroutines. socketio keeps a goroutine that ran handlers for 5 s after its
// last task, to reuse its grown stack; idle workers take tasks in turn (a channel's receivers
// are served first come, first served), so while events keep coming at rate r none of up to
// 5 s × r workers ever reaches its 5 s, and a burst's workers stay as long as the traffic does.
// The control client's 10 events a second keep up to 50. They are bounded and reported in the
// summary, not counted as a leak; a pool that served its most recently idle worker first
// would let the others go and make this allowance unneeded.
const IdleWorkerAllowance = 50

// RSSSettleSlack is how far above the baseline RSS may stay after settling. Go returns freed
// pages to the system gradually (the background scavenger), so RSS lags the heap by up to
// about the attack's peak heap; the largest short-mode peak allowed is the JSON-array
// attack's 8 × 16 MB = 128 MiB, and twice that leaves room for the scavenger's lag. Above it
// the runtime holds memory that nothing live accounts for.
const RSSSettleSlack = 256 << 20

// leaks compares the figures after the attack with the baseline and says what is above the
// tolerance, or returns "".
func leaks(base, now Sample, held, opened int, tol Tolerance) string {
	var out []string
	if held > 0 {
		out = append(out, fmt.Sprintf("the server still holds %d of the attack's %d connections", held, opened))
	}
	if now.Sockets > base.Sockets {
		out = append(out, fmt.Sprintf("Socket.IO sockets %d → %d", base.Sockets, now.Sockets))
	}
	if now.Goroutines > base.Goroutines+tol.Goroutines {
		out = append(out, fmt.Sprintf("goroutines %d → %d (tolerance +%d)", base.Goroutines, now.Goroutines, tol.Goroutines))
	}
	if now.FDs > base.FDs+tol.FDs {
		out = append(out, fmt.Sprintf("descriptors %d → %d (tolerance +%d)", base.FDs, now.FDs, tol.FDs))
	}
	if now.HeapLive > base.HeapLive+tol.HeapLive {
		out = append(out, fmt.Sprintf("heap_live %s → %s (tolerance +%s)", MiB(base.HeapLive), MiB(now.HeapLive), MiB(tol.HeapLive)))
	}
	if now.RSS > base.RSS+tol.RSS {
		out = append(out, fmt.Sprintf("RSS %s → %s (tolerance +%s)", MiB(base.RSS), MiB(now.RSS), MiB(tol.RSS)))
	}
	return strings.Join(out, "; ")
}
