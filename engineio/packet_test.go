package engineio

import (
	"bytes"
	"errors"
	"testing"
)

func TestPacketText(t *testing.T) {
	cases := []struct {
		p    packet
		text string
	}{
		{packet{typ: packetMessage, data: []byte("hello")}, "4hello"},
		{packet{typ: packetPing}, "2"},
		{packet{typ: packetPing, data: []byte("probe")}, "2probe"},
		{packet{typ: packetNoop}, "6"},
		{packet{typ: packetMessage, data: []byte{1, 2, 3, 4}, binary: true}, "bAQIDBA=="},
		{packet{typ: packetMessage, data: []byte{}, binary: true}, "b"},
		{packet{typ: packetMessage, data: []byte("é\x1e")}, "4é\x1e"},
	}
	for _, tc := range cases {
		if got := string(tc.p.appendText(nil)); got != tc.text {
			t.Errorf("%+v: got %q, want %q", tc.p, got, tc.text)
		}
		back, err := decodeText([]byte(tc.text), true)
		if err != nil || back.typ != tc.p.typ || back.binary != tc.p.binary || !bytes.Equal(back.data, tc.p.data) {
			t.Errorf("%q: decoded %+v, %v", tc.text, back, err)
		}
	}
}

func TestDecodeTextErrors(t *testing.T) {
	for _, in := range []string{"", "7", "9x", "a", "/", "b!!!"} {
		if _, err := decodeText([]byte(in), true); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	// Over WebSocket, "b" is not a base64 marker.
	if _, err := decodeText([]byte("bAQ=="), false); !errors.Is(err, errUnknownPacket) {
		t.Errorf("websocket b: %v", err)
	}
}

func TestPayload(t *testing.T) {
	pkts := []packet{
		{typ: packetMessage, data: []byte("hello")},
		{typ: packetMessage, data: []byte{0xff, 0}, binary: true},
		{typ: packetPing},
	}
	body := appendPayload(nil, pkts)
	if string(body) != "4hello\x1eb/wA=\x1e2" {
		t.Fatalf("payload %q", body)
	}
	var got []packet
	if err := decodePayload(body, func(p packet) error { got = append(got, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || string(got[0].data) != "hello" || !got[1].binary || !bytes.Equal(got[1].data, []byte{0xff, 0}) || got[2].typ != packetPing {
		t.Fatalf("decoded %+v", got)
	}
	for _, bad := range []string{"", "4a\x1e", "\x1e4a", "4a\x1e\x1e4b", "4a\x1ez"} {
		if err := decodePayload([]byte(bad), func(packet) error { return nil }); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{"4hello\x1eb/wA=\x1e2", "0{\"sid\":\"x\"}", "6", "b", "4\x1e4", "2probe"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var pkts []packet
		if decodePayload(body, func(p packet) error { pkts = append(pkts, p); return nil }) != nil {
			return
		}
		// What decodes re-encodes to a payload that decodes to the same packets.
		checkRedecodes(t, pkts, appendPayload(nil, pkts), decodePayload)
	})
}

// checkRedecodes checks that payload, pkts re-encoded, decodes to pkts again.
func checkRedecodes(t *testing.T, pkts []packet, payload []byte, decode func([]byte, func(packet) error) error) {
	t.Helper()
	i := 0
	err := decode(payload, func(p packet) error {
		if i >= len(pkts) {
			t.Fatalf("re-encoded payload %q: more packets than %d", payload, len(pkts))
		}
		q := pkts[i]
		i++
		if p.typ != q.typ || p.binary != q.binary || !bytes.Equal(p.data, q.data) {
			t.Fatalf("round trip: %+v != %+v", p, q)
		}
		return nil
	})
	if err != nil || i != len(pkts) {
		t.Fatalf("re-encoded payload %q: %v", payload, err)
	}
}

func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{"4hello", "2probe", "3", "5", "6", "bAQID", "b", "1", "0{}", "9", ""} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, polling bool) {
		p, err := decodeText(b, polling)
		if err != nil {
			return
		}
		if p.binary && (!polling || p.typ != packetMessage) {
			t.Fatalf("binary %v packet from %q (polling %v)", p.typ, b, polling)
		}
		if got := p.appendText(nil); !polling && !bytes.Equal(got, b) {
			t.Fatalf("%q re-encodes as %q", b, got)
		}
	})
}
