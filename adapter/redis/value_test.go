package redis

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/tether-rt/tether/socketio"
)

// Golden messages written by Node's notepack.io (the MessagePack encoder of
// @socket.io/redis-adapter) with:
//
//	mp.encode(["abc123", {type: 2, data: ["ev", "héllo", 1, 2.5, -7, null, true,
//	  {k: [Buffer.from([1, 2, 3])]}, 300, -200, 70000, 5000000000], nsp: "/chat"},
//	  {rooms: ["r1"], except: [], flags: {volatile: true}}])
const notepackBroadcast = "93a661626331323383a47479706502a4646174619ca26576a668c3a96c6c6f01cb4004000000000000f9c0c381a16b91c403010203cd012cd1ff38ce00011170cf000000012a05f200a36e7370a52f6368617483a5726f6f6d7391a27231a665786365707490a5666c61677381a8766f6c6174696c65c3"

// and with a Date last: data: ["ev", ..., {k: [...]}, new Date(1700000000000)].
const notepackWithDate = "93a661626331323383a47479706502a46461746199a26576a668c3a96c6c6f01cb4004000000000000f9c0c381a16b91c403010203d6ff6553f100a36e7370a52f6368617483a5726f6f6d7391a27231a665786365707490a5666c61677381a8766f6c6174696c65c3"

const goldenData = `["ev","héllo",1,2.5,-7,null,true,{"k":[{"_placeholder":true,"num":0}]},300,-200,70000,5000000000]`

func TestDecodeNotepackBroadcast(t *testing.T) {
	raw, _ := hex.DecodeString(notepackBroadcast)
	msg, err := decodeMsgpack(raw)
	if err != nil {
		t.Fatal(err)
	}
	if uid, _ := msg.items[0].text(); uid != "abc123" {
		t.Fatalf("uid %q", uid)
	}
	if nsp := packetNamespace(msg.items[1]); nsp != "/chat" {
		t.Fatalf("nsp %q", nsp)
	}
	p, err := eventPacket(testHost(t, "/chat"), msg.items[1])
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Data()) != goldenData {
		t.Fatalf("data\n got %s\nwant %s", p.Data(), goldenData)
	}
	if len(p.Attachments()) != 1 || !bytes.Equal(p.Attachments()[0], []byte{1, 2, 3}) {
		t.Fatalf("attachments %v", p.Attachments())
	}
	opts := broadcastOptions(msg.items[2])
	if len(opts.Rooms) != 1 || opts.Rooms[0] != "r1" || len(opts.Except) != 0 || !opts.Flags.Volatile {
		t.Fatalf("options %+v", opts)
	}
}

// TestEncodeLikeNotepack pins our encoding of a broadcast to the bytes Node writes: a Node
// node decodes anything it can, but byte equality shows nothing is lost or reshaped.
func TestEncodeLikeNotepack(t *testing.T) {
	p, err := testHost(t, "/chat").PacketFromData([]byte(goldenData), [][]byte{{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	pv, err := packetValue(p)
	if err != nil {
		t.Fatal(err)
	}
	opts := socketio.BroadcastOptions{Rooms: []string{"r1"}, Flags: socketio.BroadcastFlags{Volatile: true}}
	var buf bytes.Buffer
	if err := array(str("abc123"), pv, optionsValue(opts)).encodeMsgpack(&buf); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(buf.Bytes()); got != notepackBroadcast {
		t.Fatalf("encoding\n got %s\nwant %s", got, notepackBroadcast)
	}
}

func TestDecodeDate(t *testing.T) {
	raw, _ := hex.DecodeString(notepackWithDate)
	msg, err := decodeMsgpack(raw)
	if err != nil {
		t.Fatal(err)
	}
	data := msg.items[1].field("data")
	if s, _ := data.items[len(data.items)-1].text(); s != "2023-11-14T22:13:20.000Z" {
		t.Fatalf("date decoded as %q", s)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, in := range []string{
		`[]`, `["a",{"b":[1,2.5e-7,1e+21,"<>&\u2028"]},null,true,false]`,
		`{"z":1,"a":2,"m":{"_placeholder":false,"num":0}}`, `"\ud83d\ude00"`, `-0.5`,
	} {
		v, err := decodeJSON([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var buf bytes.Buffer
		if err := v.encodeMsgpack(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := decodeMsgpack(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		want, _ := decodeJSON([]byte(in))
		if got := string(back.json()); got != string(normalise(t, want)) {
			t.Fatalf("round trip of %s gave %s", in, got)
		}
	}
}

// normalise writes a JSON value the way a MessagePack round trip does: numbers as JavaScript
// writes them.
func normalise(t *testing.T, v value) []byte {
	var buf bytes.Buffer
	if err := v.encodeMsgpack(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := decodeMsgpack(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return back.json()
}

func TestMalformed(t *testing.T) {
	for _, in := range []string{"", "c1", "dc0001", "92a1", "c4ff", "81c0c0", "d4", "c7ffff"} {
		raw, _ := hex.DecodeString(in)
		if _, err := decodeMsgpack(raw); err == nil {
			t.Errorf("%s decoded without error", in)
		}
	}
	deep := bytes.Repeat([]byte{0x91}, maxDepth+10)
	if _, err := decodeMsgpack(append(deep, 0xc0)); err == nil {
		t.Error("too deep a value decoded")
	}
}

// FuzzDecode feeds arbitrary bytes to the decoders every message from Redis goes through:
// they must fail cleanly, and what they accept must survive a round trip.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{notepackBroadcast, notepackWithDate, "83a47479706509a9726571756573744964a27831a67061636b6574c401ff", "c0", "9100"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Add([]byte(`{"uid":"x","type":5,"requestId":"r","opts":{"rooms":["a"],"except":[]}}`))
	f.Add([]byte(`[1,{"_placeholder":true,"num":0}]`))
	host := testHost(f, "/")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, decode := range []func([]byte) (value, error){decodeMsgpack, decodeJSON} {
			v, err := decode(b)
			if err != nil {
				continue
			}
			_, _ = eventPacket(host, v)
			_ = broadcastOptions(v.field("opts"))
			_ = handshakeOf(v.field("handshake"))
			_, _ = v.resolve(nil)
			var buf bytes.Buffer
			if err := v.encodeMsgpack(&buf); err != nil {
				t.Fatalf("re-encoding a decoded value: %v", err)
			}
			if _, err := decodeMsgpack(buf.Bytes()); err != nil {
				t.Fatalf("decoding our own encoding: %v", err)
			}
			_, _ = decodeJSON(v.json())
		}
	})
}
