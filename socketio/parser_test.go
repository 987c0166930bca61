package socketio

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecodeText(t *testing.T) {
	cases := []struct {
		in          string
		typ         packetType
		nsp         string
		id          int64
		data        string
		attachments int
	}{
		{`0`, packetConnect, "/", noID, "", 0},
		{`0{"token":"123"}`, packetConnect, "/", noID, `{"token":"123"}`, 0},
		{`0/admin,{"token":"123"}`, packetConnect, "/admin", noID, `{"token":"123"}`, 0},
		{`0/admin`, packetConnect, "/admin", noID, "", 0},
		{`1/admin,`, packetDisconnect, "/admin", noID, "", 0},
		{`1`, packetDisconnect, "/", noID, "", 0},
		{`2["hello",1]`, packetEvent, "/", noID, `["hello",1]`, 0},
		{`2/admin,456["project:delete",123]`, packetEvent, "/admin", 456, `["project:delete",123]`, 0},
		{`212["message-with-ack"]`, packetEvent, "/", 12, `["message-with-ack"]`, 0},
		{`2[42]`, packetEvent, "/", noID, `[42]`, 0},
		{"2 [\"a\",\t1 ]\n", packetEvent, "/", noID, " [\"a\",\t1 ]\n", 0},
		{"2[\"connect\xff\"]", packetEvent, "/", noID, "[\"connect\xff\"]", 0},
		{`3/admin,456[]`, packetAck, "/admin", 456, `[]`, 0},
		{`4{"message":"Not authorized"}`, packetConnectError, "/", noID, `{"message":"Not authorized"}`, 0},
		{`4"Invalid namespace"`, packetConnectError, "/", noID, `"Invalid namespace"`, 0},
		{`51-["hello",{"_placeholder":true,"num":0}]`, packetBinaryEvent, "/", noID, `["hello",{"_placeholder":true,"num":0}]`, 1},
		{`52-/admin,7["a",{"x":[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]}]`, packetBinaryEvent, "/admin", 7, `["a",{"x":[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]}]`, 2},
		{`61-/admin,456[{"_placeholder":true,"num":0}]`, packetBinaryAck, "/admin", 456, `[{"_placeholder":true,"num":0}]`, 1},
	}
	for _, tc := range cases {
		p, n, err := decodeText([]byte(tc.in), 10, 0)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if p.typ != tc.typ || p.nsp != tc.nsp || p.id != tc.id || string(p.data) != tc.data || n != tc.attachments {
			t.Errorf("%s: got %v %q %d %s %d", tc.in, p.typ, p.nsp, p.id, p.data, n)
		}
		// Encoding gives back the same text, attachments counted from the packet.
		p.attachments = make([][]byte, n)
		if got := string(p.appendText(nil)); got != tc.in && !(tc.in == `1/admin,` && got == `1/admin`) {
			t.Errorf("%s: encodes as %s", tc.in, got)
		}
	}
}

func TestDecodeTextErrors(t *testing.T) {
	cases := map[string]error{
		``:         errEmptyPacket,
		`7`:        errPacketType,
		`a`:        errPacketType,
		`5["a"]`:   errAttachments,
		`50-["a"]`: errAttachments,
		`5x-["a"]`: errAttachments,
		`511-["a",{"_placeholder":true,"num":0}]`: errTooManyBinary,
		`2["a"`:                                  errPayload,
		`2{"a":1}`:                               errPayload,
		`2[]`:                                    errPayload,
		`2[{"a":1}]`:                             errPayload,
		`2["connect"]`:                           errReservedEvent,
		`2["disconnecting"]`:                     errReservedEvent,
		`2["\u0063onnect"]`:                      errReservedEvent,
		`2["a",]`:                                errPayload,
		`2["a"]]`:                                errPayload,
		`2[null]`:                                errPayload,
		"2[\"a\x01\"]":                           errPayload,
		`3{`:                                     errPayload,
		`3[1,]`:                                  errPayload,
		`3`:                                      errPayload,
		`0{"a":}`:                                errPayload,
		`0["a"]`:                                 errPayload,
		`0"token"`:                               errPayload,
		`1{}`:                                    errPayload,
		`3{}`:                                    errPayload,
		`4[1]`:                                   errPayload,
		"2/adm\x01in,[\"a\"]":                    errNamespace,
		`21234567890123456["a"]`:                 errAckID,
		`51-["a",{"_placeholder":true,"num":1}]`: errBadPlaceholder,
		`51-["a",{"_placeholder":true,"num":"0"}]`: errBadPlaceholder,
		`51-["a",{"_placeholder":true,"num":0.5}]`: errBadPlaceholder,
	}
	for in, want := range cases {
		if _, _, err := decodeText([]byte(in), 10, 0); !errors.Is(err, want) {
			t.Errorf("%q: got %v, want %v", in, err, want)
		}
	}
}

func TestDecoderAttachments(t *testing.T) {
	d := decoder{maxAttachments: 10}
	if p, err := d.text([]byte(`52-["file",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)); p != nil || err != nil {
		t.Fatalf("first part: %v %v", p, err)
	}
	if _, err := d.text([]byte(`2["other"]`)); !errors.Is(err, errMissingBinary) {
		t.Fatalf("text while attachments are awaited: %v", err)
	}
	if p, err := d.binary([]byte{1}); p != nil || err != nil {
		t.Fatalf("first attachment: %v %v", p, err)
	}
	p, err := d.binary([]byte{2, 3})
	if err != nil || p == nil || len(p.attachments) != 2 || !bytes.Equal(p.attachments[1], []byte{2, 3}) {
		t.Fatalf("complete packet: %+v %v", p, err)
	}
	if _, err := d.binary([]byte{4}); !errors.Is(err, errUnexpectedBin) {
		t.Fatalf("stray binary: %v", err)
	}
	if p, err := d.text([]byte(`2["plain"]`)); err != nil || p == nil {
		t.Fatalf("next packet: %v %v", p, err)
	}
}

func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{`0`, `0/admin,{"token":"1"}`, `2["hello",1]`, `212["a"]`, `3/x,4[]`,
		`4{"message":"no"}`, `51-["a",{"_placeholder":true,"num":0}]`, `61-/a,1[{"_placeholder":true,"num":0}]`, `1/a,`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := decodeText(b, 10, 0)
		checkDecodeWithinBound(t, b, p, err)
		if err != nil {
			return
		}
		// What decodes re-encodes to text that decodes to the same packet.
		p.attachments = make([][]byte, n)
		q, m, err := decodeText(p.appendText(nil), 10, 0)
		if err != nil || q.typ != p.typ || q.nsp != p.nsp || q.id != p.id || !bytes.Equal(q.data, p.data) || m != n {
			t.Fatalf("%q: round trip gave %+v, %d, %v", b, q, m, err)
		}
	})
}

// checkDecodeWithinBound holds decodeText with a bound on the values to decodeText without one
// (p and err): the same verdict, but for a suspected bad placeholder the bound keeps from
// confirming, and the first elements of the array.
func checkDecodeWithinBound(t *testing.T, b []byte, p *packet, err error) {
	t.Helper()
	const bound = 3
	q, _, qerr := decodeText(b, 10, bound)
	switch {
	case err != nil && qerr == nil:
		t.Fatalf("%q: accepted within a bound, refused without: %v", b, err)
	case err == nil && qerr != nil && !errors.Is(qerr, errBadPlaceholder):
		t.Fatalf("%q: refused within a bound (%v), accepted without", b, qerr)
	case err != nil || qerr != nil:
		return
	}
	if want := len(p.args) > bound; q.tooManyArgs != want || q.tooManyArgs != (len(q.args) < len(p.args)) {
		t.Fatalf("%q: %d of %d elements split within the bound, too many %v", b, len(q.args), len(p.args), q.tooManyArgs)
	}
	for i := range q.args {
		if !bytes.Equal(q.args[i], p.args[i]) {
			t.Fatalf("%q: element %d is %q within the bound, %q without", b, i, q.args[i], p.args[i])
		}
	}
}
