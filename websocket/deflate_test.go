package websocket

import (
	"bytes"
	"compress/flate"
	"net/http"
	"strings"
	"testing"
)

func TestAcceptDeflateNegotiation(t *testing.T) {
	cases := []struct {
		offer string
		mode  CompressionMode
		want  string // "" when declined
		small bool
	}{
		{"permessage-deflate", CompressionContextTakeover, "permessage-deflate; server_no_context_takeover", false},
		{"permessage-deflate; client_max_window_bits", CompressionContextTakeover, "permessage-deflate; server_no_context_takeover", false},
		{"permessage-deflate", CompressionNoContextTakeover, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", false},
		{"permessage-deflate; client_no_context_takeover", CompressionContextTakeover, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", false},
		{"permessage-deflate; server_max_window_bits=10", CompressionContextTakeover, "permessage-deflate; server_no_context_takeover; server_max_window_bits=10", true},
		{"permessage-deflate; server_max_window_bits=15", CompressionContextTakeover, "permessage-deflate; server_no_context_takeover; server_max_window_bits=15", false},
		{"permessage-deflate; client_max_window_bits=\"9\"", CompressionContextTakeover, "permessage-deflate; server_no_context_takeover", false},
		// Invalid offers are declined, and the next acceptable one is taken.
		{"permessage-deflate; server_max_window_bits=7", CompressionContextTakeover, "", false},
		{"permessage-deflate; server_max_window_bits", CompressionContextTakeover, "", false},
		{"permessage-deflate; client_max_window_bits=16", CompressionContextTakeover, "", false},
		{"permessage-deflate; foo=1", CompressionContextTakeover, "", false},
		{"permessage-deflate; server_no_context_takeover=1", CompressionContextTakeover, "", false},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover", CompressionContextTakeover, "", false},
		{"permessage-deflate; foo, permessage-deflate", CompressionContextTakeover, "permessage-deflate; server_no_context_takeover", false},
		{"x-webkit-deflate-frame", CompressionContextTakeover, "", false},
	}
	for _, tc := range cases {
		h := http.Header{"Sec-Websocket-Extensions": {tc.offer}}
		exts, err := parseExtensions(h)
		if err != nil {
			t.Fatalf("%q: %v", tc.offer, err)
		}
		resp, neg, ok := acceptDeflate(exts, tc.mode)
		if resp != tc.want || ok != (tc.want != "") || neg.ownSmallWindow != tc.small {
			t.Errorf("offer %q mode %d: got %q ok=%v small=%v, want %q small=%v", tc.offer, tc.mode, resp, ok, neg.ownSmallWindow, tc.want, tc.small)
		}
	}
}

func TestCheckDeflateResponse(t *testing.T) {
	cases := []struct {
		resp    string
		mode    CompressionMode
		wantErr bool
		neg     negotiated
	}{
		{"", CompressionContextTakeover, false, negotiated{}},
		{"permessage-deflate", CompressionContextTakeover, false, negotiated{deflate: true}},
		{"permessage-deflate; server_no_context_takeover", CompressionContextTakeover, false, negotiated{deflate: true, peerNoContext: true}},
		{"permessage-deflate; client_max_window_bits=9", CompressionContextTakeover, false, negotiated{deflate: true, ownSmallWindow: true}},
		{"permessage-deflate; client_max_window_bits", CompressionContextTakeover, true, negotiated{}},
		{"permessage-deflate; bogus", CompressionContextTakeover, true, negotiated{}},
		{"permessage-deflate", CompressionDisabled, true, negotiated{}},
		{"permessage-deflate, permessage-deflate", CompressionContextTakeover, true, negotiated{}},
		{"other-ext", CompressionContextTakeover, true, negotiated{}},
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.resp != "" {
			h.Set("Sec-WebSocket-Extensions", tc.resp)
		}
		exts, _ := parseExtensions(h)
		neg, err := checkDeflateResponse(exts, tc.mode)
		if (err != nil) != tc.wantErr || (err == nil && neg != tc.neg) {
			t.Errorf("%q: got %+v, %v", tc.resp, neg, err)
		}
	}
}

// contextCompressor compresses like a peer that keeps its window between messages.
type contextCompressor struct {
	buf bytes.Buffer
	fw  *flate.Writer
}

func (c *contextCompressor) message(p []byte) []byte {
	if c.fw == nil {
		c.fw, _ = flate.NewWriter(&c.buf, flate.BestCompression)
	}
	c.buf.Reset()
	c.fw.Write(p)
	c.fw.Flush()
	return bytes.TrimSuffix(bytes.Clone(c.buf.Bytes()), []byte(deflateTail))
}

// TestPeerContextTakeover sends messages that refer back to earlier ones; the server must keep
// the window between messages, fragments included.
func TestPeerContextTakeover(t *testing.T) {
	url, _ := echoServer(t, &AcceptOptions{Compression: CompressionContextTakeover})
	rc := dialRaw(t, url, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
	var cc contextCompressor
	msg := []byte(strings.Repeat("the same words again and again; ", 20))
	for i := range 4 {
		z := cc.message(msg)
		if i > 0 && len(z) > 20 {
			t.Fatalf("test compressor did not use context: %d bytes", len(z))
		}
		if i == 3 { // split across fragments; RSV1 only on the first
			rc.send(clientFrame(0x40|byte(opText), z[:len(z)/2]))
			rc.send(clientFrame(0x80|byte(opContinuation), z[len(z)/2:]))
		} else {
			rc.send(clientFrame(0x80|0x40|byte(opText), z))
		}
		h, p, err := rc.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		if h.rsv1 {
			p = inflate(t, p)
		}
		if !bytes.Equal(p, msg) {
			t.Fatalf("message %d: got %q", i, p)
		}
	}
}

func inflate(t *testing.T, p []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	fr := flate.NewReader(bytes.NewReader(append(bytes.Clone(p), deflateTail...)))
	_, err := out.ReadFrom(fr)
	if err != nil && err.Error() != "unexpected EOF" {
		t.Fatalf("inflate: %v", err)
	}
	return out.Bytes()
}

// TestDecompressionBomb: a small compressed frame that inflates past the read limit closes the
// connection with 1009 without inflating it all.
func TestDecompressionBomb(t *testing.T) {
	url, errs := echoServer(t, &AcceptOptions{Compression: CompressionContextTakeover, ReadLimit: 1 << 20})
	rc := dialRaw(t, url, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
	var cc contextCompressor
	z := cc.message(make([]byte, 8<<20)) // 8 MiB of zeros: about 8 KiB compressed
	if len(z) > 1<<20 {
		t.Fatalf("bomb is %d bytes", len(z))
	}
	rc.send(clientFrame(0x80|0x40|byte(opBinary), z))
	if got := rc.expectClose(); got != StatusMessageTooBig {
		t.Fatalf("close code %d, want 1009", got)
	}
	if CloseStatus(<-errs) != StatusMessageTooBig {
		t.Fatal("server reader did not see 1009")
	}
}

func TestInvalidCompressedData(t *testing.T) {
	url, errs := echoServer(t, &AcceptOptions{Compression: CompressionContextTakeover})
	rc := dialRaw(t, url, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
	rc.send(clientFrame(0x80|0x40|byte(opBinary), []byte{0xff, 0xff, 0xff, 0xff, 0xff}))
	if got := rc.expectClose(); got != StatusInvalidFramePayloadData {
		t.Fatalf("close code %d, want 1007", got)
	}
	if CloseStatus(<-errs) != StatusInvalidFramePayloadData {
		t.Fatal("server reader did not see 1007")
	}
}

// TestSmallWindow: when the client limits the server's window, the server's frames must not
// refer further back than the window; Huffman-only output refers back not at all.
func TestSmallWindow(t *testing.T) {
	url, _ := echoServer(t, &AcceptOptions{Compression: CompressionContextTakeover})
	rc := dialRaw(t, url, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8\r\n")
	msg := []byte(strings.Repeat("abcdefgh", 1000))
	rc.send(clientFrame(0x80|byte(opText), msg))
	h, p, err := rc.readFrame()
	if err != nil || !h.rsv1 {
		t.Fatalf("want a compressed frame: %v", err)
	}
	if len(p) < len(msg)/4 {
		t.Fatalf("%d bytes for %d: back-references were used", len(p), len(msg))
	}
	if got := inflate(t, p); !bytes.Equal(got, msg) {
		t.Fatal("round trip")
	}
}

func TestAppendWindow(t *testing.T) {
	var w []byte
	w = appendWindow(w, bytes.Repeat([]byte{1}, 20000))
	w = appendWindow(w, bytes.Repeat([]byte{2}, 20000))
	if len(w) != deflateWindow || w[0] != 1 || w[len(w)-1] != 2 || w[deflateWindow-20001] != 1 || w[deflateWindow-20000] != 2 {
		t.Fatal("window content")
	}
	w = appendWindow(w, bytes.Repeat([]byte{3}, 40000))
	if len(w) != deflateWindow || w[0] != 3 {
		t.Fatal("large write")
	}
}
