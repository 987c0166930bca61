package websocket

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testCtx returns a context that bounds a test's network waits.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echoServer starts a server that echoes every message and reports the error that ended each
// connection on the returned channel.
func echoServer(t *testing.T, opts *AcceptOptions) (url string, errs <-chan error) {
	t.Helper()
	ch := make(chan error, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err != nil {
			return
		}
		ch <- echo(c)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), ch
}

// echoServerB is echoServer for benchmarks: the server echoes through Reader without allocating.
func echoServerB(b *testing.B) (string, *httptest.Server) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		buf := make([]byte, 0, 64<<10)
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			buf = buf[:0]
			for {
				n, err := rd.Read(buf[len(buf):cap(buf)])
				buf = buf[:len(buf)+n]
				if err == io.EOF {
					break
				}
				if err != nil {
					return
				}
			}
			if err := c.Write(ctx, typ, buf); err != nil {
				return
			}
		}
	}))
	b.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), srv
}

// echo sends back every message until an error, which it returns after closing the connection.
func echo(c *Conn) error {
	defer c.CloseNow()
	ctx := context.Background()
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if err := c.Write(ctx, typ, b); err != nil {
			return err
		}
	}
}

func dial(t *testing.T, url string, opts *DialOptions) *Conn {
	t.Helper()
	c, _, err := Dial(testCtx(t), url, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// rawClient is a hand-driven client for sending frames the library would never produce.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, url string, extraHeaders string) *rawClient {
	t.Helper()
	addr := strings.TrimPrefix(url, "ws://")
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extraHeaders + "\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return &rawClient{t: t, nc: nc, br: br}
}

// frame builds a masked client frame; b0 is the first header byte as sent.
func clientFrame(b0 byte, payload []byte) []byte {
	h := header{fin: b0&0x80 != 0, rsv1: b0&0x40 != 0, opcode: opcode(b0 & 0x0f), masked: true,
		length: int64(len(payload)), maskKey: 0x12345678}
	out := appendHeader(nil, h)
	out[0] = b0 // keep RSV2/RSV3 as given
	off := len(out)
	out = append(out, payload...)
	mask(h.maskKey, out[off:])
	return out
}

func (rc *rawClient) send(b []byte) {
	rc.t.Helper()
	if _, err := rc.nc.Write(b); err != nil {
		rc.t.Fatalf("raw write: %v", err)
	}
}

// readFrame reads one server frame.
func (rc *rawClient) readFrame() (header, []byte, error) {
	h, err := readHeader(rc.br)
	if err != nil {
		return h, nil, err
	}
	p := make([]byte, h.length)
	_, err = io.ReadFull(rc.br, p)
	return h, p, err
}

// expectClose reads frames until a close frame and returns its code.
func (rc *rawClient) expectClose() StatusCode {
	rc.t.Helper()
	for {
		h, p, err := rc.readFrame()
		if err != nil {
			rc.t.Fatalf("reading for a close frame: %v", err)
		}
		if h.opcode == opClose {
			// Answer as a client does, and end our side, so the server need not wait for us.
			_, _ = rc.nc.Write(clientFrame(0x80|byte(opClose), p))
			_ = rc.nc.(*net.TCPConn).CloseWrite()
			if len(p) < 2 {
				return StatusNoStatusRcvd
			}
			return StatusCode(binary.BigEndian.Uint16(p))
		}
	}
}

// expectEOF checks that the server closed the TCP connection.
func (rc *rawClient) expectEOF() {
	rc.t.Helper()
	if _, err := rc.br.ReadByte(); !errors.Is(err, io.EOF) && !isConnReset(err) {
		rc.t.Fatalf("want EOF, got %v", err)
	}
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func closePayload(code StatusCode, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

var netDialer net.Dialer

func newTestReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// tcpPair returns the accepted and the dialled end of a loopback TCP connection, closed when
// the test ends.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return server, client
}
