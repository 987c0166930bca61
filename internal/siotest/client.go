// Package siotest is a minimal Socket.IO v5 client for tests: the main namespace, JSON events
// and acknowledgements, spoken packet by packet over an engineio.Client, so that a test sees
// exactly what the server sent.
package siotest

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// Client speaks just enough Socket.IO v5 over an engineio.Client to drive
// an example from a test: the main namespace, JSON events and acks.
type Client struct {
	t       testing.TB
	eio     *engineio.Client
	sid     string
	nextAck int
	pending []Packet // events read while waiting for an ack
}

// SID returns the socket id the server answered the CONNECT with.
func (c *Client) SID() string { return c.sid }

// Packet is a decoded CONNECT (0), EVENT (2) or ACK (3) packet.
type Packet struct {
	Type byte // '0', '2' or '3'
	ID   int  // -1 if none
	Data json.RawMessage
}

// Dial connects to the main namespace of the Socket.IO server at base
// (http://host:port) and closes the connection when t ends.
func Dial(t testing.TB, base string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eio, err := engineio.Dial(ctx, base+"/socket.io/", &engineio.DialOptions{Transports: []string{"websocket"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = eio.Close() })
	c := &Client{t: t, eio: eio}
	c.Send("0")
	p := c.Read()
	var ok struct {
		SID string `json:"sid"`
	}
	if p.Type != '0' || json.Unmarshal(p.Data, &ok) != nil || ok.SID == "" {
		t.Fatalf("CONNECT answered with %c%s, want 0{\"sid\":...}", p.Type, p.Data)
	}
	c.sid = ok.SID
	return c
}

// Send sends a raw Socket.IO packet, such as `2["event"]`.
func (c *Client) Send(text string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.eio.Send(ctx, []byte(text), false); err != nil {
		c.t.Fatalf("send %s: %v", text, err)
	}
}

// Read returns the next Socket.IO packet from the server.
func (c *Client) Read() Packet {
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
	p := Packet{Type: s[0], ID: -1}
	s = s[1:]
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 {
		p.ID, _ = strconv.Atoi(s[:i])
	}
	p.Data = json.RawMessage(s[i:])
	return p
}

// Emit sends an event without asking for an ack.
func (c *Client) Emit(event string, args ...any) {
	c.t.Helper()
	c.Send("2" + encodeEvent(c.t, event, args))
}

// Call sends an event with an ack id and returns the ack's arguments;
// events that arrive meanwhile are kept for Next.
func (c *Client) Call(event string, args ...any) []json.RawMessage {
	c.t.Helper()
	c.nextAck++
	id := c.nextAck
	c.Send("2" + strconv.Itoa(id) + encodeEvent(c.t, event, args))
	for {
		p := c.Read()
		switch {
		case p.Type == '3' && p.ID == id:
			var out []json.RawMessage
			if err := json.Unmarshal(p.Data, &out); err != nil {
				c.t.Fatalf("ack %d: %q: %v", id, p.Data, err)
			}
			return out
		case p.Type == '2':
			c.pending = append(c.pending, p)
		default:
			c.t.Fatalf("waiting for ack %d, got packet %c%d%s", id, p.Type, p.ID, p.Data)
		}
	}
}

// Next returns the name and arguments of the next event from the server.
func (c *Client) Next() (string, []json.RawMessage) {
	c.t.Helper()
	var p Packet
	if len(c.pending) > 0 {
		p, c.pending = c.pending[0], c.pending[1:]
	} else {
		p = c.Read()
	}
	var arr []json.RawMessage
	var name string
	if p.Type != '2' || json.Unmarshal(p.Data, &arr) != nil || len(arr) == 0 || json.Unmarshal(arr[0], &name) != nil {
		c.t.Fatalf("want an event, got packet %c%s", p.Type, p.Data)
	}
	return name, arr[1:]
}

// Expect reads the next event and checks its name and JSON arguments.
func (c *Client) Expect(event string, args ...string) {
	c.t.Helper()
	name, got := c.Next()
	if name != event || len(got) != len(args) {
		c.t.Fatalf("got event %q %s, want %q %v", name, got, event, args)
	}
	for i := range args {
		if !jsonEqual(got[i], args[i]) {
			c.t.Fatalf("event %q argument %d: got %s, want %s", event, i, got[i], args[i])
		}
	}
}

func encodeEvent(t testing.TB, event string, args []any) string {
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Close closes the connection.
func (c *Client) Close() error { return c.eio.Close() }

// DropPending forgets the events read while waiting for an acknowledgement.
func (c *Client) DropPending() { c.pending = nil }

// JSONEqual reports whether got is the JSON value want, whatever the spacing and key order.
func JSONEqual(got json.RawMessage, want string) bool { return jsonEqual(got, want) }

// jsonEqual compares a JSON value with want, ignoring spacing and key order.
func jsonEqual(got json.RawMessage, want string) bool {
	var g, w any
	if json.Unmarshal(got, &g) != nil || json.Unmarshal([]byte(want), &w) != nil {
		return false
	}
	return reflect.DeepEqual(g, w)
}
