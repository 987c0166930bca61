package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// A clientMode is one permessage-deflate set-up for our client talking to a
// peer server.
type clientMode struct {
	name        string
	peerDeflate bool                      // the peer server accepts permessage-deflate
	ours        websocket.CompressionMode // DialOptions.Compression
	threshold   int                       // DialOptions.CompressionThreshold
	negotiated  bool                      // the extension must be in use
	peerArgs    []string                  // extra server script flags
}

var clientModes = []clientMode{
	{"plain", false, websocket.CompressionDisabled, 0, false, nil},
	{"deflate", true, websocket.CompressionContextTakeover, 0, true, nil},
	{"deflate-all", true, websocket.CompressionContextTakeover, compressAll, true, nil},
	{"deflate-nct", true, websocket.CompressionNoContextTakeover, compressAll, true, nil},
	// The server answers client_max_window_bits=9: our compressor must stay
	// within a 512-byte window. (Python's server with plain --deflate already
	// answers client_max_window_bits=12.)
	{"deflate-window", true, websocket.CompressionContextTakeover, compressAll, true, []string{"--client-window=9"}},
	{"declined", false, websocket.CompressionContextTakeover, 0, false, nil},
	{"unoffered", true, websocket.CompressionDisabled, 0, false, nil},
}

// clientCase runs one scenario: websocket.Dial against a peer server.
type clientCase struct {
	t      *testing.T
	ctx    context.Context
	server *peerServer
	mode   clientMode
}

type clientScenario struct {
	name  string
	modes []string // clientModes names it runs in
	run   func(c *clientCase)
}

var clientScenarios = []clientScenario{
	{"echo", []string{"plain", "deflate", "deflate-all", "deflate-nct", "deflate-window", "declined", "unoffered"}, (*clientCase).echo},
	{"prepared", allCompressionModes, (*clientCase).prepared},
	{"concurrent-writes", allCompressionModes, (*clientCase).concurrentWrites},
	{"echo-16MiB", []string{"deflate"}, (*clientCase).echoBig},
	{"fragmented-out", []string{"plain", "deflate", "deflate-nct", "deflate-window"}, (*clientCase).fragmentedOut},
	{"fragmented-in", compressionModes, (*clientCase).fragmentedIn},
	{"utf8", compressionModes, (*clientCase).utf8},
	{"bad-utf8", []string{"plain", "deflate"}, (*clientCase).badUTF8},
	{"close-from-us", []string{"plain", "deflate"}, (*clientCase).closeFromUs},
	{"close-from-peer", []string{"plain", "deflate"}, (*clientCase).closeFromPeer},
	{"ping-from-peer", []string{"plain", "deflate"}, (*clientCase).pingFromPeer},
	{"ping-from-us", []string{"plain", "deflate"}, (*clientCase).pingFromUs},
	{"subprotocol", []string{"plain"}, (*clientCase).subprotocol},
	{"subprotocol-none", []string{"plain"}, (*clientCase).subprotocolNone},
	{"origin-refused", []string{"plain"}, (*clientCase).originRefused},
	{"read-limit", compressionModes, (*clientCase).readLimit},
	{"read-limit-fragmented", compressionModes, (*clientCase).readLimitFragmented},
	{"burst-then-close", []string{"plain", "deflate"}, (*clientCase).burst},
}

// TestOurClientToPeerServer runs websocket.Dial against each peer's server
// script, one server process per peer and deflate setting.
func TestOurClientToPeerServer(t *testing.T) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			p.require(t)
			servers := map[string]*peerServer{} // by flags
			for _, m := range clientModes {
				flags := m.serverFlags()
				if servers[strings.Join(flags, " ")] == nil {
					servers[strings.Join(flags, " ")] = startPeerServer(t, p, flags)
				}
			}
			for _, m := range clientModes {
				t.Run(m.name, func(t *testing.T) {
					for _, sc := range clientScenarios {
						if !slices.Contains(sc.modes, m.name) {
							continue
						}
						t.Run(sc.name, func(t *testing.T) {
							sc.run(&clientCase{t: t, ctx: testContext(t, 90*time.Second), server: servers[strings.Join(m.serverFlags(), " ")], mode: m})
						})
					}
				})
			}
		})
	}
}

func (m clientMode) serverFlags() []string {
	if !m.peerDeflate {
		return nil
	}
	return append([]string{"--deflate"}, m.peerArgs...)
}

var connIDs atomic.Int64

// dial connects to path on the peer server with a fresh connection id, and
// checks the handshake response against the mode. The connection is dropped
// when the test ends.
func (c *clientCase) dial(path string, query url.Values, opts *websocket.DialOptions) (*websocket.Conn, string) {
	c.t.Helper()
	conn, id, err := c.tryDial(path, query, opts)
	if err != nil {
		c.t.Fatalf("Dial %s: %v\n%s", path, err, c.server.describe(id))
	}
	return conn, id
}

func (c *clientCase) tryDial(path string, query url.Values, opts *websocket.DialOptions) (*websocket.Conn, string, error) {
	c.t.Helper()
	id := "c" + strconv.FormatInt(connIDs.Add(1), 10)
	if query == nil {
		query = url.Values{}
	}
	query.Set("id", id)
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.Compression = c.mode.ours
	opts.CompressionThreshold = c.mode.threshold
	if opts.ReadLimit == 0 {
		opts.ReadLimit = 32 * mib
	}
	u := "ws://" + c.server.addr + path + "?" + query.Encode()
	conn, resp, err := websocket.Dial(c.ctx, u, opts)
	if err != nil {
		return nil, id, err
	}
	c.t.Cleanup(func() { conn.CloseNow() })
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	if got := strings.Contains(ext, "permessage-deflate"); got != c.mode.negotiated {
		c.t.Errorf("Sec-WebSocket-Extensions in the response = %q, want permessage-deflate in use: %v", ext, c.mode.negotiated)
	}
	return conn, id, nil
}

// peerSaw waits for the peer server's report of event on connection id.
func (c *clientCase) peerSaw(id, event string) report {
	c.t.Helper()
	r, err := c.server.wait(c.ctx, id, event)
	if err != nil {
		c.t.Fatalf("%v\n%s", err, c.server.describe(id))
	}
	return r
}

// peerClosed checks the peer server saw a close frame with code and reason.
func (c *clientCase) peerClosed(id string, code int, reason string) {
	c.t.Helper()
	r := c.peerSaw(id, "close")
	if r.Code != code || (reason != anyReason && r.Reason != reason) {
		c.t.Errorf("%s server saw close code %d reason %q, want %d %q\n%s", c.server.peer.name, r.Code, r.Reason, code, reason, c.server.describe(id))
	}
	if c.mode.negotiated {
		if open := c.peerSaw(id, "open"); open.Extensions != "permessage-deflate" {
			c.t.Errorf("%s server negotiated extensions %q, want permessage-deflate", c.server.peer.name, open.Extensions)
		}
	}
}

// closeNormally closes with 1000 "done" and checks the peer saw it.
func (c *clientCase) closeNormally(conn *websocket.Conn, id string) {
	c.t.Helper()
	if err := conn.Close(websocket.StatusNormalClosure, "done"); err != nil {
		c.t.Errorf("Close(1000, \"done\") = %v, want nil\n%s", err, c.server.describe(id))
	}
	c.peerClosed(id, 1000, "done")
}

// roundTrip writes msg whole and checks the echo read with Read.
func (c *clientCase) roundTrip(conn *websocket.Conn, id, what string, typ websocket.MessageType, msg []byte) {
	c.t.Helper()
	if err := conn.Write(c.ctx, typ, msg); err != nil {
		c.t.Fatalf("%s: Write: %v\n%s", what, err, c.server.describe(id))
	}
	gotType, got, err := conn.Read(c.ctx)
	if err != nil {
		c.t.Fatalf("%s: Read: %v\n%s", what, err, c.server.describe(id))
	}
	checkMessage(c.t, what, typ, msg, gotType, got)
}

func (c *clientCase) echoSizes(sizes []int) {
	conn, id := c.dial("/echo", nil, nil)
	for _, typ := range []websocket.MessageType{websocket.MessageText, websocket.MessageBinary} {
		for _, n := range sizes {
			c.roundTrip(conn, id, fmt.Sprintf("%s %d bytes", typeName(typ), n), typ, payload(typ, n))
		}
	}
	if len(sizes) > 1 {
		for _, r := range repeats {
			what := fmt.Sprintf("binary %d-byte block repeated %d times", r[0], r[1])
			c.roundTrip(conn, id, what, websocket.MessageBinary, repeatPayload(r[0], r[1]))
		}
	}
	c.closeNormally(conn, id)
}

func (c *clientCase) echo()    { c.echoSizes(echoSizes) }
func (c *clientCase) echoBig() { c.echoSizes([]int{bigSize}) }

// writeInPieces sends msg as one message through Writer, one Write per piece.
func (c *clientCase) writeInPieces(conn *websocket.Conn, typ websocket.MessageType, msg []byte, piece int) error {
	w, err := conn.Writer(c.ctx, typ)
	if err != nil {
		return fmt.Errorf("Writer: %w", err)
	}
	for i := 0; i < len(msg); i += piece {
		if _, err := w.Write(msg[i:min(i+piece, len(msg))]); err != nil {
			return fmt.Errorf("Write of a fragment at byte %d: %w", i, err)
		}
		if i == 0 {
			if _, err := w.Write(nil); err != nil { // an empty write must be harmless
				return fmt.Errorf("empty Write: %w", err)
			}
		}
	}
	return w.Close()
}

func (c *clientCase) fragmentedOut() {
	conn, id := c.dial("/echo", nil, nil)
	cases := []struct {
		typ   websocket.MessageType
		n     int
		piece int
	}{
		{websocket.MessageBinary, 100000, 16 * kib},
		{websocket.MessageBinary, 3, 1},
		{websocket.MessageBinary, 0, 1}, // Writer then Close: an empty message
		{websocket.MessageText, 70000, 1000},
		{websocket.MessageText, 2 * mib, 64*kib + 1},
	}
	for _, tc := range cases {
		what := fmt.Sprintf("%s %d bytes written in %d-byte pieces", typeName(tc.typ), tc.n, tc.piece)
		msg := payload(tc.typ, tc.n)
		if err := c.writeInPieces(conn, tc.typ, msg, tc.piece); err != nil {
			c.t.Fatalf("%s: %v\n%s", what, err, c.server.describe(id))
		}
		gotType, got, err := conn.Read(c.ctx)
		if err != nil {
			c.t.Fatalf("%s: Read: %v\n%s", what, err, c.server.describe(id))
		}
		checkMessage(c.t, what, tc.typ, msg, gotType, got)
	}
	c.closeNormally(conn, id)
}

// readStreamed reads one message with Reader in small reads.
func (c *clientCase) readStreamed(conn *websocket.Conn) (websocket.MessageType, []byte, error) {
	typ, r, err := conn.Reader(c.ctx)
	if err != nil {
		return 0, nil, err
	}
	var got []byte
	buf := make([]byte, 777)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			return typ, got, nil
		}
		if err != nil {
			return typ, got, err
		}
	}
}

func (c *clientCase) fragmentedIn() {
	// 7-byte fragments: text boundaries fall inside multi-byte characters
	// (for the Python server: 7-character fragments).
	conn, id := c.dial("/echo-fragmented", url.Values{"frag": {"7"}}, nil)
	for _, tc := range []struct {
		typ websocket.MessageType
		n   int
	}{
		{websocket.MessageBinary, 0},
		{websocket.MessageBinary, 1},
		{websocket.MessageBinary, 20000},
		{websocket.MessageText, 20000},
	} {
		what := fmt.Sprintf("%s %d bytes echoed in fragments", typeName(tc.typ), tc.n)
		msg := payload(tc.typ, tc.n)
		if err := conn.Write(c.ctx, tc.typ, msg); err != nil {
			c.t.Fatalf("%s: Write: %v\n%s", what, err, c.server.describe(id))
		}
		gotType, got, err := c.readStreamed(conn)
		if err != nil {
			c.t.Fatalf("%s: Reader: %v\n%s", what, err, c.server.describe(id))
		}
		checkMessage(c.t, what, tc.typ, msg, gotType, got)
	}
	c.closeNormally(conn, id)
}

func (c *clientCase) utf8() {
	conn, id := c.dial("/echo-fragmented", url.Values{"frag": {"3"}}, nil)
	text := []byte(strings.Repeat("aé€𝄞 Grüße, 世界! 😀🎉 ж", 50))
	c.roundTrip(conn, id, "multi-byte text", websocket.MessageText, text)
	for piece := 1; piece <= 5; piece++ {
		what := fmt.Sprintf("multi-byte text written in %d-byte pieces", piece)
		if err := c.writeInPieces(conn, websocket.MessageText, text, piece); err != nil {
			c.t.Fatalf("%s: %v\n%s", what, err, c.server.describe(id))
		}
		gotType, got, err := c.readStreamed(conn)
		if err != nil {
			c.t.Fatalf("%s: Reader: %v\n%s", what, err, c.server.describe(id))
		}
		checkMessage(c.t, what, websocket.MessageText, text, gotType, got)
	}
	c.closeNormally(conn, id)
}

func (c *clientCase) badUTF8() {
	conn, id := c.dial("/bad-utf8", nil, nil)
	_, _, err := conn.Read(c.ctx)
	checkClose(c.t, "Read of invalid UTF-8 text", err, websocket.StatusInvalidFramePayloadData, anyReason, true)
	c.peerClosed(id, 1007, anyReason)
}

func (c *clientCase) closeFromUs() {
	conn, id := c.dial("/echo", nil, nil)
	if err := conn.Close(4001, "bye"); err != nil {
		c.t.Errorf("Close(4001, \"bye\") = %v, want nil", err)
	}
	c.peerClosed(id, 4001, "bye")
}

func (c *clientCase) closeFromPeer() {
	conn, id := c.dial("/close", url.Values{"code": {"4001"}, "reason": {"bye"}}, nil)
	_, _, err := conn.Read(c.ctx)
	checkClose(c.t, "Read after the peer's close", err, 4001, "bye", false)
	// RFC 6455 asks the echo to carry the code only; the reason is ours to pick.
	c.peerClosed(id, 4001, anyReason)
}

func (c *clientCase) pingFromPeer() {
	var mu sync.Mutex
	var pings []string
	opts := &websocket.DialOptions{OnPing: func(p []byte) {
		mu.Lock()
		pings = append(pings, string(p))
		mu.Unlock()
	}}
	conn, id := c.dial("/ping", url.Values{"payload": {"server-ping"}}, opts)
	_, _, err := conn.Read(c.ctx)
	checkClose(c.t, "Read after the peer's ping", err, websocket.StatusNormalClosure, "pinged", false)
	if r := c.peerSaw(id, "pong"); r.Payload != "server-ping" {
		c.t.Errorf("peer got pong %q, want \"server-ping\"", r.Payload)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(pings, []string{"server-ping"}) {
		c.t.Errorf("OnPing saw %q, want [\"server-ping\"]", pings)
	}
}

func (c *clientCase) pingFromUs() {
	conn, id := c.dial("/echo", nil, nil)
	read := make(chan error, 1)
	go func() {
		_, _, err := conn.Read(c.ctx)
		read <- err
	}()
	pingCtx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	if err := conn.Ping(pingCtx); err != nil {
		c.t.Errorf("Ping: %v\n%s", err, c.server.describe(id))
	}
	// Ping twice: the second must not be satisfied by a stale pong.
	if err := conn.Ping(pingCtx); err != nil {
		c.t.Errorf("second Ping: %v\n%s", err, c.server.describe(id))
	}
	// Close while Read is blocked in another goroutine: the reader must end.
	if err := conn.Close(websocket.StatusNormalClosure, "done"); err != nil {
		c.t.Errorf("Close(1000, \"done\") with a Read pending = %v, want nil", err)
	}
	if err := <-read; err == nil {
		c.t.Errorf("pending Read returned no error after Close")
	}
	c.peerClosed(id, 1000, "done")
}

func (c *clientCase) subprotocol() {
	conn, id := c.dial("/echo", nil, &websocket.DialOptions{Subprotocols: []string{"x.unknown", "tether.v1", "tether.v2"}})
	if got := conn.Subprotocol(); got != "tether.v1" {
		c.t.Errorf("Subprotocol() = %q, want \"tether.v1\"", got)
	}
	if r := c.peerSaw(id, "open"); r.Protocol != "tether.v1" {
		c.t.Errorf("peer selected %q, want \"tether.v1\"", r.Protocol)
	}
	c.closeNormally(conn, id)
}

func (c *clientCase) subprotocolNone() {
	conn, id := c.dial("/echo", nil, nil)
	if got := conn.Subprotocol(); got != "" {
		c.t.Errorf("Subprotocol() = %q, want \"\"", got)
	}
	c.closeNormally(conn, id)
}

func (c *clientCase) originRefused() {
	h := http.Header{"Origin": {"http://evil.example"}}
	conn, _, err := c.tryDial("/echo", nil, &websocket.DialOptions{Header: h})
	if err == nil {
		conn.CloseNow()
		c.t.Fatalf("Dial with Origin http://evil.example succeeded, want a 403 HandshakeError")
	}
	var he *websocket.HandshakeError
	if !errors.As(err, &he) {
		c.t.Fatalf("Dial error %v (%T), want a *websocket.HandshakeError", err, err)
	}
	if he.StatusCode != http.StatusForbidden {
		c.t.Errorf("HandshakeError.StatusCode = %d, want 403 (%+v)", he.StatusCode, he)
	}
}

func (c *clientCase) readLimit() {
	// A message of exactly the limit passes.
	conn, id := c.dial("/send", url.Values{"size": {strconv.Itoa(64 * kib)}}, &websocket.DialOptions{ReadLimit: 64 * kib})
	typ, data, err := conn.Read(c.ctx)
	if err != nil {
		c.t.Fatalf("Read of a message of exactly the read limit: %v\n%s", err, c.server.describe(id))
	}
	checkMessage(c.t, "message at the limit", websocket.MessageBinary, bytes.Repeat([]byte("z"), 64*kib), typ, data)
	c.closeNormally(conn, id)

	conn, id = c.dial("/send", url.Values{"size": {strconv.Itoa(256 * kib)}}, &websocket.DialOptions{ReadLimit: 64 * kib})
	_, _, err = conn.Read(c.ctx)
	checkClose(c.t, "Read of an over-limit message", err, websocket.StatusMessageTooBig, anyReason, true)
	c.peerClosed(id, 1009, anyReason)
}

// prepared mixes Write and WritePrepared (reusing one prepared message) on
// similar, compressible messages.
func (c *clientCase) prepared() {
	conn, id := c.dial("/echo", nil, nil)
	text := textPayload(3000)
	pm, err := websocket.NewPreparedMessage(websocket.MessageText, text)
	if err != nil {
		c.t.Fatalf("NewPreparedMessage: %v", err)
	}
	for i := range 6 {
		if i%3 == 0 {
			c.roundTrip(conn, id, fmt.Sprintf("message %d, written with Write", i), websocket.MessageText, textPayload(2990+i))
			continue
		}
		what := fmt.Sprintf("message %d, written with WritePrepared", i)
		if err := conn.WritePrepared(c.ctx, pm); err != nil {
			c.t.Fatalf("%s: %v\n%s", what, err, c.server.describe(id))
		}
		gotType, got, err := conn.Read(c.ctx)
		if err != nil {
			c.t.Fatalf("%s: Read: %v\n%s", what, err, c.server.describe(id))
		}
		checkMessage(c.t, what, websocket.MessageText, text, gotType, got)
	}
	c.closeNormally(conn, id)
}

// concurrentWrites writes from several goroutines at once, some streaming
// with Writer, and checks every message comes back whole.
func (c *clientCase) concurrentWrites() {
	conn, id := c.dial("/echo", nil, nil)
	const writers, perWriter = 6, 12
	want := map[string]int{}
	msgs := make([][][]byte, writers)
	for g := range writers {
		for j := range perWriter {
			m := append([]byte(fmt.Sprintf("writer %d message %d: ", g, j)), textPayload(50+1499*j)...)
			msgs[g] = append(msgs[g], m)
			want[string(m)]++
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, m := range msgs[g] {
				var err error
				if (g+j)%3 == 0 {
					err = c.writeInPieces(conn, websocket.MessageText, m, 1000)
				} else {
					err = conn.Write(c.ctx, websocket.MessageText, m)
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d message %d: %w", g, j, err)
					return
				}
			}
		}()
	}
	got := map[string]int{}
	var readErr error
	for range writers * perWriter {
		typ, data, err := conn.Read(c.ctx)
		if err != nil {
			readErr = err
			conn.CloseNow() // unblocks the writers
			break
		}
		if typ != websocket.MessageText {
			c.t.Errorf("got a %s message, want text", typeName(typ))
		}
		got[string(data)]++
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		c.t.Error(err)
	}
	if readErr != nil {
		c.t.Fatalf("Read after %d echoes: %v\n%s", len(got), readErr, c.server.describe(id))
	}
	for m, n := range got {
		if want[m] != n {
			c.t.Errorf("echo of a message not sent (or sent %d times, echoed %d): %d bytes starting %q", want[m], n, len(m), m[:min(len(m), 40)])
		}
	}
	c.closeNormally(conn, id)
}

// readLimitFragmented: every fragment is under the limit, the message is not.
func (c *clientCase) readLimitFragmented() {
	conn, id := c.dial("/echo-fragmented", url.Values{"frag": {strconv.Itoa(32 * kib)}}, &websocket.DialOptions{ReadLimit: 64 * kib})
	if err := conn.Write(c.ctx, websocket.MessageBinary, bytes.Repeat([]byte("z"), 128*kib)); err != nil {
		c.t.Fatalf("Write: %v", err)
	}
	_, _, err := conn.Read(c.ctx)
	checkClose(c.t, "Read of an over-limit fragmented message", err, websocket.StatusMessageTooBig, anyReason, true)
	c.peerClosed(id, 1009, anyReason)
}

// burst: messages followed at once by a close must all be read before the
// close is reported.
func (c *clientCase) burst() {
	conn, id := c.dial("/burst", url.Values{"count": {"3"}, "code": {"4002"}, "reason": {"after"}}, nil)
	for i := range 3 {
		typ, data, err := conn.Read(c.ctx)
		if err != nil {
			c.t.Fatalf("Read of message %d: %v\n%s", i, err, c.server.describe(id))
		}
		checkMessage(c.t, fmt.Sprintf("message %d", i), websocket.MessageText, []byte(fmt.Sprintf("burst %d", i)), typ, data)
	}
	_, _, err := conn.Read(c.ctx)
	checkClose(c.t, "Read after the messages", err, 4002, "after", false)
	c.peerClosed(id, 4002, anyReason)
}
