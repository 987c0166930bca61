package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/socketio"
)

// TestFrameIsTethers checks the frame against what a Tether server really
// writes when the bench's sioserver app relays a broadcast: byte for byte,
// header included, as a raw socket reads it.
func TestFrameIsTethers(t *testing.T) {
	sio := socketio.NewServer(nil)
	sio.On("broadcast", func(s *socketio.Socket, args socketio.Args) {
		_ = s.Broadcast().Emit("broadcast-back", args)
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", sio)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sio.Shutdown(ctx)
	}()

	sub := dialRaw(t, srv.Listener.Addr().String())
	pub := dialRaw(t, srv.Listener.Addr().String())
	for _, size := range []int{100, 200} {
		want := broadcastFrame("broadcast-back", size)
		// The publisher sends the same argument the frame carries.
		_, payload := splitFrame(t, want)
		arg := payload[bytes.Index(payload, []byte(`","`))+3 : len(payload)-2]
		pub.writeText(t, fmt.Sprintf(`42["broadcast","%s"]`, arg))
		got := sub.readFrame(t)
		if !bytes.Equal(got, want) {
			t.Fatalf("size %d: Tether wrote\n%q\nthe floor writes\n%q", size, got, want)
		}
	}
}

func splitFrame(t *testing.T, f []byte) (header, payload []byte) {
	t.Helper()
	n := 2
	switch f[1] & 0x7f {
	case 126:
		n = 4
	case 127:
		n = 10
	}
	return f[:n], f[n:]
}

type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

// dialRaw opens a Socket.IO connection in namespace "/" over a WebSocket
// spoken by hand, so that frames are read as the bytes on the wire.
func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	rc := &rawConn{c: c, r: bufio.NewReader(c)}
	resp, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	if _, open := splitFrame(t, rc.readFrame(t)); !bytes.HasPrefix(open, []byte("0{")) {
		t.Fatalf("no Engine.IO open packet: %q", open)
	}
	rc.writeText(t, "40")
	if _, conn := splitFrame(t, rc.readFrame(t)); !strings.HasPrefix(string(conn), "40{") {
		t.Fatalf("no Socket.IO connect packet: %q", conn)
	}
	return rc
}

// readFrame returns the next frame whole, header and payload.
func (rc *rawConn) readFrame(t *testing.T) []byte {
	t.Helper()
	h := make([]byte, 2, 10)
	if _, err := io.ReadFull(rc.r, h); err != nil {
		t.Fatal(err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		h = h[:4]
		if _, err := io.ReadFull(rc.r, h[2:]); err != nil {
			t.Fatal(err)
		}
		n = uint64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		h = h[:10]
		if _, err := io.ReadFull(rc.r, h[2:]); err != nil {
			t.Fatal(err)
		}
		n = binary.BigEndian.Uint64(h[2:])
	}
	f := append(h, make([]byte, n)...)
	if _, err := io.ReadFull(rc.r, f[len(h):]); err != nil {
		t.Fatal(err)
	}
	return f
}

// writeText sends a masked text frame, as a client must.
func (rc *rawConn) writeText(t *testing.T, s string) {
	t.Helper()
	f := []byte{0x81}
	switch n := len(s); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	default:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	}
	key := [4]byte{1, 2, 3, 4}
	f = append(f, key[:]...)
	for i := range len(s) {
		f = append(f, s[i]^key[i%4])
	}
	if _, err := rc.c.Write(f); err != nil {
		t.Fatal(err)
	}
}
