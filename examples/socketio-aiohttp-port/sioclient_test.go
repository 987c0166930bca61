package main

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// sioClient speaks just enough Socket.IO v5 over an engineio.Client to drive
// an example from a test: the main namespace, JSON events and acks.
type sioClient struct {
	t       *testing.T
	eio     *engineio.Client
	sid     string
	nextAck int
	pending []sioPacket // events read while waiting for an ack
}

// sioPacket is a decoded CONNECT (0), EVENT (2) or ACK (3) packet.
type sioPacket struct {
	typ  byte
	id   int // -1 if none
	data json.RawMessage
}

// dialSIO connects to the main namespace of the Socket.IO server at base
// (http://host:port) and closes the connection when t ends.
func dialSIO(t *testing.T, base string) *sioClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eio, err := engineio.Dial(ctx, base+"/socket.io/", &engineio.DialOptions{Transports: []string{"websocket"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = eio.Close() })
	c := &sioClient{t: t, eio: eio}
	c.send("0")
	p := c.read()
	var ok struct {
		SID string `json:"sid"`
	}
	if p.typ != '0' || json.Unmarshal(p.data, &ok) != nil || ok.SID == "" {
		t.Fatalf("CONNECT answered with %c%s, want 0{\"sid\":...}", p.typ, p.data)
	}
	c.sid = ok.SID
	return c
}

func (c *sioClient) send(text string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.eio.Send(ctx, []byte(text), false); err != nil {
		c.t.Fatalf("send %s: %v", text, err)
	}
}

// read returns the next Socket.IO packet from the server.
func (c *sioClient) read() sioPacket {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.eio.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if m.Binary || len(m.Data) == 0 {
		c.t.Fatalf("unexpected message %q (binary %v)", m.Data, m.Binary)
	}
	s := string(m.Data)
	p := sioPacket{typ: s[0], id: -1}
	s = s[1:]
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 {
		p.id, _ = strconv.Atoi(s[:i])
	}
	p.data = json.RawMessage(s[i:])
	return p
}

// emit sends an event without asking for an ack.
func (c *sioClient) emit(event string, args ...any) {
	c.t.Helper()
	c.send("2" + encodeEvent(c.t, event, args))
}

// call sends an event with an ack id and returns the ack's arguments;
// events that arrive meanwhile are kept for next.
func (c *sioClient) call(event string, args ...any) []json.RawMessage {
	c.t.Helper()
	c.nextAck++
	id := c.nextAck
	c.send("2" + strconv.Itoa(id) + encodeEvent(c.t, event, args))
	for {
		p := c.read()
		switch {
		case p.typ == '3' && p.id == id:
			var out []json.RawMessage
			if err := json.Unmarshal(p.data, &out); err != nil {
				c.t.Fatalf("ack %d: %q: %v", id, p.data, err)
			}
			return out
		case p.typ == '2':
			c.pending = append(c.pending, p)
		default:
			c.t.Fatalf("waiting for ack %d, got packet %c%d%s", id, p.typ, p.id, p.data)
		}
	}
}

// next returns the name and arguments of the next event from the server.
func (c *sioClient) next() (string, []json.RawMessage) {
	c.t.Helper()
	var p sioPacket
	if len(c.pending) > 0 {
		p, c.pending = c.pending[0], c.pending[1:]
	} else {
		p = c.read()
	}
	var arr []json.RawMessage
	var name string
	if p.typ != '2' || json.Unmarshal(p.data, &arr) != nil || len(arr) == 0 || json.Unmarshal(arr[0], &name) != nil {
		c.t.Fatalf("want an event, got packet %c%s", p.typ, p.data)
	}
	return name, arr[1:]
}

// expect reads the next event and checks its name and JSON arguments.
func (c *sioClient) expect(event string, args ...string) {
	c.t.Helper()
	name, got := c.next()
	if name != event || len(got) != len(args) {
		c.t.Fatalf("got event %q %s, want %q %v", name, got, event, args)
	}
	for i := range args {
		if !jsonEqual(got[i], args[i]) {
			c.t.Fatalf("event %q argument %d: got %s, want %s", event, i, got[i], args[i])
		}
	}
}

func encodeEvent(t *testing.T, event string, args []any) string {
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonEqual compares a JSON value with want, ignoring spacing and key order.
func jsonEqual(got json.RawMessage, want string) bool {
	var g, w any
	if json.Unmarshal(got, &g) != nil || json.Unmarshal([]byte(want), &w) != nil {
		return false
	}
	return reflect.DeepEqual(g, w)
}
