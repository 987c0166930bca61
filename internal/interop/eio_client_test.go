package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// eioServerPeer is the npm engine.io server (v6) run by node/eio-server.mjs: an echo server
// with the settings of docs/TEST-SERVERS.md 1.1.
var eioServerPeer = peer{name: "node engine.io", server: []string{"node", "node/eio-server.mjs"}}

// eioClientMode is how our client connects to the peer.
type eioClientMode struct {
	name       string
	transports []string
	final      string   // the transport the client ends on
	flags      []string // for the peer server
	bigBinary  int      // the largest binary message echoed
}

// The peer accepts 1e6 bytes per packet, and per POST body on polling, where binary grows by a
// third in base64. With HTTP compression on, Node gzips its polling responses, too slowly for
// its own 200 ms ping timeout when they hold a large random message: that mode stays smaller.
var eioClientModes = []eioClientMode{
	{"polling", []string{engineio.TransportPolling}, engineio.TransportPolling, nil, 749_000},
	{"polling-gzip", []string{engineio.TransportPolling}, engineio.TransportPolling, []string{"--http-compression"}, 100_000},
	{"websocket", []string{engineio.TransportWebSocket}, engineio.TransportWebSocket, nil, 999_999},
	{"upgrade", nil, engineio.TransportWebSocket, nil, 999_999},
}

// eioClientCase is one scenario of our client against the peer server.
type eioClientCase struct {
	t    *testing.T
	ctx  context.Context
	srv  *peerServer
	mode eioClientMode
}

func TestOurEIOClientToPeerServer(t *testing.T) {
	requireNode(t)
	scenarios := []struct {
		name string
		run  func(*eioClientCase)
	}{
		{"echo", (*eioClientCase).echo},
		{"flow", (*eioClientCase).flow},
		{"heartbeat", (*eioClientCase).heartbeat},
		{"server-close", (*eioClientCase).serverClose},
		{"client-close", (*eioClientCase).clientClose},
	}
	for _, mode := range eioClientModes {
		t.Run(mode.name, func(t *testing.T) {
			srv := startPeerServer(t, eioServerPeer, mode.flags)
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					sc.run(&eioClientCase{t: t, ctx: testContext(t, 30*time.Second), srv: srv, mode: mode})
				})
			}
		})
	}
}

// dial connects with a fresh id, waits until the peer saw the session open and, for the
// upgrade mode, until both sides finished the upgrade.
func (c *eioClientCase) dial() (*engineio.Client, string) {
	c.t.Helper()
	id := c.t.Name()
	cl, err := engineio.Dial(c.ctx, "http://"+c.srv.addr, &engineio.DialOptions{
		Transports: c.mode.transports,
		Query:      url.Values{"id": {id}},
	})
	if err != nil {
		c.t.Fatalf("Dial: %v\n%s", err, c.srv.describe(id))
	}
	c.t.Cleanup(func() { _ = cl.Close() })
	open := c.saw(id, "open")
	if want := c.mode.transports; want != nil && open.Message != want[0] {
		c.t.Fatalf("peer saw the session open over %q, want %q", open.Message, want[0])
	}
	if c.mode.name == "upgrade" {
		if up := c.saw(id, "upgrade"); up.Message != engineio.TransportWebSocket {
			c.t.Fatalf("peer upgraded to %q", up.Message)
		}
		for cl.Transport() != engineio.TransportWebSocket {
			select {
			case <-c.ctx.Done():
				c.t.Fatalf("client transport still %q after the peer upgraded", cl.Transport())
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	if got := cl.Transport(); got != c.mode.final {
		c.t.Fatalf("client transport %q, want %q", got, c.mode.final)
	}
	return cl, id
}

func (c *eioClientCase) saw(id, event string) report {
	c.t.Helper()
	r, err := c.srv.wait(c.ctx, id, event)
	if err != nil {
		c.t.Fatalf("%v\n%s", err, c.srv.describe(id))
	}
	return r
}

// roundTrip sends one message and checks the echo.
func (c *eioClientCase) roundTrip(cl *engineio.Client, id string, data []byte, binary bool) {
	c.t.Helper()
	if err := cl.Send(c.ctx, data, binary); err != nil {
		c.t.Fatalf("Send of %d bytes (binary %v): %v", len(data), binary, err)
	}
	m, err := cl.Read(c.ctx)
	if err != nil {
		c.t.Fatalf("Read of the echo of %d bytes (binary %v): %v\n%s", len(data), binary, err, c.srv.describe(id))
	}
	if m.Binary != binary || !bytes.Equal(m.Data, data) {
		c.t.Fatalf("echo of %d bytes (binary %v): got %d bytes (binary %v)", len(data), binary, len(m.Data), m.Binary)
	}
}

// echo sends text and binary messages up to the peer's limit.
func (c *eioClientCase) echo() {
	cl, id := c.dial()
	for _, n := range []int{0, 1, 125, 126, 65_536, 999_999} {
		c.roundTrip(cl, id, textPayload(n), false)
	}
	for _, n := range []int{0, 1, 125, 126, 65_536, c.mode.bigBinary} {
		c.roundTrip(cl, id, binaryPayload(n), true)
	}
	// Many small messages queued at once: one POST (or many frames), echoed in order.
	var want [][]byte
	for i := range 200 {
		msg := []byte(strings.Repeat("m", i%7) + string(rune('a'+i%26)))
		want = append(want, msg)
		if err := cl.Send(c.ctx, msg, i%2 == 1); err != nil {
			c.t.Fatal(err)
		}
	}
	for i, w := range want {
		m, err := cl.Read(c.ctx)
		if err != nil || !bytes.Equal(m.Data, w) || m.Binary != (i%2 == 1) {
			c.t.Fatalf("burst message %d: got %q (binary %v) %v, want %q", i, m.Data, m.Binary, err, w)
		}
	}
}

// flow sends messages from the moment the session opens, while the client upgrades, until 50
// went over the final transport; the echoes must come back complete and in order.
func (c *eioClientCase) flow() {
	id := c.t.Name()
	cl, err := engineio.Dial(c.ctx, "http://"+c.srv.addr, &engineio.DialOptions{
		Transports: c.mode.transports,
		Query:      url.Values{"id": {id}},
	})
	if err != nil {
		c.t.Fatalf("Dial: %v", err)
	}
	c.t.Cleanup(func() { _ = cl.Close() })
	window := make(chan struct{}, 32) // messages in flight
	total := make(chan int, 1)
	go func() {
		n, extra := 0, -1
		for ; n < 20_000 && extra != 0; n++ {
			if extra < 0 && cl.Transport() == c.mode.final {
				extra = 50
			}
			if extra > 0 {
				extra--
			}
			select {
			case window <- struct{}{}:
			case <-c.ctx.Done():
			}
			if cl.Send(c.ctx, []byte(fmt.Sprint(n)), n%2 == 1) != nil {
				break
			}
		}
		total <- n
	}()
	n := -1
	for i := 0; n < 0 || i < n; i++ {
		m, err := cl.Read(c.ctx)
		if err != nil {
			c.t.Fatalf("Read of echo %d: %v\n%s", i, err, c.srv.describe(id))
		}
		if string(m.Data) != fmt.Sprint(i) || m.Binary != (i%2 == 1) {
			c.t.Fatalf("echo %d: got %q (binary %v)", i, m.Data, m.Binary)
		}
		<-window
		if n < 0 {
			select {
			case n = <-total:
			default:
			}
		}
	}
	c.t.Logf("%d messages each way", n)
}

// heartbeat stays connected for several ping intervals: the peer closes a client that does
// not answer its pings within 200 ms, and our client closes itself if the pings stop.
func (c *eioClientCase) heartbeat() {
	cl, id := c.dial()
	select {
	case <-time.After(5 * eioPingInterval):
	case <-c.ctx.Done():
	}
	c.roundTrip(cl, id, []byte("still there"), false)
	if eioReports(c.srv, id, "close") != 0 {
		c.t.Fatalf("peer closed the session\n%s", c.srv.describe(id))
	}
}

// serverClose asks the peer to close the session: Read reports it.
func (c *eioClientCase) serverClose() {
	cl, id := c.dial()
	c.roundTrip(cl, id, []byte("before"), false)
	if err := cl.Send(c.ctx, []byte(eioCloseMe), false); err != nil {
		c.t.Fatal(err)
	}
	_, err := cl.Read(c.ctx)
	var ce *engineio.CloseError
	if !errors.As(err, &ce) || ce.Reason != engineio.CloseTransportClose {
		c.t.Fatalf("Read after the peer closed: %v, want a CloseError with reason %q", err, engineio.CloseTransportClose)
	}
	if r := c.saw(id, "close"); r.Reason != "forced close" {
		c.t.Fatalf("peer's close reason %q, want forced close", r.Reason)
	}
}

// clientClose sends messages then closes at once: the peer gets them all, then the close
// packet (on polling) or WebSocket close. The messages are not echoed: an echo still being
// written when the connection closes ends the peer's session with "transport error".
func (c *eioClientCase) clientClose() {
	cl, id := c.dial()
	for i := range 5 {
		if err := cl.Send(c.ctx, []byte(fmt.Sprint("quiet:", i)), false); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := cl.Close(); err != nil {
		c.t.Fatal(err)
	}
	if r := c.saw(id, "close"); r.Reason != "transport close" {
		c.t.Fatalf("peer's close reason %q, want transport close\n%s", r.Reason, c.srv.describe(id))
	}
	if n := eioReports(c.srv, id, "message"); n != 5 {
		c.t.Fatalf("peer got %d messages before the close, want 5\n%s", n, c.srv.describe(id))
	}
	if _, err := cl.Read(c.ctx); !errors.Is(err, engineio.CloseClientClose) {
		c.t.Fatalf("Read after Close: %v", err)
	}
}

// eioReports returns how many reports of event the peer printed for id.
func eioReports(s *peerServer, id, event string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.reports {
		if r.ID == id && r.Event == event {
			n++
		}
	}
	return n
}
