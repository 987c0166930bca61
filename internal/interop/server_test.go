package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// A serverMode is one permessage-deflate set-up for a peer client talking to
// our server.
type serverMode struct {
	name        string
	peerDeflate bool                      // the peer offers permessage-deflate
	ours        websocket.CompressionMode // AcceptOptions.Compression
	threshold   int                       // AcceptOptions.CompressionThreshold
	negotiated  bool                      // the extension must be in use
	peerArgs    []string                  // extra client script flags
}

// compressAll is a CompressionThreshold under which only empty messages go
// uncompressed, so that small messages are compressed too.
const compressAll = 1

var serverModes = []serverMode{
	{"plain", false, websocket.CompressionDisabled, 0, false, nil},
	{"deflate", true, websocket.CompressionContextTakeover, 0, true, nil},
	{"deflate-all", true, websocket.CompressionContextTakeover, compressAll, true, nil},
	{"deflate-nct", true, websocket.CompressionNoContextTakeover, compressAll, true, nil},
	// The peer offers server_max_window_bits=9: our compressor must stay
	// within a 512-byte window.
	{"deflate-window", true, websocket.CompressionContextTakeover, compressAll, true, []string{"--server-window=9"}},
	{"declined", true, websocket.CompressionDisabled, 0, false, nil},
	{"unoffered", false, websocket.CompressionContextTakeover, 0, false, nil},
}

// serverCase runs one scenario: our server with a handler, the peer's client
// script against it.
type serverCase struct {
	t    *testing.T
	ctx  context.Context
	peer peer
	mode serverMode
}

// A serverScenario configures our server, runs the peer client and checks
// both sides.
type serverScenario struct {
	name  string
	modes []string // serverModes names it runs in
	peers []string // peer names it runs with; nil means all
	run   func(c *serverCase)
}

var compressionModes = []string{"plain", "deflate", "deflate-nct"}

// allCompressionModes adds deflate-all, for scenarios where sender-side
// compression state matters.
var allCompressionModes = []string{"plain", "deflate", "deflate-all", "deflate-nct"}

var serverScenarios = []serverScenario{
	{"echo", []string{"plain", "deflate", "deflate-all", "deflate-nct", "deflate-window", "declined", "unoffered"}, nil, (*serverCase).echo},
	{"prepared", []string{"plain", "deflate", "deflate-all", "deflate-nct", "deflate-window"}, nil, (*serverCase).prepared},
	{"echo-16MiB", []string{"plain"}, nil, (*serverCase).echoBig},
	{"fragmented", []string{"plain", "deflate", "deflate-nct", "deflate-window"}, nil, (*serverCase).fragmented},
	{"utf8", compressionModes, nil, (*serverCase).utf8},
	{"bad-utf8", []string{"plain", "deflate"}, nil, (*serverCase).badUTF8},
	{"close-from-peer", []string{"plain", "deflate"}, nil, (*serverCase).closeFromPeer},
	{"close-from-us", []string{"plain", "deflate"}, nil, (*serverCase).closeFromUs},
	{"ping", []string{"plain", "deflate"}, nil, (*serverCase).ping},
	{"subprotocol", []string{"plain"}, nil, (*serverCase).subprotocol},
	{"subprotocol-none", []string{"plain"}, nil, (*serverCase).subprotocolNone},
	{"origin-refused", []string{"plain"}, nil, (*serverCase).originRefused},
	{"read-limit", compressionModes, nil, (*serverCase).readLimit},
	{"read-limit-fragmented", compressionModes, nil, (*serverCase).readLimitFragmented},
	{"burst-then-close", []string{"plain", "deflate"}, nil, (*serverCase).burst},
	{"many-connections", []string{"plain", "deflate"}, nil, (*serverCase).many},
	{"keepalive-silent-peer", []string{"plain"}, nil, (*serverCase).keepAliveSilentPeer},
}

// TestPeerClientToOurServer runs each peer's client script against
// websocket.Accept.
func TestPeerClientToOurServer(t *testing.T) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			p.require(t)
			for _, m := range serverModes {
				t.Run(m.name, func(t *testing.T) {
					for _, sc := range serverScenarios {
						if !slices.Contains(sc.modes, m.name) || (sc.peers != nil && !slices.Contains(sc.peers, p.name)) {
							continue
						}
						t.Run(sc.name, func(t *testing.T) {
							sc.run(&serverCase{t: t, ctx: testContext(t, 90*time.Second), peer: p, mode: m})
						})
					}
				})
			}
		})
	}
}

// options returns the AcceptOptions every scenario starts from.
func (c *serverCase) options() *websocket.AcceptOptions {
	return &websocket.AcceptOptions{Compression: c.mode.ours, CompressionThreshold: c.mode.threshold, ReadLimit: 32 * mib}
}

// handlerResult is what our handler ended with.
type handlerResult struct {
	acceptErr error // from websocket.Accept; the handler did not run
	err       error // returned by the handler
}

// ourServer is an httptest server whose handler upgrades with Accept and runs
// handle on the connection. Handlers are waited for when the test ends.
type ourServer struct {
	url     string
	results chan handlerResult
}

func (c *serverCase) serve(opts *websocket.AcceptOptions, handle func(ctx context.Context, conn *websocket.Conn) error) *ourServer {
	s := &ourServer{results: make(chan handlerResult, 64)}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(c.ctx)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		conn, err := websocket.Accept(w, r, opts)
		if err != nil {
			s.results <- handlerResult{acceptErr: err}
			return
		}
		defer conn.CloseNow()
		s.results <- handlerResult{err: handle(ctx, conn)}
	}))
	c.t.Cleanup(func() {
		cancel()
		srv.Close() // after this no handler starts, so Wait cannot race with Add
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		timer := time.NewTimer(10 * time.Second)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			// goleak will also name the stuck goroutine at the end of the run.
			c.t.Errorf("our handler did not return within 10s after its context was canceled")
		}
	})
	s.url = "ws://" + srv.Listener.Addr().String() + "/"
	return s
}

// runPeer runs the peer client for scenario against s and returns what our
// handler ended with. A peer failure fails the test, with its output.
func (c *serverCase) runPeer(s *ourServer, scenario string, args ...string) handlerResult {
	c.t.Helper()
	return c.runPeerN(s, 1, scenario, args...)[0]
}

// runPeerN is runPeer for a scenario that opens n connections.
func (c *serverCase) runPeerN(s *ourServer, n int, scenario string, args ...string) []handlerResult {
	c.t.Helper()
	if c.mode.peerDeflate {
		args = append(args, "--deflate")
		args = append(args, c.mode.peerArgs...)
	}
	if scenario != "origin" && scenario != "silent" {
		ext := "none"
		if c.mode.negotiated {
			ext = "permessage-deflate"
		}
		args = append(args, "--expect-ext="+ext)
	}
	out, err := runClient(c.ctx, c.peer, s.url, scenario, args...)
	if err != nil {
		c.t.Errorf("%s client failed (%v), output:\n%s", c.peer.name, err, out)
	}
	var results []handlerResult
	for range n {
		select {
		case r := <-s.results:
			results = append(results, r)
		case <-c.ctx.Done():
			c.t.Fatalf("%d of %d handlers did not finish: %v (peer output:\n%s)", n-len(results), n, c.ctx.Err(), out)
		}
	}
	return results
}

// accepted fails the test if Accept failed.
func (c *serverCase) accepted(r handlerResult) {
	c.t.Helper()
	if r.acceptErr != nil {
		c.t.Fatalf("websocket.Accept: %v", r.acceptErr)
	}
}

// echo reads every message with Reader and writes it back with Write.
func echo(ctx context.Context, conn *websocket.Conn) error {
	for {
		typ, r, err := conn.Reader(ctx)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("reading a %s message: %w", typeName(typ), err)
		}
		if err := conn.Write(ctx, typ, data); err != nil {
			return fmt.Errorf("echoing a %d-byte %s message: %w", len(data), typeName(typ), err)
		}
	}
}

// echoFragmented streams every message back through Writer in small writes,
// so the echo leaves in many frames.
func echoFragmented(ctx context.Context, conn *websocket.Conn) error {
	buf := make([]byte, 4*kib+1) // odd size: boundaries land inside UTF-8 sequences
	for {
		typ, r, err := conn.Reader(ctx)
		if err != nil {
			return err
		}
		w, err := conn.Writer(ctx, typ)
		if err != nil {
			return fmt.Errorf("opening a %s writer: %w", typeName(typ), err)
		}
		for {
			n, rerr := r.Read(buf)
			if n > 0 {
				if _, err := w.Write(buf[:n]); err != nil {
					return fmt.Errorf("writing a fragment: %w", err)
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return fmt.Errorf("reading a %s message: %w", typeName(typ), rerr)
			}
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("closing the writer: %w", err)
		}
	}
}

// normalEnd checks the peer ended the connection with 1000 "done".
func (c *serverCase) normalEnd(r handlerResult) {
	c.t.Helper()
	c.accepted(r)
	checkClose(c.t, "handler end", r.err, websocket.StatusNormalClosure, "done", false)
}

func (c *serverCase) echo() {
	s := c.serve(c.options(), echo)
	c.normalEnd(c.runPeer(s, "echo"))
}

func (c *serverCase) echoBig() {
	s := c.serve(c.options(), echo)
	c.normalEnd(c.runPeer(s, "echo", "--sizes="+strconv.Itoa(bigSize)))
}

func (c *serverCase) fragmented() {
	s := c.serve(c.options(), echoFragmented)
	c.normalEnd(c.runPeer(s, "fragmented"))
}

func (c *serverCase) utf8() {
	s := c.serve(c.options(), echoFragmented)
	c.normalEnd(c.runPeer(s, "utf8"))
}

func (c *serverCase) badUTF8() {
	s := c.serve(c.options(), echo)
	r := c.runPeer(s, "bad-utf8")
	c.accepted(r)
	checkClose(c.t, "handler end after invalid UTF-8", r.err, websocket.StatusInvalidFramePayloadData, anyReason, true)
}

func (c *serverCase) closeFromPeer() {
	s := c.serve(c.options(), echo)
	r := c.runPeer(s, "close-client")
	c.accepted(r)
	checkClose(c.t, "handler end", r.err, 4001, "bye", false)
}

func (c *serverCase) closeFromUs() {
	s := c.serve(c.options(), func(ctx context.Context, conn *websocket.Conn) error {
		return conn.Close(4001, "bye")
	})
	r := c.runPeer(s, "close-server")
	c.accepted(r)
	if r.err != nil {
		c.t.Errorf("Close(4001, \"bye\") = %v, want nil after a completed handshake", r.err)
	}
}

// ping: the peer pings us (we must answer, and OnPing must see it), we ping
// the peer (Ping must return once its pong arrives), then the peer sends
// "done" and we close.
func (c *serverCase) ping() {
	var mu sync.Mutex
	var pings []string
	opts := c.options()
	opts.OnPing = func(p []byte) {
		mu.Lock()
		pings = append(pings, string(p))
		mu.Unlock()
	}
	s := c.serve(opts, func(ctx context.Context, conn *websocket.Conn) error {
		read := make(chan error, 1)
		go func() {
			typ, data, err := conn.Read(ctx)
			if err == nil && (typ != websocket.MessageText || string(data) != "done") {
				err = fmt.Errorf("got a %s message %q, want text \"done\"", typeName(typ), data)
			}
			read <- err
		}()
		pingCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		pingErr := conn.Ping(pingCtx)
		if err := <-read; err != nil {
			return fmt.Errorf("reading while pinging: %w (Ping: %v)", err, pingErr)
		}
		if pingErr != nil {
			return fmt.Errorf("Ping: %w", pingErr)
		}
		if err := conn.Close(websocket.StatusNormalClosure, "ping ok"); err != nil {
			return fmt.Errorf("Close after ping: %w", err)
		}
		return nil
	})
	r := c.runPeer(s, "ping")
	c.accepted(r)
	if r.err != nil {
		c.t.Errorf("handler: %v", r.err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(pings, []string{"client-ping"}) {
		c.t.Errorf("OnPing saw %q, want [\"client-ping\"]", pings)
	}
}

// subprotocolHandler checks the negotiated subprotocol, then echoes.
func subprotocolHandler(want string) func(ctx context.Context, conn *websocket.Conn) error {
	return func(ctx context.Context, conn *websocket.Conn) error {
		if got := conn.Subprotocol(); got != want {
			return fmt.Errorf("Subprotocol() = %q, want %q", got, want)
		}
		return echo(ctx, conn)
	}
}

func (c *serverCase) subprotocol() {
	opts := c.options()
	opts.Subprotocols = []string{"tether.v2", "tether.v1"}
	s := c.serve(opts, subprotocolHandler("tether.v1"))
	// The client's order wins: tether.v1 is the first of its list we support.
	c.normalEnd(c.runPeer(s, "subprotocol", "--protocols=x.unknown,tether.v1,tether.v2", "--expect-protocol=tether.v1"))
}

func (c *serverCase) subprotocolNone() {
	opts := c.options()
	opts.Subprotocols = []string{"tether.v2", "tether.v1"}
	s := c.serve(opts, subprotocolHandler(""))
	c.normalEnd(c.runPeer(s, "subprotocol"))
}

func (c *serverCase) originRefused() {
	s := c.serve(c.options(), func(ctx context.Context, conn *websocket.Conn) error {
		return errors.New("Accept let a cross-origin handshake through")
	})
	r := c.runPeer(s, "origin")
	if r.acceptErr == nil {
		c.t.Errorf("Accept returned no error for Origin http://evil.example (handler: %v)", r.err)
	}
}

func (c *serverCase) readLimit() {
	opts := c.options()
	opts.ReadLimit = 64 * kib
	s := c.serve(opts, echo)
	// Over the limit only once inflated when compression is on.
	// A message of exactly the limit passes.
	r := c.runPeer(s, "toobig", "--ok-size="+strconv.Itoa(64*kib), "--size="+strconv.Itoa(256*kib))
	c.accepted(r)
	checkClose(c.t, "handler end after an over-limit message", r.err, websocket.StatusMessageTooBig, anyReason, true)
}

// readLimitFragmented: every fragment is under the limit, the message is not.
func (c *serverCase) readLimitFragmented() {
	opts := c.options()
	opts.ReadLimit = 64 * kib
	s := c.serve(opts, echo)
	r := c.runPeer(s, "toobig", "--size="+strconv.Itoa(2*mib), "--fragments=64")
	c.accepted(r)
	checkClose(c.t, "handler end after an over-limit fragmented message", r.err, websocket.StatusMessageTooBig, anyReason, true)
}

// burst: messages followed at once by a close must all be read before the
// close is reported.
func (c *serverCase) burst() {
	var got []string
	s := c.serve(c.options(), func(ctx context.Context, conn *websocket.Conn) error {
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return err
			}
			got = append(got, string(data)) // read after the handler's result arrives
		}
	})
	r := c.runPeer(s, "burst")
	c.accepted(r)
	checkClose(c.t, "handler end", r.err, 4002, "after", false)
	if want := []string{"burst 0", "burst 1", "burst 2"}; !slices.Equal(got, want) {
		c.t.Errorf("read %q before the close, want %q", got, want)
	}
}

func (c *serverCase) many() {
	const n = 40
	s := c.serve(c.options(), echo)
	for i, r := range c.runPeerN(s, n, "many", "--conns="+strconv.Itoa(n)) {
		c.accepted(r)
		checkClose(c.t, fmt.Sprintf("handler %d end", i), r.err, websocket.StatusNormalClosure, "done", false)
	}
}

// echoPrepared echoes messages alternately with Write and WritePrepared: a
// prepared message must not desynchronize a compression context shared with
// the messages around it.
func echoPrepared(ctx context.Context, conn *websocket.Conn) error {
	for i := 0; ; i++ {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		if i%2 == 0 {
			err = conn.Write(ctx, typ, data)
		} else {
			var pm *websocket.PreparedMessage
			if pm, err = websocket.NewPreparedMessage(typ, data); err == nil {
				err = conn.WritePrepared(ctx, pm)
			}
		}
		if err != nil {
			return fmt.Errorf("echoing message %d (%d-byte %s, prepared: %v): %w", i, len(data), typeName(typ), i%2 == 1, err)
		}
	}
}

func (c *serverCase) prepared() {
	s := c.serve(c.options(), echoPrepared)
	c.normalEnd(c.runPeer(s, "echo"))
}

// keepAliveSilentPeer: a peer that never answers pings must be dropped by
// KeepAlive, and our handler's Read must end with a local close.
func (c *serverCase) keepAliveSilentPeer() {
	opts := c.options()
	opts.KeepAlive = 100 * time.Millisecond
	s := c.serve(opts, echo)
	r := c.runPeer(s, "silent")
	c.accepted(r)
	var ce *websocket.CloseError
	if !errors.As(r.err, &ce) || !ce.Local {
		c.t.Errorf("handler end = %v (%T), want a local *websocket.CloseError from the keep-alive", r.err, r.err)
	}
}
