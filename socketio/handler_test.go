package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/tether-rt/tether/engineio"
)

// TestDirectHandlerShapes checks the handlers called without reflection (directCall) end to
// end, as the reflective path behaves for the same shapes: every argument as received, binary
// included, the Ack given, a returned Args sent back as the acknowledgement.
func TestDirectHandlerShapes(t *testing.T) {
	shapes := map[string]any{
		"relay":     func(s *Socket, a Args) { _ = s.Emit("back", a) },
		"returns":   func(s *Socket, a Args) Args { return a },
		"takes-ack": func(s *Socket, ack Ack, a Args) { _ = ack(a.Len(), a) },
	}
	for name, fn := range shapes {
		if directCall(fn) == nil {
			t.Fatalf("%s: %T is not called directly", name, fn)
		}
	}
	ts := startClientServer(t, nil, func(io *Server) {
		for name, fn := range shapes {
			io.On(name, fn)
		}
	})
	for tname, transports := range clientTransports {
		t.Run(tname, func(t *testing.T) {
			var got clientEvents
			c := dialTest(t, ts.url, &ClientOptions{Transports: transports}, func(c *Client) {
				got = recordEvents(c.ClientSocket)
			})
			if err := c.Emit("relay", "x", []byte{1, 2}); err != nil {
				t.Fatal(err)
			}
			got.expect(t, `back "x" "AQI="`)
			for event, want := range map[string]string{
				"returns":   `"x" "AQI="`,
				"takes-ack": `2 "x" "AQI="`, // an Args among values is spliced in
			} {
				a, err := c.EmitWithAck(clientCtx(t), event, "x", []byte{1, 2})
				if err != nil {
					t.Fatal(err)
				}
				vals := make([]any, a.Len())
				ptrs := make([]any, a.Len())
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := a.Decode(ptrs...); err != nil {
					t.Fatal(err)
				}
				// eventLine prints []byte as base64, like the events above.
				if s := strings.TrimSpace(eventLine("", vals)); s != want {
					t.Errorf("%s: ack %q, want %q", event, s, want)
				}
			}
		})
	}
}

// TestDirectHandlerPanic checks that a panic in a handler called directly is recovered and
// logged with its namespace and socket, as any other handler's.
func TestDirectHandlerPanic(t *testing.T) {
	rec := &logRecorder{}
	srv := NewServer(&ServerOptions{Logger: slog.New(rec)})
	srv.On("m", func(s *Socket, a Args) { panic("boom") })
	cn := fakeConnect(t, srv, 1)[0]
	cn.receive(engineio.Message{Data: []byte(`2["m"]`)})
	drainHandlers(srv)
	closeFakes([]*conn{cn})
	lines := strings.Join(rec.take(), "\n")
	if !strings.Contains(lines, "panic in handler of m") || !strings.Contains(lines, "nsp=/") || !strings.Contains(lines, "socket=") {
		t.Fatalf("logged %q", lines)
	}
}

// TestEventAnsweredOnce checks that an event with several handlers is answered once, by the
// first answer, whichever way each handler answers: by returning an Args (sent without an Ack
// being made), through an Ack it takes, or by returning values (reflection); and that a
// returned Args goes back byte for byte, binary included. A second answer would reach the
// client before the "done" event that follows.
func TestEventAnsweredOnce(t *testing.T) {
	returnsArgs := func(s *Socket, a Args) Args { return a }
	takesAck := func(s *Socket, ack Ack, a Args) { _ = ack("from-ack") }
	returnsValues := func(s *Socket, x string) string { return "from-values" }
	url := startServer(t, &ServerOptions{Logger: slog.New(slog.DiscardHandler)}, func(io *Server) {
		io.On("args-first", returnsArgs)
		io.On("args-first", takesAck)
		io.On("args-first", returnsValues)
		io.On("ack-first", takesAck)
		io.On("ack-first", returnsArgs)
		io.On("values-first", returnsValues)
		io.On("values-first", returnsArgs)
		io.On("values-first", takesAck)
		io.On("done", func(s *Socket) { _ = s.Emit("done") })
		io.Of("/chat").On("args-first", returnsArgs)
	})
	c := dialRaw(t, url, "websocket")
	c.connect("/")
	for _, tc := range []struct{ send, want string }{
		{`421["args-first","\ud800",{"n":[1,2.50]}]`, `431["\ud800",{"n":[1,2.50]}]`},
		{`422["ack-first","x"]`, `432["from-ack"]`},
		{`423["values-first","x"]`, `433["from-values"]`},
		{`424["args-first"]`, `434[]`},
	} {
		c.send(tc.send)
		c.expect(tc.want)
		c.send(`42["done"]`)
		c.expect(`42["done"]`)
	}
	// In another namespace, whose name and a comma precede the id.
	c.connect("/chat")
	c.send(`42/chat,5["args-first","x",2]`)
	c.expect(`43/chat,5["x",2]`)
	c.send(`42/chat,6["args-first"]`)
	c.expect(`43/chat,6[]`)
	// Binary: the attachment goes back with the returned Args.
	c.send(`451-5["args-first",{"_placeholder":true,"num":0}]`, []byte{7, 8})
	c.expect(`461-5[{"_placeholder":true,"num":0}]`)
	c.expect(`<bin:` + string([]byte{7, 8}) + `>`)
	c.send(`42["done"]`)
	c.expect(`42["done"]`)
	// Without an id the event asks for no answer, and gets none.
	c.send(`42["args-first","x"]`)
	c.send(`42["done"]`)
	c.expect(`42["done"]`)
}

// TestAckArgsPacketMatchesAckPacket checks that an Args returned by a handler is encoded as
// ackPacket would encode it among values.
func TestAckArgsPacketMatchesAckPacket(t *testing.T) {
	for _, a := range []Args{
		{},
		{raw: []json.RawMessage{}},
		{raw: []json.RawMessage{json.RawMessage(`"\ud800"`), json.RawMessage(`{"b":{"_placeholder":true,"num":0}}`)}, attachments: [][]byte{[]byte("xyz")}},
		{raw: []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`[2, 3]`)}},
	} {
		want, err := ackPacket("/chat", 7, []any{a})
		if err != nil {
			t.Fatal(err)
		}
		got := ackArgsPacket("/chat", 7, a)
		if got.typ != want.typ || got.nsp != want.nsp || got.id != want.id || !bytes.Equal(got.data, want.data) || len(got.attachments) != len(want.attachments) {
			t.Errorf("%v: got %v %q %d %s %d attachments, want %v %q %d %s %d", a, got.typ, got.nsp, got.id, got.data, len(got.attachments), want.typ, want.nsp, want.id, want.data, len(want.attachments))
		}
	}
}

// TestRelayPacketMatchesNewPacket checks newRelayPacket, which writes a relay's array straight
// into the Engine.IO message, against NewPacket: the same Data for the events it takes, and
// nil (NewPacket's path) for those it does not.
func TestRelayPacketMatchesNewPacket(t *testing.T) {
	two := Args{raw: []json.RawMessage{json.RawMessage(`"\ud800"`), json.RawMessage(`{"n":[1, 2.50]}`)}}
	withBinary := Args{raw: []json.RawMessage{json.RawMessage(`{"_placeholder":true,"num":0}`)}, attachments: [][]byte{{1}}}
	for _, tc := range []struct {
		nsp, event string
		args       []any
		relayed    bool
	}{
		{"/", "message-back", []any{two}, true},
		{"/chat", "message-back", []any{two, Args{}, two}, true},
		{"", "e", nil, true},
		{"/", "e", []any{Args{raw: []json.RawMessage{}}}, true},
		{"/", "a<b", []any{two}, false},
		{"/", "e", []any{two, 1}, false},
		{"/", "e", []any{withBinary}, false},
		{"/", "disconnect", []any{two}, false},
	} {
		p := newRelayPacket(tc.nsp, tc.event, tc.args, false)
		if (p != nil) != tc.relayed {
			t.Errorf("%q %q %v: relayed %v, want %v", tc.nsp, tc.event, tc.args, p != nil, tc.relayed)
			continue
		}
		if p == nil {
			continue
		}
		want, err := NewPacket(tc.nsp, tc.event, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Data(), want.Data()) || p.pkt.typ != want.pkt.typ || p.ID() != want.ID() || p.Namespace() != want.Namespace() || len(p.messages()) != 1 {
			t.Errorf("%q %q: got %s, NewPacket %s", tc.nsp, tc.event, p.Data(), want.Data())
		}
	}
}

// TestRelayEmitOnTheWire checks a relay's emit as the client reads it, in the main namespace
// and another, and with the paths it leaves to NewPacket (binary, a name to escape), and that
// a socket that left its namespace gets nothing and ErrDisconnected.
func TestRelayEmitOnTheWire(t *testing.T) {
	left := make(chan error, 1)
	url := startServer(t, nil, func(io *Server) {
		for _, nsp := range []*Namespace{io.Of("/"), io.Of("/chat")} {
			nsp.On("relay", func(s *Socket, a Args) { _ = s.Emit("back", a) })
			nsp.On("escaped", func(s *Socket, a Args) { _ = s.Emit("a<b", a) })
			nsp.On("leave", func(s *Socket, a Args) {
				s.Disconnect(false)
				left <- s.Emit("back", a)
			})
		}
	})
	c := dialRaw(t, url, "websocket")
	c.connect("/")
	c.connect("/chat")
	c.send(`42["relay","\ud800",{"n":[1, 2.50]}]`)
	c.expect(`42["back","\ud800",{"n":[1, 2.50]}]`)
	c.send(`42/chat,["relay",1]`)
	c.expect(`42/chat,["back",1]`)
	c.send(`42["relay"]`)
	c.expect(`42["back"]`)
	c.send(`42["escaped","x"]`)
	c.expect(`42["a\u003cb","x"]`)
	c.send(`451-/chat,["relay",{"_placeholder":true,"num":0}]`, []byte{9})
	c.expect(`451-/chat,["back",{"_placeholder":true,"num":0}]`)
	c.expect("<bin:\t>")
	c.send(`42/chat,["leave","x"]`)
	c.expect(`41/chat`)
	if err := <-left; !errors.Is(err, ErrDisconnected) {
		t.Fatalf("an emit to a socket that left: %v, want ErrDisconnected", err)
	}
	c.send(`42["relay","still"]`) // nothing came between: the next message is this answer
	c.expect(`42["back","still"]`)
}
