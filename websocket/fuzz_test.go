package websocket

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// pipeConn gives a server Conn a byte stream to read and discards what it writes.
type pipeConn struct {
	r io.Reader
}

func (p *pipeConn) Read(b []byte) (int, error)         { return p.r.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error)        { return len(b), nil }
func (p *pipeConn) Close() error                       { return nil }
func (p *pipeConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (p *pipeConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (p *pipeConn) SetDeadline(t time.Time) error      { return nil }
func (p *pipeConn) SetReadDeadline(t time.Time) error  { return nil }
func (p *pipeConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzReadFrame reads arbitrary bytes as a client's frames, with and without compression: the
// reader must end with an error or io.EOF, never panic, and never deliver invalid UTF-8 text.
func FuzzReadFrame(f *testing.F) {
	for _, seed := range [][]byte{
		clientFrame(0x81, []byte("hello")),
		clientFrame(0x82, make([]byte, 300)),
		append(clientFrame(0x01, []byte("frag")), clientFrame(0x80, []byte("ment"))...),
		clientFrame(0x89, []byte("ping")),
		clientFrame(0x88, closePayload(1000, "bye")),
		clientFrame(0xC1, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), // "Hello", deflated
		{0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4},
		{0x81, 0x7e},
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, deflate bool) {
		c := newConn(&pipeConn{r: bytes.NewReader(data)}, nil, connConfig{
			neg:       negotiated{deflate: deflate},
			readLimit: 1 << 16,
		})
		defer c.CloseNow()
		for range 100 {
			typ, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if typ == MessageText && !utf8.Valid(b) {
				t.Fatalf("invalid UTF-8 delivered: %q", b)
			}
		}
	})
}

// FuzzAcceptHandshake runs Accept on arbitrary request headers: it must answer, not panic.
func FuzzAcceptHandshake(f *testing.F) {
	f.Add("websocket", "Upgrade", "dGhlIHNhbXBsZSBub25jZQ==", "13", "permessage-deflate; client_max_window_bits", "chat, superchat", "http://a.example")
	f.Add("websocket", "keep-alive, Upgrade", "x", "8", "permessage-deflate; server_max_window_bits=7, foo", "", "null")
	f.Add("WebSocket", "upgrade", "AAAAAAAAAAAAAAAAAAAAAA==", "13", "permessage-deflate;;", ",,", "http://[::1")
	f.Fuzz(func(t *testing.T, upgrade, connection, key, version, extensions, protocols, origin string) {
		r := httptest.NewRequest("GET", "http://a.example/", nil)
		for k, v := range map[string]string{"Upgrade": upgrade, "Connection": connection, "Sec-WebSocket-Key": key,
			"Sec-WebSocket-Version": version, "Sec-WebSocket-Extensions": extensions, "Sec-WebSocket-Protocol": protocols,
			"Origin": origin} {
			r.Header.Set(k, v)
		}
		w := &hijackRecorder{ResponseRecorder: httptest.NewRecorder()}
		c, err := Accept(w, r, &AcceptOptions{Compression: CompressionContextTakeover, Subprotocols: []string{"chat"},
			OriginPatterns: []string{"*.example"}})
		if err == nil {
			if w.Code != http.StatusSwitchingProtocols {
				t.Fatalf("accepted with status %d", w.Code)
			}
			c.CloseNow()
			return
		}
		if w.Code < 400 {
			t.Fatalf("refused with status %d: %v", w.Code, err)
		}
	})
}

// hijackRecorder is a ResponseRecorder that can be hijacked, for Accept without a network.
type hijackRecorder struct {
	*httptest.ResponseRecorder
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	pc := &pipeConn{r: strings.NewReader("")}
	return pc, bufio.NewReadWriter(bufio.NewReader(pc), bufio.NewWriter(pc)), nil
}

// FuzzInflate reads arbitrary bytes as one compressed message: decompression must stop at the
// read limit and never panic.
func FuzzInflate(f *testing.F) {
	var cc contextCompressor
	f.Add(cc.message([]byte("hello hello hello")))
	f.Add(cc.message(make([]byte, 100000)))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add([]byte{0x03, 0x00}) // a final empty block
	f.Fuzz(func(t *testing.T, z []byte) {
		frame := clientFrame(0x80|0x40|byte(opBinary), z)
		c := newConn(&pipeConn{r: bytes.NewReader(frame)}, nil, connConfig{
			neg:       negotiated{deflate: true},
			readLimit: 1 << 16,
		})
		defer c.CloseNow()
		_, b, err := c.Read(context.Background())
		if err == nil && len(b) > 1<<16 {
			t.Fatalf("read limit exceeded: %d bytes", len(b))
		}
	})
}
