package socketio

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/tether-rt/tether/engineio"
)

// framedParser is a Parser for tests that writes nothing the JSON parser would take: a packet
// is a binary message (a header, the namespace, the id, the data) followed by one binary
// message per attachment, which its decoder awaits.
type framedParser struct {
	encoded atomic.Int64 // Encode calls
}

const framedMagic = 0xfe // no JSON packet starts with it, nor arrives as binary first

func (f *framedParser) Encode(p *WirePacket) ([]engineio.Message, error) {
	f.encoded.Add(1)
	b := []byte{framedMagic, byte(p.Type), byte(len(p.Attachments))}
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.Namespace)))
	b = append(b, p.Namespace...)
	b = binary.BigEndian.AppendUint64(b, uint64(p.ID))
	b = append(b, p.Data...)
	ms := []engineio.Message{{Data: b, Binary: true}}
	for _, a := range p.Attachments {
		ms = append(ms, engineio.Message{Data: a, Binary: true})
	}
	return ms, nil
}

func (f *framedParser) NewDecoder(limits DecoderLimits) Decoder {
	return &framedDecoder{limits: limits}
}

type framedDecoder struct {
	limits  DecoderLimits
	pending *WirePacket
	want    int
}

var errFramed = errors.New("framed: bad message")

func (d *framedDecoder) Decode(m engineio.Message) (*WirePacket, error) {
	if !m.Binary {
		return nil, fmt.Errorf("%w: text", errFramed)
	}
	if d.pending != nil {
		d.pending.Attachments = append(d.pending.Attachments, m.Data)
		if len(d.pending.Attachments) < d.want {
			return nil, nil
		}
		p := d.pending
		d.pending = nil
		return p, nil
	}
	b := m.Data
	if len(b) < 5 || b[0] != framedMagic {
		return nil, fmt.Errorf("%w: header", errFramed)
	}
	n := int(b[2])
	if n > d.limits.MaxAttachments {
		return nil, fmt.Errorf("%w: %d attachments", errFramed, n)
	}
	l := int(binary.BigEndian.Uint16(b[3:]))
	if len(b) < 5+l+8 {
		return nil, fmt.Errorf("%w: short", errFramed)
	}
	p := &WirePacket{Type: PacketType(b[1]), Namespace: string(b[5 : 5+l]), ID: int64(binary.BigEndian.Uint64(b[5+l:]))}
	p.Data = b[5+l+8:]
	if n == 0 {
		return p, nil
	}
	d.pending, d.want = p, n
	return nil, nil
}

// framedMessages encodes a packet with the framed parser, as a client would send it.
func framedMessages(t testing.TB, typ PacketType, nsp string, id int64, data string, attachments ...[]byte) []engineio.Message {
	t.Helper()
	ms, err := (&framedParser{}).Encode(&WirePacket{Type: typ, Namespace: nsp, ID: id, Data: json.RawMessage(data), Attachments: attachments})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestParserClientServer runs the test app's exchanges between a server and a client that
// both use a custom parser, over every transport: events with binary values, acknowledgements
// both ways, namespaces, auth, a refusal with data, an unknown namespace, a server-side
// disconnect.
func TestParserClientServer(t *testing.T) {
	sp, cp := &framedParser{}, &framedParser{}
	ts := startClientServer(t, &ServerOptions{Parser: sp}, clientEchoApp)
	for name, transports := range clientTransports {
		t.Run(name, func(t *testing.T) {
			var got clientEvents
			c := dialTest(t, ts.url, &ClientOptions{Transports: transports, Parser: cp, Auth: map[string]any{"token": "abc"}}, func(c *Client) {
				got = recordEvents(c.ClientSocket)
				c.On("ack-me", func(ack Ack, args ...any) { ack(append(args, "from client", []byte{9})...) })
			})
			got.expect(t, `auth {"token":"abc"}`)

			if err := c.Emit("message", "hello", 1, map[string]any{"a": []byte{1, 2, 3}}, []byte("raw")); err != nil {
				t.Fatal(err)
			}
			got.expect(t, `message-back "hello" 1 {"a":"AQID"} "cmF3"`)

			a, err := c.EmitWithAck(clientCtx(t), "message-with-ack", []byte{0xff}, "x")
			if err != nil {
				t.Fatal(err)
			}
			var b []byte
			var s string
			if err := a.Decode(&b, &s); err != nil || string(b) != "\xff" || s != "x" {
				t.Fatalf("ack: %q %q %v", b, s, err)
			}

			if err := c.Emit("request-ack", 7, []byte{1}); err != nil {
				t.Fatal(err)
			}
			got.expect(t, `ack-me 7 "AQ=="`)
			got.expect(t, `ack-result 7 "AQ==" "from client" "CQ=="`)

			custom := c.Of("/custom", map[string]any{"who": "me"})
			customGot := recordEvents(custom)
			if err := custom.Connect(clientCtx(t)); err != nil {
				t.Fatal(err)
			}
			customGot.expect(t, `auth {"who":"me"}`)

			var ce *ConnectError
			if err := c.Of("/private", nil).Connect(clientCtx(t)); !errors.As(err, &ce) || ce.Message != "not allowed" || fmt.Sprint(ce.Data) != "map[code:42]" {
				t.Fatalf("Connect(/private) = %v (%#v)", err, ce)
			}
			if err := c.Of("/nope", nil).Connect(clientCtx(t)); !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
				t.Fatalf("Connect(/nope) = %v", err)
			}

			reasons := make(chan DisconnectReason, 1)
			c.OnDisconnect(func(r DisconnectReason) { reasons <- r })
			if err := c.Emit("disconnect-me"); err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-reasons:
				if r != ReasonIOServerDisconnect {
					t.Fatalf("disconnect reason %q", r)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no disconnect")
			}
			if !custom.Connected() {
				t.Fatal("/custom left with /")
			}
		})
	}
	if sp.encoded.Load() == 0 || cp.encoded.Load() == 0 {
		t.Fatalf("the parsers encoded %d (server) and %d (client) packets", sp.encoded.Load(), cp.encoded.Load())
	}

	// A client speaking JSON to this server is refused: the parser is the server's for every
	// client.
	jc, err := NewClient(ts.url, &ClientOptions{Transports: []string{"websocket"}, DisableReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	if err := jc.Connect(clientCtx(t)); err == nil {
		t.Fatal("a JSON client connected to a server with another parser")
	}
}

// connectFramed joins n fake connections, which keep what is sent to them, to "/" of srv,
// which uses the framed parser.
func connectFramed(t testing.TB, srv *Server, n int) []*conn {
	t.Helper()
	conns := make([]*conn, n)
	for i := range conns {
		conns[i] = newConn(srv, &fakeSession{id: randomID(), keep: true})
		for _, m := range framedMessages(t, PacketConnect, "/", noID, "") {
			conns[i].receive(m)
		}
	}
	// A socket is in the namespace just before its CONNECT reply is encoded and sent: wait
	// for the replies too, so that a test counting encodings counts none of them.
	answered := func() int {
		k := 0
		for _, c := range conns {
			if c.es.(*fakeSession).sent.Load() > 0 {
				k++
			}
		}
		return k
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Of("/").Sockets()) < n || answered() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sockets connected, %d answered", len(srv.Of("/").Sockets()), n, answered())
		}
		time.Sleep(time.Millisecond)
	}
	// A socket is listed before its CONNECT reply has gone through the parser: wait for
	// that too, or tests counting encodings count it.
	drainHandlers(srv)
	return conns
}

// TestParserBroadcastEncodedOnce: a broadcast goes through the server's parser once, whatever
// the number of recipients, and each gets the same messages.
func TestParserBroadcastEncodedOnce(t *testing.T) {
	p := &framedParser{}
	srv := NewServer(&ServerOptions{Parser: p})
	conns := connectFramed(t, srv, 50)
	defer closeFakes(conns)
	before := p.encoded.Load()
	if err := srv.Emit("news", "x", []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if n := p.encoded.Load() - before; n != 1 {
		t.Fatalf("a broadcast to 50 sockets was encoded %d times", n)
	}
	first := conns[0].es.(*fakeSession)
	first.mu.Lock()
	defer first.mu.Unlock()
	want := first.last[len(first.last)-2:]
	for _, c := range conns[1:] {
		f := c.es.(*fakeSession)
		f.mu.Lock()
		got := f.last[len(f.last)-2:]
		f.mu.Unlock()
		if got[0] != want[0] || got[1] != want[1] {
			t.Fatal("recipients got different messages")
		}
	}
}

// TestParserInvalidPackets: what a custom decoder returns is held to the JSON parser's rules,
// and a bad packet closes its connection only.
func TestParserInvalidPackets(t *testing.T) {
	event := func(data string, attachments ...[]byte) *WirePacket {
		return &WirePacket{Type: PacketEvent, Namespace: "/", ID: noID, Data: json.RawMessage(data), Attachments: attachments}
	}
	bin := []byte{1}
	tests := []struct {
		name string
		p    *WirePacket
		want error
	}{
		{"unknown type", &WirePacket{Type: 7, Namespace: "/", ID: noID}, errPacketType},
		{"no namespace", &WirePacket{Type: PacketConnect, ID: noID}, errNamespace},
		{"namespace without slash", &WirePacket{Type: PacketConnect, Namespace: "chat", ID: noID}, errNamespace},
		{"negative id", &WirePacket{Type: PacketEvent, Namespace: "/", ID: -2, Data: json.RawMessage(`["a"]`)}, errAckID},
		{"id beyond 15 digits", &WirePacket{Type: PacketEvent, Namespace: "/", ID: maxAckID + 1, Data: json.RawMessage(`["a"]`)}, errAckID},
		{"CONNECT with binary", &WirePacket{Type: PacketConnect, Namespace: "/", ID: noID, Attachments: [][]byte{bin}}, errAttachments},
		{"CONNECT with an array", &WirePacket{Type: PacketConnect, Namespace: "/", ID: noID, Data: json.RawMessage(`[1]`)}, errPayload},
		{"CONNECT with bad JSON", &WirePacket{Type: PacketConnect, Namespace: "/", ID: noID, Data: json.RawMessage(`{"a":}`)}, errPayload},
		{"DISCONNECT with data", &WirePacket{Type: PacketDisconnect, Namespace: "/", ID: noID, Data: json.RawMessage(`{}`)}, errPayload},
		{"event not an array", event(`{"a":1}`), errPayload},
		{"event without a name", event(`[]`), errPayload},
		{"reserved event", event(`["connect"]`), errReservedEvent},
		{"too many attachments", event(`["a"]`, bin, bin, bin, bin, bin, bin, bin, bin, bin, bin, bin), errTooManyBinary},
		{"placeholder beyond the attachments", event(`["a",{"_placeholder":true,"num":1}]`, bin), errBadPlaceholder},
		{"ACK not an array", &WirePacket{Type: PacketAck, Namespace: "/", ID: 1, Data: json.RawMessage(`1`)}, errPayload},
	}
	for _, tt := range tests {
		if _, err := fromWire(tt.p, defaultMaxAttachments, defaultMaxDecodedValues); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}

	ok := []*WirePacket{
		event(`["a",{"_placeholder":true,"num":0}]`, bin),
		{Type: PacketBinaryEvent, Namespace: "/", ID: noID, Data: json.RawMessage(`["a"]`)},
		{Type: PacketAck, Namespace: "/chat", ID: maxAckID, Data: json.RawMessage(`[]`)},
		{Type: PacketConnect, Namespace: "/", ID: noID, Data: json.RawMessage(` {"token":1} `)},
		{Type: PacketConnectError, Namespace: "/", ID: noID, Data: json.RawMessage(`"no"`)},
	}
	for _, wp := range ok {
		p, err := fromWire(wp, defaultMaxAttachments, defaultMaxDecodedValues)
		if err != nil {
			t.Errorf("%+v: %v", wp, err)
			continue
		}
		if want := len(wp.Attachments) > 0; p.typ.binary() != want {
			t.Errorf("%+v: type %s", wp, p.typ)
		}
	}

	// End to end: the offending connection is closed, its neighbour goes on.
	srv := NewServer(&ServerOptions{Parser: &framedParser{}})
	conns := connectFramed(t, srv, 2)
	defer closeFakes(conns)
	bad, good := conns[0], conns[1]
	bad.receive(engineio.Message{Data: []byte(`2["message"]`)}) // JSON text
	if !bad.es.(*fakeSession).closed.Load() {
		t.Fatal("a connection sending a packet its parser refuses is still open")
	}
	got := make(chan string, 1)
	srv.On("ping", func(s string) { got <- s })
	for _, m := range framedMessages(t, PacketEvent, "/", noID, `["ping","still here"]`) {
		good.receive(m)
	}
	select {
	case s := <-got:
		if s != "still here" || good.es.(*fakeSession).closed.Load() {
			t.Fatalf("got %q, closed %v", s, good.es.(*fakeSession).closed.Load())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other connection's event was not handled")
	}
	if s := srv.Of("/").Sockets(); len(s) != 1 {
		t.Fatalf("%d sockets left, want 1", len(s))
	}
}

// wrappedJSON is a custom parser that is the JSON parser underneath: the generic path with
// the protocol's wire format.
type wrappedJSON struct {
	JSONParser
	encoded atomic.Int64
}

func (w *wrappedJSON) Encode(p *WirePacket) ([]engineio.Message, error) {
	w.encoded.Add(1)
	return w.JSONParser.Encode(p)
}

// TestJSONParser: JSONParser's methods speak the protocol's JSON, so that a server going
// through them (wrapped) serves clients that use the default parser; JSONParser itself given
// as the option is the default path.
func TestJSONParser(t *testing.T) {
	if newWireFormat(JSONParser{}) != nil || newWireFormat(nil) != nil || newWireFormat(&framedParser{}) == nil {
		t.Fatal("JSONParser{} and nil are the default path, other parsers not")
	}
	w := &wrappedJSON{}
	ts := startClientServer(t, &ServerOptions{Parser: w}, clientEchoApp)
	for name, transports := range clientTransports {
		t.Run(name, func(t *testing.T) {
			var got clientEvents
			c := dialTest(t, ts.url, &ClientOptions{Transports: transports, Auth: map[string]any{"k": 1}}, func(c *Client) {
				got = recordEvents(c.ClientSocket)
			})
			got.expect(t, `auth {"k":1}`)
			if err := c.Emit("message", "x", []byte{1}, map[string]any{"b": []byte{2, 3}}); err != nil {
				t.Fatal(err)
			}
			got.expect(t, `message-back "x" "AQ==" {"b":"AgM="}`)
			a, err := c.EmitWithAck(clientCtx(t), "message-with-ack", []byte{9})
			if err != nil || fmt.Sprint(a.Values()) != "[[9]]" {
				t.Fatalf("ack %v %v", a.Values(), err)
			}
			var ce *ConnectError
			if err := c.Of("/nope", nil).Connect(clientCtx(t)); !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
				t.Fatalf("Connect(/nope) = %v", err)
			}
		})
	}
	if w.encoded.Load() == 0 {
		t.Fatal("the wrapped parser encoded nothing")
	}

	// Encode and Decode give each other's packets back, as the internal parser reads them.
	d := JSONParser{}.NewDecoder(DecoderLimits{MaxAttachments: 10})
	for _, wp := range []*WirePacket{
		{Type: PacketBinaryEvent, Namespace: "/chat", ID: 7, Data: json.RawMessage(`["a",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{1}}},
		{Type: PacketConnect, Namespace: "/", ID: noID},
		{Type: PacketAck, Namespace: "/", ID: 0, Data: json.RawMessage(`[1]`)},
	} {
		ms, err := JSONParser{}.Encode(wp)
		if err != nil {
			t.Fatal(err)
		}
		var got *WirePacket
		for _, m := range ms {
			if got, err = d.Decode(m); err != nil {
				t.Fatal(err)
			}
		}
		if got == nil || got.Type != wp.Type || got.Namespace != wp.Namespace || got.ID != wp.ID || string(got.Data) != string(wp.Data) || len(got.Attachments) != len(wp.Attachments) {
			t.Fatalf("%+v came back as %+v", wp, got)
		}
	}
}

// BenchmarkFromWire measures the check of a packet from a custom decoder (the JSON parser's
// rules, and the split of an event's arguments), what the server adds to a custom parser's
// Decode.
func BenchmarkFromWire(b *testing.B) {
	wp := WirePacket{Type: PacketEvent, Namespace: "/", ID: noID, Data: json.RawMessage(`["order",{"symbol":"ACME","qty":10,"price":101.25},"rush"]`)}
	b.ReportAllocs()
	for b.Loop() {
		p := wp
		if _, err := fromWire(&p, defaultMaxAttachments, defaultMaxDecodedValues); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPacketSize: room for a custom parser's messages costs a Packet nothing with the JSON
// parser: it stays in the size class of 176 bytes it had before (on 64-bit platforms).
func TestPacketSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) == 8 && unsafe.Sizeof(Packet{}) > 176 {
		t.Fatalf("a Packet takes %d bytes, more than 176", unsafe.Sizeof(Packet{}))
	}
}
