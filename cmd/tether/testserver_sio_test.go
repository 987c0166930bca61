package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/testenv"
)

// Tests of the Socket.IO app of docs/TEST-SERVERS.md section 1, in raw Socket.IO
// packets over engineio.Client. Real Socket.IO clients run against it in
// internal/interop.

// startSIOServer runs a test server with cfg on a free loopback port until
// the test ends and returns its address. Zero ping settings get a 5 s ping
// timeout rather than 200 ms, so that a loaded machine does not end
// sessions under the test; zero connectTimeout gets 10 s, for the same
// reason.
func startSIOServer(t *testing.T, cfg testServerConfig) string {
	t.Helper()
	if cfg.pingInterval == 0 {
		cfg.pingInterval, cfg.pingTimeout = testServerPingInterval, 5*time.Second
	}
	if cfg.connectTimeout == 0 {
		cfg.connectTimeout = 10 * time.Second
	}
	return testenv.Serve(t, newTestServer(cfg).serve)
}

// sioClient exchanges raw Socket.IO packets (the Engine.IO message
// payloads) with the test server.
type sioClient struct {
	t *testing.T
	c *engineio.Client
}

// dialSIO opens an Engine.IO session on /socket.io/; no transports means
// polling with an upgrade to WebSocket.
func dialSIO(t *testing.T, addr string, transports ...string) *sioClient {
	t.Helper()
	c, err := engineio.Dial(testCtx(t), "http://"+addr+socketIOPath, &engineio.DialOptions{Transports: transports})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &sioClient{t: t, c: c}
}

func (c *sioClient) send(packet string) {
	c.t.Helper()
	if err := c.c.Send(testCtx(c.t), []byte(packet), false); err != nil {
		c.t.Fatalf("send %q: %v", packet, err)
	}
}

func (c *sioClient) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.c.Send(testCtx(c.t), b, true); err != nil {
		c.t.Fatalf("send binary: %v", err)
	}
}

func (c *sioClient) next() engineio.Message {
	c.t.Helper()
	m, err := c.c.Read(testCtx(c.t))
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// expect reads the next message and fails unless it is the text packet want.
func (c *sioClient) expect(want string) {
	c.t.Helper()
	if m := c.next(); m.Binary || string(m.Data) != want {
		c.t.Fatalf("got %q (binary %v), want %q", m.Data, m.Binary, want)
	}
}

// connect joins namespace nsp ("/" or "/name") with the auth JSON (none if
// empty), checks the server's answer and its auth event, and returns the
// socket id.
func (c *sioClient) connect(nsp, auth string) string {
	c.t.Helper()
	sid := c.join(nsp, auth)
	if auth == "" {
		auth = "{}"
	}
	c.expect("2" + nspPrefix(nsp) + `["auth",` + auth + "]")
	return sid
}

// join sends a CONNECT for namespace nsp with the auth JSON (none if empty)
// and returns the socket id the server answers with.
func (c *sioClient) join(nsp, auth string) string {
	c.t.Helper()
	prefix := nspPrefix(nsp)
	c.send("0" + prefix + auth)
	m := c.next()
	var ok struct {
		SID string `json:"sid"`
	}
	js, found := strings.CutPrefix(string(m.Data), "0"+prefix)
	if !found || json.Unmarshal([]byte(js), &ok) != nil || ok.SID == "" {
		c.t.Fatalf("CONNECT %s answered %q, want 0%s{\"sid\":...}", nsp, m.Data, prefix)
	}
	return ok.SID
}

// nspPrefix is what precedes a packet's data for namespace nsp.
func nspPrefix(nsp string) string {
	if nsp == "/" {
		return ""
	}
	return nsp + ","
}

func TestTestServerSIOSettings(t *testing.T) {
	addr := startTestServer(t)
	c := newEIOClient(t, addr)
	c.base = "http://" + addr + socketIOPath
	checkSettings(t, c.handshake(), []string{"websocket"})
	const origin = "http://page.example"
	resp, _ := c.do("GET", c.base+"?EIO=4&transport=polling", http.Header{"Origin": {origin}}, "")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != http.StatusOK || (got != "*" && got != origin) {
		t.Errorf("handshake from %s: HTTP %d, Access-Control-Allow-Origin %q", origin, resp.StatusCode, got)
	}
}

func TestTestServerSIOEvents(t *testing.T) {
	addr := startSIOServer(t, testServerConfig{})
	for _, transports := range [][]string{nil, {"polling"}, {"websocket"}} {
		name := strings.Join(transports, "-")
		if name == "" {
			name = "upgrade"
		}
		t.Run(name, func(t *testing.T) {
			c := dialSIO(t, addr, transports...)
			c.connect("/", "")

			c.send(`2["message",1,"two",{"three":[3,null,true]}]`)
			c.expect(`2["message-back",1,"two",{"three":[3,null,true]}]`)
			c.send(`2["message"]`)
			c.expect(`2["message-back"]`)
			c.send(`21["message-with-ack","a",2]`)
			c.expect(`31["a",2]`)

			// Binary comes back as binary, in acks too.
			c.send(`51-["message",{"_placeholder":true,"num":0},"x"]`)
			c.sendBinary([]byte{0, 1, 255})
			c.expect(`51-["message-back",{"_placeholder":true,"num":0},"x"]`)
			if m := c.next(); !m.Binary || !bytes.Equal(m.Data, []byte{0, 1, 255}) {
				t.Fatalf("attachment = %q (binary %v)", m.Data, m.Binary)
			}
			c.send(`51-7["message-with-ack",{"_placeholder":true,"num":0}]`)
			c.sendBinary([]byte("bin"))
			c.expect(`61-7[{"_placeholder":true,"num":0}]`)
			if m := c.next(); !m.Binary || string(m.Data) != "bin" {
				t.Fatalf("attachment = %q (binary %v)", m.Data, m.Binary)
			}

			// Unknown events get nothing, not even the ack asked for:
			// the next packet is the answer to the following event.
			c.send(`22["no-such-event",1]`)
			c.send(`2["other"]`)
			c.send(`23["message-with-ack","after"]`)
			c.expect(`33["after"]`)

			// request-ack: the client's ack values come back as ack-result.
			c.send(`2["request-ack","q",{"n":1}]`)
			m := c.next()
			id, found := strings.CutSuffix(strings.TrimPrefix(string(m.Data), "2"), `["ack-me","q",{"n":1}]`)
			if !found || id == "" || strings.Trim(id, "0123456789") != "" {
				t.Fatalf("got %q, want 2<id>[\"ack-me\",\"q\",{\"n\":1}]", m.Data)
			}
			c.send("3" + id + `["r",[1,2],null]`)
			c.expect(`2["ack-result","r",[1,2],null]`)

			c.send(`2["disconnect-me"]`)
			c.expect("1")
		})
	}
}

func TestTestServerSIORooms(t *testing.T) {
	addr := startSIOServer(t, testServerConfig{})
	a, b, c := dialSIO(t, addr, "websocket"), dialSIO(t, addr, "websocket"), dialSIO(t, addr, "websocket")
	a.connect("/", "")
	b.connect("/", "")
	c.connect("/", "")
	a.send(`24["join","room 1"]`)
	a.expect(`34["room 1"]`)
	b.send(`2["join","room 1"]`) // no ack asked: none sent
	b.send(`25["message-with-ack","joined"]`)
	b.expect(`35["joined"]`)

	// The sender is in the room but does not get its own room message.
	a.send(`2["to-room","room 1","hi",2]`)
	b.expect(`2["room-message","hi",2]`)
	c.send(`2["to-room","room 1","from outside"]`)
	a.expect(`2["room-message","from outside"]`)
	b.expect(`2["room-message","from outside"]`)

	c.send(`2["broadcast",{"all":true}]`)
	a.expect(`2["broadcast-back",{"all":true}]`)
	b.expect(`2["broadcast-back",{"all":true}]`)
	// Nothing came back to the senders: their next packets are these.
	for _, s := range []*sioClient{a, c} {
		s.send(`2["message","end"]`)
		s.expect(`2["message-back","end"]`)
	}
}

func TestTestServerSIONamespaces(t *testing.T) {
	addr := startSIOServer(t, testServerConfig{})
	c := dialSIO(t, addr, "websocket")
	c.send("0/nope,")
	c.expect(`4/nope,{"message":"Invalid namespace"}`)
	c.connect("/custom", `{"token":"abc","n":[1,2.5]}`)
	c.connect("/", `{"user":"me"}`)
	// /custom has no events; leaving it leaves / as it was.
	c.send(`2/custom,["message",1]`)
	c.send("1/custom,")
	c.send(`2["message",2]`)
	c.expect(`2["message-back",2]`)
	c.send(`2/custom,["message",3]`) // not connected there any more: ignored or refused, never answered
	c.send(`2["message",4]`)
	for range 2 {
		m := c.next()
		if string(m.Data) == `2["message-back",4]` {
			return
		}
		if !strings.HasPrefix(string(m.Data), "4/custom,") {
			t.Fatalf("got %q, want the message-back of / (perhaps after a CONNECT_ERROR for /custom)", m.Data)
		}
	}
	t.Fatal("no message-back for /")
}

// TestTestServerSIOConnectTimeout checks that a session joining no
// namespace is closed by the server.
func TestTestServerSIOConnectTimeout(t *testing.T) {
	addr := startSIOServer(t, testServerConfig{connectTimeout: testServerConnectTimeout})
	c := dialSIO(t, addr, "websocket")
	m, err := c.c.Read(testCtx(t))
	var ce *engineio.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("read %q, %v; want the session closed by the server", m.Data, err)
	}
}

// TestTestServerSIORecovery checks section 1.5: without --recovery a
// CONNECT is answered with the sid only; with it, a client that comes back
// gets its id and the events it missed, which carry their offset.
func TestTestServerSIORecovery(t *testing.T) {
	plain := dialSIO(t, startSIOServer(t, testServerConfig{}), "websocket")
	plain.send("0")
	var fields map[string]any
	if m := plain.next(); json.Unmarshal(bytes.TrimPrefix(m.Data, []byte("0")), &fields) != nil || len(fields) != 1 || fields["sid"] == nil {
		t.Fatalf("CONNECT answered %q, want {\"sid\":...} only", m.Data)
	}

	addr := startSIOServer(t, testServerConfig{recovery: true})
	a := dialSIO(t, addr, "websocket")
	a.send("0")
	var session struct{ SID, PID string }
	if m := a.next(); json.Unmarshal(bytes.TrimPrefix(m.Data, []byte("0")), &session) != nil || session.SID == "" || session.PID == "" {
		t.Fatalf("CONNECT answered %q, want {\"sid\":...,\"pid\":...}", m.Data)
	}
	offset := func(c *sioClient, wantPrefix string) string {
		t.Helper()
		m := c.next()
		var args []any
		if rest, ok := strings.CutPrefix(string(m.Data), "2"); ok && json.Unmarshal([]byte(rest), &args) == nil && len(args) > 0 {
			if off, ok := args[len(args)-1].(string); ok && strings.HasPrefix(string(m.Data), wantPrefix) {
				return off
			}
		}
		t.Fatalf("got %q, want %s...,\"<offset>\"]", m.Data, wantPrefix)
		return ""
	}
	offset(a, `2["auth",{},`)
	a.send(`2["message",1]`)
	last := offset(a, `2["message-back",1,`)
	a.c.Close() // the transport is cut; the session is kept

	b := dialSIO(t, addr, "websocket")
	b.send("0")
	b.next()
	offset(b, `2["auth",{},`)
	b.send(`2["broadcast","missed"]`)
	b.send(`2["message","sync"]`)
	offset(b, `2["message-back","sync",`) // the broadcast went out before this

	a2 := dialSIO(t, addr, "websocket")
	a2.send(`0{"pid":"` + session.PID + `","offset":"` + last + `"}`)
	var back struct{ SID string }
	if m := a2.next(); json.Unmarshal(bytes.TrimPrefix(m.Data, []byte("0")), &back) != nil || back.SID != session.SID {
		t.Fatalf("CONNECT with the pid answered %q, want the same sid %s", m.Data, session.SID)
	}
	// The missed event, perhaps after a new auth event.
	var got []string
	for range 2 {
		got = append(got, string(a2.next().Data))
		if strings.HasPrefix(got[len(got)-1], `2["broadcast-back","missed",`) {
			return
		}
	}
	t.Fatalf("after recovery got %q, want the missed broadcast-back", got)
}
