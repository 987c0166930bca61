package msgpackparser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/socketio"
)

// FuzzDecode feeds the decoder any bytes. It must not panic; what it accepts must be valid
// JSON whose placeholders point at its attachments, within the bounds, and encoding it and
// decoding that again must give the same packet (a fixed point after one conversion).
func FuzzDecode(f *testing.F) {
	for _, tt := range notepackPackets {
		f.Add(mustHex(f, tt.hex))
	}
	for _, v := range []any{
		map[string]any{"type": 2, "nsp": "/", "data": []any{"a", 1.5, float32(2.5), uint64(math.MaxUint64), int64(math.MinInt64), nil, map[int]any{1: "x"}}},
		map[string]any{"type": 3, "nsp": "/chat", "id": 9, "data": []any{[]byte{1}, map[string]any{"b": []byte{}}}},
		map[string]any{"type": 4, "nsp": "/", "data": map[string]any{"message": "no"}},
		map[string]any{"type": 0, "nsp": "/", "data": nil},
		map[string]any{"type": 2, "nsp": "/", "data": []any{"a", map[string]any{"_placeholder": true, "num": 0}}},
	} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// Extensions: undefined, a Date, an ArrayBuffer, another type; and bad input.
	f.Add([]byte{0x83, 0xa4, 't', 'y', 'p', 'e', 2, 0xa3, 'n', 's', 'p', 0xa1, '/', 0xa4, 'd', 'a', 't', 'a', 0x95, 0xa1, 'e', 0xd4, 0, 0, 0xd7, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xc7, 1, 0, 9, 0xd5, 5, 1, 2})
	f.Add([]byte{0x81, 0xa4, 'd', 'a', 't', 'a', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xc1})
	f.Fuzz(func(t *testing.T, b []byte) {
		const maxAttachments = 10
		p, err := decodeWith(maxAttachments, b)
		if err != nil {
			return
		}
		if len(p.Data) > 0 && !json.Valid(p.Data) {
			t.Fatalf("invalid JSON %q from % x", p.Data, b)
		}
		if len(p.Attachments) > maxAttachments {
			t.Fatalf("%d attachments", len(p.Attachments))
		}
		if p.Type > socketio.PacketConnectError || p.ID < -1 {
			t.Fatalf("type %d id %d", p.Type, p.ID)
		}
		checkPlaceholders(t, p)

		first := *p
		again, err := decodeWith(maxAttachments, encodeOne(t, &first))
		if err != nil {
			t.Fatalf("the encoding of %s does not decode: %v", first.Data, err)
		}
		twice, err := decodeWith(maxAttachments, encodeOne(t, again))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Data, twice.Data) || !reflect.DeepEqual(again.Attachments, twice.Attachments) ||
			again.Type != twice.Type || again.Namespace != twice.Namespace || again.ID != twice.ID {
			t.Fatalf("not a fixed point: %s then %s", again.Data, twice.Data)
		}
	})
}

func decodeWith(maxAttachments int, b []byte) (*socketio.WirePacket, error) {
	return Parser{}.NewDecoder(socketio.DecoderLimits{MaxAttachments: maxAttachments}).Decode(engineio.Message{Data: b, Binary: true})
}

// checkPlaceholders: the placeholders of a decoded packet, in the order of the text, number
// its attachments from 0, each once. (The decoder writes them in this form alone, and refuses
// maps that read as placeholders beside binary values.)
func checkPlaceholders(t *testing.T, p *socketio.WirePacket) {
	t.Helper()
	if len(p.Attachments) == 0 {
		return
	}
	const prefix = `{"_placeholder":true,"num":`
	rest := p.Data
	for n := 0; ; n++ {
		i := bytes.Index(rest, []byte(prefix))
		if i < 0 {
			if n != len(p.Attachments) {
				t.Fatalf("%d placeholders for %d attachments in %s", n, len(p.Attachments), p.Data)
			}
			return
		}
		rest = rest[i+len(prefix):]
		if want := fmt.Sprint(n, "}"); !bytes.HasPrefix(rest, []byte(want)) {
			t.Fatalf("placeholder %d: %.20s in %s", n, rest, p.Data)
		}
	}
}

// FuzzEncode encodes any valid JSON, with up to three attachments, and checks the result
// with an independent decoder (vmihailenco/msgpack): the same values as encoding/json decodes
// from the JSON, placeholders resolved as Args.Values resolves them.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{
		`["a",1,-1,1.5,"x",null,true,false,[],{}]`,
		`["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":2},{"_placeholder":true,"num":3}]`,
		`[{"num":1,"_placeholder":true},{"_placeholder":true,"num":0,"num":1},{"\u005fplaceholder":true,"num":0.5}]`,
		`["s","\ud83d\ude00\ud800\n\u0000é","a\\b"]`,
		`[18446744073709551615,-9223372036854775808,18446744073709551616,-0,0.1,1e-7]`,
		`{"sid":"abc","pid":"def"}`,
		`"a string"`,
		` [ 1 , { "a" : [ ] } ] `,
	} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, data string, n uint8) {
		if !json.Valid([]byte(data)) {
			return
		}
		atts := make([][]byte, n%4)
		for i := range atts {
			atts[i] = []byte(fmt.Sprint("att", i))
		}
		b := encodeOne(t, &socketio.WirePacket{Type: socketio.PacketBinaryEvent, Namespace: "/", ID: -1, Data: json.RawMessage(data), Attachments: atts})
		var got struct {
			Data any `msgpack:"data"`
		}
		if err := msgpack.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: msgpack.Unmarshal: %v", data, err)
		}
		var want any
		if err := json.Unmarshal([]byte(data), &want); err != nil {
			return // valid, but beyond float64 (1e400): encoding/json refuses it
		}
		want = resolve(want, atts)
		if g := normalize(got.Data); !reflect.DeepEqual(g, normalize(want)) {
			t.Fatalf("%s:\n got %#v\nwant %#v", data, g, normalize(want))
		}
	})
}

// resolve replaces placeholders as Args.Values does.
func resolve(v any, atts [][]byte) any {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			v[i] = resolve(e, atts)
		}
	case map[string]any:
		if ph, ok := v["_placeholder"]; ok && ph == true {
			if num, ok := v["num"].(float64); ok && num >= 0 && num < float64(len(atts)) {
				return atts[int(num)]
			}
			return v
		}
		for k, e := range v {
			v[k] = resolve(e, atts)
		}
	}
	return v
}

// normalize makes every number a float64, as encoding/json decodes them.
func normalize(v any) any {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
	case int8:
		return float64(v)
	case int16:
		return float64(v)
	case int32:
		return float64(v)
	case int64:
		return float64(v)
	case uint8:
		return float64(v)
	case uint16:
		return float64(v)
	case uint32:
		return float64(v)
	case uint64:
		return float64(v)
	case float32:
		return float64(v)
	}
	return v
}
