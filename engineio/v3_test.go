package engineio

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

func TestPayloadV3Text(t *testing.T) {
	// "é" is one UTF-16 unit, "😀" two: the lengths are JavaScript string lengths.
	body := "2:4é3:4😀6:2probe1:5"
	var got []packet
	if err := decodePayloadV3([]byte(body), func(p packet) error { got = append(got, p); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []packet{{typ: packetMessage, data: []byte("é")}, {typ: packetMessage, data: []byte("😀")},
		{typ: packetPing, data: []byte("probe")}, {typ: packetUpgrade, data: []byte{}}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i].typ != want[i].typ || !bytes.Equal(got[i].data, want[i].data) || got[i].binary {
			t.Fatalf("packet %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"", "4", ":4a", "2:4", "2:4😀", "x:4a", "1:9", "4:b4!!", "3:b3AA", "-1:4",
		"99999999999:4"} {
		if err := decodePayloadV3([]byte(bad), func(packet) error { return nil }); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestPayloadV3Encode(t *testing.T) {
	text, bin := NewPreparedMessage([]byte("😀é"), false), NewPreparedMessage([]byte{0xff, 0}, true)
	pkts := []outPacket{{typ: packetPong}, {typ: packetMessage, msg: text}, {typ: packetMessage, msg: bin}}
	var b []byte
	for _, p := range pkts {
		b = appendPacketV3(b, p, false)
	}
	if want := "1:34:4😀é6:b4/wA="; string(b) != want {
		t.Fatalf("text payload %q, want %q", b, want)
	}
	b = b[:0]
	for _, p := range pkts {
		b = appendPacketV3(b, p, true)
	}
	want := "\x00\x01\xff3" + "\x00\x07\xff4😀é" + "\x01\x03\xff\x04\xff\x00"
	if string(b) != want {
		t.Fatalf("binary payload %q, want %q", b, want)
	}
	var got []packet
	if err := decodeBinaryPayloadV3(b, func(p packet) error { got = append(got, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].typ != packetPong || string(got[1].data) != "😀é" || !got[2].binary ||
		!bytes.Equal(got[2].data, []byte{0xff, 0}) {
		t.Fatalf("decoded %+v", got)
	}
	for _, bad := range []string{"", "\x02\x01\xff3", "\x00\x01", "\x00\xff", "\x00\x05\xff3", "\x01\x01\xff\x03",
		"\x00\x0a\xff4"} {
		if err := decodeBinaryPayloadV3([]byte(bad), func(packet) error { return nil }); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// reencodeV3 encodes decoded packets again, as the server would send them.
func reencodeV3(pkts []packet, binary bool) []byte {
	var b []byte
	for _, p := range pkts {
		op := outPacket{typ: p.typ, data: p.data}
		if p.typ == packetMessage {
			op.msg = NewPreparedMessage(bytes.Clone(p.data), p.binary)
		}
		b = appendPacketV3(b, op, binary)
	}
	return b
}

func FuzzDecodePayloadV3(f *testing.F) {
	for _, s := range []string{"2:4é3:4😀6:2probe1:5", "6:b4/wA=1:6", "0:", "1:2", "4:b4AA1:1", "2:4\xff", "10:4hello😀1:3"} {
		f.Add([]byte(s), false)
	}
	for _, s := range []string{"\x00\x01\xff3\x00\x07\xff4😀é\x01\x03\xff\x04\xff\x00", "\x01\x01\xff\x04", "\x00\x02\xff4\xff"} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, binary bool) {
		decode := decodePayloadV3
		if binary {
			decode = decodeBinaryPayloadV3
		}
		var pkts []packet
		if decode(body, func(p packet) error { pkts = append(pkts, p); return nil }) != nil || len(pkts) == 0 {
			return
		}
		// What decodes re-encodes, in either payload form, to a payload that decodes to the
		// same packets.
		for _, asBinary := range []bool{false, true} {
			redecode := decodePayloadV3
			if asBinary {
				redecode = decodeBinaryPayloadV3
			}
			checkRedecodes(t, pkts, reencodeV3(pkts, asBinary), redecode)
		}
	})
}

func handshakeV3(t *testing.T, base, extra string) (openData, string) {
	t.Helper()
	code, body := get(t, base+"/engine.io/?EIO=3&transport=polling"+extra)
	colon := strings.IndexByte(body, ':')
	if code != 200 || colon < 0 || !strings.HasPrefix(body[colon+1:], "0{") {
		t.Fatalf("handshake: %d %q", code, body)
	}
	if n := utf16Len([]byte(body[colon+1:])); body[:colon] != strconv.Itoa(n) {
		t.Fatalf("handshake length header %q for %d units", body[:colon], n)
	}
	var o openData
	if err := json.Unmarshal([]byte(body[colon+2:]), &o); err != nil {
		t.Fatal(err)
	}
	return o, base + "/engine.io/?EIO=3&transport=polling" + extra + "&sid=" + o.SID
}

func TestEIO3Refused(t *testing.T) {
	hs, _ := echoServer(t, ServerOptions{})
	code, body := get(t, hs.URL+"/engine.io/?EIO=3&transport=polling")
	if code != 400 || body != `{"code":5,"message":"Unsupported protocol version"}` {
		t.Fatalf("got %d %q", code, body)
	}
	hs, _ = echoServer(t, ServerOptions{AllowEIO3: true})
	code, body = get(t, hs.URL+"/engine.io/?EIO=3&transport=polling&j=0")
	if code != 400 || body != `{"code":3,"message":"JSONP polling is not supported"}` {
		t.Fatalf("JSONP: got %d %q", code, body)
	}
}

func TestEIO3PollingEchoAndHeartbeat(t *testing.T) {
	hs, reasons := echoServer(t, ServerOptions{AllowEIO3: true, PingInterval: 200 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	// A v4 session on the same server keeps its own forms.
	handshakePolling(t, hs.URL)

	o, url := handshakeV3(t, hs.URL, "")
	if o.PingInterval != 200 || o.PingTimeout != 100 || len(o.Upgrades) != 1 {
		t.Fatalf("open %+v", o)
	}
	if code, body := post(t, url, "3:4😀2:2x"); code != 200 || body != "ok" {
		t.Fatalf("post: %d %q", code, body)
	}
	// The pong goes ahead of the echo; no ping ever comes from the server.
	if _, body := get(t, url); body != "1:33:4😀" {
		t.Fatalf("poll %q", body)
	}
	// A binary message comes back in a binary payload to a client that supports binary.
	resp, err := http.Post(url, "application/octet-stream", bytes.NewReader([]byte("\x01\x03\xff\x04\x01\x02")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" || string(b) != "\x01\x03\xff\x04\x01\x02" {
		t.Fatalf("binary poll %q %q", ct, b)
	}
	// A v3 client answering a ping it was never sent breaks the protocol.
	post(t, url, "1:3")
	if r := <-reasons; r != CloseTransportError {
		t.Fatalf("reason %q", r)
	}

	// b64 asks for base64 in text payloads.
	_, url = handshakeV3(t, hs.URL, "&b64=1")
	post(t, url, "6:b4AQI=")
	if _, body := get(t, url); body != "6:b4AQI=" {
		t.Fatalf("b64 poll %q", body)
	}
	// Without pings the session ends after pingInterval+pingTimeout.
	if r := <-reasons; r != ClosePingTimeout {
		t.Fatalf("reason %q", r)
	}
}

func TestEIO3WebSocketAndUpgrade(t *testing.T) {
	hs, reasons := echoServer(t, ServerOptions{AllowEIO3: true, PingInterval: time.Second, PingTimeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/engine.io/?EIO=3&transport=websocket"

	c, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || !strings.HasPrefix(string(b), `0{"sid":`) {
		t.Fatalf("open: %q %v", b, err)
	}
	c.Write(ctx, websocket.MessageText, []byte("2"))
	c.Write(ctx, websocket.MessageBinary, []byte{4, 1, 2})
	c.Write(ctx, websocket.MessageText, []byte("b4AwQ="))
	var got []string
	for len(got) < 3 {
		typ, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, typ.String()+":"+string(b))
	}
	if got[0] != "text:3" || got[1] != "binary:\x04\x01\x02" || got[2] != "binary:\x04\x03\x04" {
		t.Fatalf("got %q", got)
	}
	c.Close(websocket.StatusNormalClosure, "")
	if r := <-reasons; r != CloseTransportClose {
		t.Fatalf("reason %q", r)
	}

	// A client that asks for base64 gets binary messages as text frames.
	c, _, err = websocket.Dial(ctx, wsURL+"&b64=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Read(ctx)
	c.Write(ctx, websocket.MessageBinary, []byte{4, 1, 2})
	if typ, b, err := c.Read(ctx); err != nil || typ != websocket.MessageText || string(b) != "b4AQI=" {
		t.Fatalf("b64 echo: %v %q %v", typ, b, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	if r := <-reasons; r != CloseTransportClose {
		t.Fatalf("reason %q", r)
	}

	o, pollURL := handshakeV3(t, hs.URL, "")
	// A v4 request for a v3 session is refused.
	if code, _ := get(t, strings.Replace(pollURL, "EIO=3", "EIO=4", 1)); code != 400 {
		t.Fatalf("mismatched protocol: %d", code)
	}
	polled := make(chan string, 1)
	go func() {
		_, body := get(t, pollURL)
		polled <- body
	}()
	u, _, err := websocket.Dial(ctx, wsURL+"&sid="+o.SID, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer u.CloseNow()
	u.Write(ctx, websocket.MessageText, []byte("2probe"))
	if _, b, err := u.Read(ctx); err != nil || string(b) != "3probe" {
		t.Fatalf("probe answer %q %v", b, err)
	}
	if body := <-polled; body != "1:6" {
		t.Fatalf("pending poll released with %q", body)
	}
	u.Write(ctx, websocket.MessageText, []byte("5"))
	u.Write(ctx, websocket.MessageBinary, []byte{4, 9})
	if typ, b, err := u.Read(ctx); err != nil || typ != websocket.MessageBinary || string(b) != "\x04\x09" {
		t.Fatalf("after upgrade: %v %q %v", typ, b, err)
	}
}
