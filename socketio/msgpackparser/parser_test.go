package msgpackparser

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/socketio"
)

// notepackPackets are packets as npm's socket.io-msgpack-parser 3.0.2 (notepack.io 2.2.0)
// encodes them, from socket.io-client and the socket.io server, with the JSON and attachments
// they decode to. The hex was printed by notepack.io's encode of the object in the comment.
var notepackPackets = []struct {
	name        string
	hex         string
	typ         socketio.PacketType
	nsp         string
	id          int64
	data        string
	attachments []string
}{
	{
		// {type: 0, data: undefined, nsp: '/'}: socket.io-client's CONNECT without auth.
		"connect-undefined", "83a47479706500a464617461d40000a36e7370a12f",
		socketio.PacketConnect, "/", -1, "", nil,
	},
	{
		// {type: 0, data: {token: 'abc', n: 1}, nsp: '/'}
		"connect-auth", "83a47479706500a46461746182a5746f6b656ea3616263a16e01a36e7370a12f",
		socketio.PacketConnect, "/", -1, `{"token":"abc","n":1}`, nil,
	},
	{
		// {type: 2, data: ['message', 'hello', 1, -1, 3.5, null, true, {a: [1, 2]},
		// Buffer.from([1, 2, 3])], options: {compress: true}, nsp: '/', id: 7}: an emit of
		// socket.io-client, with its options.
		"event", "85a47479706502a46461746199a76d657373616765a568656c6c6f01ffcb400c000000000000c0c381a161920102c403010203a76f7074696f6e7381a8636f6d7072657373c3a36e7370a12fa2696407",
		socketio.PacketEvent, "/", 7, `["message","hello",1,-1,3.5,null,true,{"a":[1,2]},{"_placeholder":true,"num":0}]`, []string{"\x01\x02\x03"},
	},
	{
		// {type: 2, data: ['n', 2**53-1, -(2**53-1), 255, 256, 65536, -33, -129, -32769,
		// 1.5e-7, 0.1], nsp: '/'}
		"numbers", "83a47479706502a4646174619ba16ecf001fffffffffffffd3ffe0000000000001ccffcd0100ce00010000d0dfd1ff7fd2ffff7fffcb3e8421f5f40d8376cb3fb999999999999aa36e7370a12f",
		socketio.PacketEvent, "/", -1, `["n",9007199254740991,-9007199254740991,255,256,65536,-33,-129,-32769,1.5e-7,0.1]`, nil,
	},
	{
		// {type: 2, data: ['t', new Uint8Array([9, 8, 7]), new Uint8Array([1, 2]).buffer],
		// nsp: '/custom'}: what browsers send as binary.
		"typed-arrays", "83a47479706502a46461746193a174c70300090807c702000102a36e7370a72f637573746f6d",
		socketio.PacketEvent, "/custom", -1, `["t",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, []string{"\x09\x08\x07", "\x01\x02"},
	},
	{
		// {type: 2, data: ['d', new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))], nsp: '/'}
		"date", "83a47479706502a46461746192a164d7000000018cc820db2ea36e7370a12f",
		socketio.PacketEvent, "/", -1, `["d","2024-01-02T03:04:05.678Z"]`, nil,
	},
	{
		// {type: 2, data: ['u', undefined, {a: undefined, b: 1}], nsp: '/'}
		"undefined", "83a47479706502a46461746193a175d4000082a161d40000a16201a36e7370a12f",
		socketio.PacketEvent, "/", -1, `["u",null,{"b":1}]`, nil,
	},
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeOne(t testing.TB, b []byte) (*socketio.WirePacket, error) {
	t.Helper()
	return Parser{}.NewDecoder(socketio.DecoderLimits{MaxAttachments: 10}).Decode(engineio.Message{Data: b, Binary: true})
}

func TestDecodeNotepack(t *testing.T) {
	for _, tt := range notepackPackets {
		p, err := decodeOne(t, mustHex(t, tt.hex))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if p.Type != tt.typ || p.Namespace != tt.nsp || p.ID != tt.id || string(p.Data) != tt.data {
			t.Errorf("%s: got %s %q %d %s, want %s %q %d %s", tt.name, p.Type, p.Namespace, p.ID, p.Data, tt.typ, tt.nsp, tt.id, tt.data)
		}
		var atts []string
		for _, a := range p.Attachments {
			atts = append(atts, string(a))
		}
		if !reflect.DeepEqual(atts, tt.attachments) {
			t.Errorf("%s: attachments %q, want %q", tt.name, atts, tt.attachments)
		}
	}
}

// wire builds a packet, with JSON data.
func wire(typ socketio.PacketType, nsp string, id int64, data string, attachments ...[]byte) *socketio.WirePacket {
	return &socketio.WirePacket{Type: typ, Namespace: nsp, ID: id, Data: json.RawMessage(data), Attachments: attachments}
}

func encodeOne(t testing.TB, p *socketio.WirePacket) []byte {
	t.Helper()
	ms, err := Parser{}.Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || !ms[0].Binary {
		t.Fatalf("%d messages, binary %v: want one binary message", len(ms), len(ms) > 0 && ms[0].Binary)
	}
	return ms[0].Data
}

// TestEncode checks what Encode writes with an independent decoder (vmihailenco/msgpack),
// then that Decode gives the packet back.
func TestEncode(t *testing.T) {
	bin := []byte{0, 1, 0xff}
	big := bytes.Repeat([]byte{7}, 70000)
	tests := []struct {
		name string
		p    *socketio.WirePacket
		want map[string]any // what msgpack.Unmarshal makes of it
		back string         // the data Decode returns, when not p's
	}{
		{"connect without data", wire(socketio.PacketConnect, "/", -1, ""),
			map[string]any{"type": int8(0), "nsp": "/"}, ""},
		{"connect answer", wire(socketio.PacketConnect, "/chat", -1, `{"sid":"abc"}`),
			map[string]any{"type": int8(0), "nsp": "/chat", "data": map[string]any{"sid": "abc"}}, ""},
		{"connect error", wire(socketio.PacketConnectError, "/", -1, `{"message":"Invalid namespace"}`),
			map[string]any{"type": int8(4), "nsp": "/", "data": map[string]any{"message": "Invalid namespace"}}, ""},
		{"connect error string", wire(socketio.PacketConnectError, "/", -1, `"no"`),
			map[string]any{"type": int8(4), "nsp": "/", "data": "no"}, ""},
		{"disconnect", wire(socketio.PacketDisconnect, "/", -1, ""),
			map[string]any{"type": int8(1), "nsp": "/"}, ""},
		{"event with id", wire(socketio.PacketEvent, "/", 12, ` [ "a" , 1 , "x" ] `),
			map[string]any{"type": int8(2), "nsp": "/", "id": int8(12), "data": []any{"a", int8(1), "x"}}, `["a",1,"x"]`},
		{"binary event", wire(socketio.PacketBinaryEvent, "/", -1, `["a",{"_placeholder":true,"num":1},[{"x":{"_placeholder":true,"num":0}}]]`, bin, big),
			map[string]any{"type": int8(2), "nsp": "/", "data": []any{"a", big, []any{map[string]any{"x": bin}}}},
			`["a",{"_placeholder":true,"num":0},[{"x":{"_placeholder":true,"num":1}}]]`}, // numbered in order
		{"binary ack", wire(socketio.PacketBinaryAck, "/", 3, `[{"num":0,"_placeholder":true,"extra":1}]`, bin),
			map[string]any{"type": int8(3), "nsp": "/", "id": int8(3), "data": []any{bin}}, `[{"_placeholder":true,"num":0}]`},
		{"placeholder look-alikes", wire(socketio.PacketEvent, "/", -1, `["a",{"_placeholder":true,"num":0},{"_placeholder":false,"num":0},{"_placeholder":true,"num":"0"}]`),
			map[string]any{"type": int8(2), "nsp": "/", "data": []any{"a", map[string]any{"_placeholder": true, "num": int8(0)}, map[string]any{"_placeholder": false, "num": int8(0)}, map[string]any{"_placeholder": true, "num": "0"}}}, ""},
		{"duplicate key, the last wins", wire(socketio.PacketBinaryEvent, "/", -1, `["a",{"_placeholder":true,"num":0,"num":5}]`, bin),
			map[string]any{"type": int8(2), "nsp": "/", "data": []any{"a", map[string]any{"_placeholder": true, "num": int8(5)}}}, `["a",{"_placeholder":true,"num":0,"num":5}]`},
		{"escaped key", wire(socketio.PacketBinaryEvent, "/", -1, `["a",{"\u005fplaceholder":true,"num":0}]`, bin),
			map[string]any{"type": int8(2), "nsp": "/", "data": []any{"a", bin}}, `["a",{"_placeholder":true,"num":0}]`},
		{"numbers", wire(socketio.PacketEvent, "/", -1, `["n",0,-1,-32,-33,127,128,255,256,65535,65536,-129,-32769,-2147483649,4294967296,9223372036854775807,18446744073709551615,-9223372036854775808,18446744073709551616,-9223372036854775809,1.5,1e3,-0,1e400]`),
			map[string]any{"type": int8(2), "nsp": "/", "data": []any{"n", int8(0), int8(-1), int8(-32), int8(-33), int8(127), uint8(128), uint8(255), uint16(256), uint16(65535), uint32(65536), int16(-129), int32(-32769), int64(-2147483649), uint64(4294967296), uint64(math.MaxInt64), uint64(math.MaxUint64), int64(math.MinInt64), 18446744073709551616.0, -9223372036854775809.0, 1.5, 1000.0, int8(0), math.Inf(1)}},
			`["n",0,-1,-32,-33,127,128,255,256,65535,65536,-129,-32769,-2147483649,4294967296,9223372036854775807,18446744073709551615,-9223372036854775808,18446744073709552000,-9223372036854776000,1.5,1000,0,null]`},
		{"strings", wire(socketio.PacketEvent, "/", -1, `["s","","é\u00e9\ud83d\ude00\n\"\\\/","\ud800x","`+strings.Repeat("y", 40)+`","\u0000"]`),
			map[string]any{"type": int8(2), "nsp": "/", "data": []any{"s", "", "éé😀\n\"\\/", "\ufffdx", strings.Repeat("y", 40), "\x00"}},
			`["s","","éé😀\n\"\\/","�x","` + strings.Repeat("y", 40) + `","\u0000"]`},
		{"invalid UTF-8", wire(socketio.PacketEvent, "/", -1, "[\"s\",\"a\xffb\"]"),
			map[string]any{"type": int8(2), "nsp": "/", "data": []any{"s", "a\ufffdb"}}, `["s","a�b"]`},
		{"large containers", wire(socketio.PacketEvent, "/", -1, `["l",[`+strings.TrimSuffix(strings.Repeat("1,", 16), ",")+`],{`+keys(16)+`}]`),
			map[string]any{"type": int8(2), "nsp": "/", "data": []any{"l", repeat(int8(1), 16), keysMap(16)}}, ""},
		{"nested empty", wire(socketio.PacketAck, "/", 0, `[[],{},[[]],{"a":{}},null,true,false]`),
			map[string]any{"type": int8(3), "nsp": "/", "id": int8(0), "data": []any{[]any{}, map[string]any{}, []any{[]any{}}, map[string]any{"a": map[string]any{}}, nil, true, false}}, ""},
	}
	for _, tt := range tests {
		b := encodeOne(t, tt.p)
		var got map[string]any
		if err := msgpack.Unmarshal(b, &got); err != nil {
			t.Errorf("%s: msgpack.Unmarshal: %v (% x)", tt.name, err, b)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", tt.name, got, tt.want)
		}
		p, err := decodeOne(t, b)
		if err != nil {
			t.Errorf("%s: Decode: %v", tt.name, err)
			continue
		}
		back := tt.back
		if back == "" {
			back = string(tt.p.Data)
		}
		typ := tt.p.Type
		if typ == socketio.PacketBinaryEvent {
			typ = socketio.PacketEvent
		} else if typ == socketio.PacketBinaryAck {
			typ = socketio.PacketAck
		}
		if string(p.Data) != back || p.Type != typ || p.ID != tt.p.ID || p.Namespace != tt.p.Namespace {
			t.Errorf("%s: Decode: %s %q %d %s, want %s", tt.name, p.Type, p.Namespace, p.ID, p.Data, back)
		}
		// Once converted, a packet encodes the same: but for floats with an integer value, and
		// infinities, whose JSON is an integer and null.
		if again := encodeOne(t, p); tt.name != "numbers" && !bytes.Equal(again, b) {
			t.Errorf("%s: encoded again after Decode:\n% x\nwant\n% x", tt.name, again, b)
		}
	}
}

func keys(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, `"k`+string(rune('a'+i))+`":null`)
	}
	return strings.Join(parts, ",")
}

func keysMap(n int) map[string]any {
	m := map[string]any{}
	for i := range n {
		m["k"+string(rune('a'+i))] = nil
	}
	return m
}

func repeat(v any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestDecodeValues checks the conversion of what notepack.io does not write but other
// MessagePack encoders do (python's msgpack, vmihailenco/msgpack): float32, integer keys,
// nil data.
func TestDecodeValues(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"float32", []any{"f", float32(0.5), float32(math.Inf(-1)), math.NaN()}, `["f",0.5,null,null]`},
		{"small and large floats", []any{"f", 1e-7, 1e21, 123456789.123, math.Copysign(0, -1)}, `["f",1e-7,1e+21,123456789.123,-0]`},
		{"integer keys", []any{"m", map[any]any{int64(1): "a", uint64(math.MaxUint64): "b", int64(-2): "c"}}, ``}, // map order: checked below
		{"bin as a key's value", []any{"b", map[string]any{"k": []byte{}}}, `["b",{"k":{"_placeholder":true,"num":0}}]`},
		{"control characters", []any{"c", "\x01\t\x1f\"\\"}, `["c","\u0001\t\u001f\"\\"]`},
	}
	for _, tt := range tests {
		b, err := msgpack.Marshal(map[string]any{"type": 2, "nsp": "/", "data": tt.v})
		if err != nil {
			t.Fatal(err)
		}
		p, err := decodeOne(t, b)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if tt.want == "" {
			var got []any
			if err := json.Unmarshal(p.Data, &got); err != nil || !reflect.DeepEqual(got[1], map[string]any{"1": "a", "18446744073709551615": "b", "-2": "c"}) {
				t.Errorf("%s: %s %v", tt.name, p.Data, err)
			}
			continue
		}
		if string(p.Data) != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, p.Data, tt.want)
		}
	}

	// python-socketio's msgpack serializer: CONNECT and DISCONNECT with data None.
	for _, typ := range []int{0, 1} {
		b, _ := msgpack.Marshal(map[string]any{"type": typ, "nsp": "/", "data": nil})
		p, err := decodeOne(t, b)
		if err != nil || p.Data != nil {
			t.Errorf("type %d with nil data: %s %v", typ, p.Data, err)
		}
	}
	// An id written as a float with an integer value, as JavaScript does not tell apart.
	b, _ := msgpack.Marshal(map[string]any{"type": 3, "nsp": "/", "data": []any{}, "id": 4.0})
	if p, err := decodeOne(t, b); err != nil || p.ID != 4 {
		t.Errorf("float id: %v %v", p, err)
	}
}

// TestDecodeRefuses holds the decoder to socket.io-msgpack-parser's refusals and to its own
// bounds.
func TestDecodeRefuses(t *testing.T) {
	enc := func(v any) []byte {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pkt := func(data any) map[string]any { return map[string]any{"type": 2, "nsp": "/", "data": data} }
	deep := func(n int) []byte { return append(bytes.Repeat([]byte{0x91}, n), 0xc0) }
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, errShort},
		{"not a map", enc([]any{2, "/"}), errNotMap},
		{"no type", enc(map[string]any{"nsp": "/"}), errType},
		{"type 5", enc(map[string]any{"type": 5, "nsp": "/", "data": []any{"a"}}), errType},
		{"type -1", enc(map[string]any{"type": -1, "nsp": "/"}), errType},
		{"type a string", enc(map[string]any{"type": "2", "nsp": "/"}), errType},
		{"type 2.5", enc(map[string]any{"type": 2.5, "nsp": "/"}), errType},
		{"no namespace", enc(map[string]any{"type": 0}), errNamespace},
		{"namespace nil", enc(map[string]any{"type": 0, "nsp": nil}), errNamespace},
		{"id a string", enc(map[string]any{"type": 2, "nsp": "/", "id": "1", "data": []any{"a"}}), errID},
		{"id nil", enc(map[string]any{"type": 2, "nsp": "/", "id": nil, "data": []any{"a"}}), errID},
		{"id negative", enc(map[string]any{"type": 2, "nsp": "/", "id": -1, "data": []any{"a"}}), errID},
		{"trailing bytes", append(enc(pkt([]any{"a"})), 0xc0), errTrailing},
		{"truncated", enc(pkt([]any{"a", "long string"}))[:20], nil},
		{"reserved code", []byte{0x81, 0xa4, 'd', 'a', 't', 'a', 0xc1}, errReserved},
		{"array claims more than there is", []byte{0x81, 0xa4, 'd', 'a', 't', 'a', 0xdd, 0xff, 0xff, 0xff, 0xff}, errLength},
		{"map claims more than there is", []byte{0x81, 0xa4, 'd', 'a', 't', 'a', 0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0}, errLength},
		{"string claims more than there is", []byte{0x81, 0xa4, 'd', 'a', 't', 'a', 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'}, errLength},
		{"bool key", enc(pkt(map[bool]any{true: 1})), nil},
		{"too many binary values", enc(pkt([]any{"a", []byte{1}, []byte{2}, []byte{3}, []byte{4}, []byte{5}, []byte{6}, []byte{7}, []byte{8}, []byte{9}, []byte{10}, []byte{11}})), nil},
		{"too deep", append([]byte{0x83, 0xa4, 't', 'y', 'p', 'e', 2, 0xa3, 'n', 's', 'p', 0xa1, '/', 0xa4, 'd', 'a', 't', 'a'}, deep(maxDepth+1)...), errDepth},
		{"look-alike beside binary", enc(pkt([]any{"a", map[string]any{"_placeholder": true, "num": 0}, []byte{1}})), errLookAlike},
	}
	for _, tt := range tests {
		_, err := decodeOne(t, tt.b)
		if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	d := Parser{}.NewDecoder(socketio.DecoderLimits{MaxAttachments: 10})
	if _, err := d.Decode(engineio.Message{Data: enc(pkt([]any{"a"}))}); !errors.Is(err, errText) {
		t.Errorf("a text message: %v", err)
	}

	// Just within the bounds.
	ok := [][]byte{
		append([]byte{0x83, 0xa4, 't', 'y', 'p', 'e', 2, 0xa3, 'n', 's', 'p', 0xa1, '/', 0xa4, 'd', 'a', 't', 'a'}, deep(maxDepth)...),
		enc(pkt([]any{"a", []byte{1}, []byte{2}, []byte{3}, []byte{4}, []byte{5}, []byte{6}, []byte{7}, []byte{8}, []byte{9}, []byte{10}})),
		enc(pkt([]any{"a", map[string]any{"_placeholder": true, "num": 0}})), // no binary: nothing to confuse it with
	}
	for i, b := range ok {
		if _, err := decodeOne(t, b); err != nil {
			t.Errorf("ok[%d]: %v", i, err)
		}
	}
}

// TestDecodeKeepsNothing: a packet's data and attachments stay the caller's after the next
// Decode, which reuses the decoder's buffers.
func TestDecodeKeepsNothing(t *testing.T) {
	d := Parser{}.NewDecoder(socketio.DecoderLimits{MaxAttachments: 10})
	first, err := d.Decode(engineio.Message{Data: mustHex(t, notepackPackets[2].hex), Binary: true})
	if err != nil {
		t.Fatal(err)
	}
	data, atts := first.Data, first.Attachments
	want := string(data)
	for _, tt := range notepackPackets {
		if _, err := d.Decode(engineio.Message{Data: mustHex(t, tt.hex), Binary: true}); err != nil {
			t.Fatal(err)
		}
	}
	if string(data) != want || string(atts[0]) != "\x01\x02\x03" {
		t.Fatalf("the first packet changed: %s %q", data, atts)
	}
}
