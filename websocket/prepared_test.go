package websocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestPreparedMessage broadcasts one prepared message to clients with and without compression.
func TestPreparedMessage(t *testing.T) {
	payload := []byte(strings.Repeat("broadcast ", 100))
	pm, err := NewPreparedMessage(MessageText, payload)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &AcceptOptions{Compression: CompressionContextTakeover})
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		for range 3 {
			if err := c.WritePrepared(context.Background(), pm); err != nil {
				t.Error(err)
			}
			// An ordinary message in between must still decode: our compressor keeps no context.
			if err := c.Write(context.Background(), MessageText, payload); err != nil {
				t.Error(err)
			}
		}
		_ = echo(c)
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	for _, mode := range []CompressionMode{CompressionDisabled, CompressionNoContextTakeover, CompressionContextTakeover} {
		c := dial(t, url, &DialOptions{Compression: mode})
		for range 6 {
			typ, b, err := c.Read(testCtx(t))
			if err != nil || typ != MessageText || !bytes.Equal(b, payload) {
				t.Fatalf("mode %d: %v %v %d", mode, typ, err, len(b))
			}
		}
		// A client connection writes prepared messages too (masked anew).
		if err := c.WritePrepared(testCtx(t), pm); err != nil {
			t.Fatal(err)
		}
		if _, b, err := c.Read(testCtx(t)); err != nil || !bytes.Equal(b, payload) {
			t.Fatalf("client prepared echo: %v", err)
		}
		c.Close(StatusNormalClosure, "")
	}
	wg.Wait()
	if _, err := NewPreparedMessage(MessageType(9), nil); err == nil {
		t.Fatal("bad type accepted")
	}
}

func TestPreparedMessageInPlace(t *testing.T) {
	url, _ := echoServer(t, nil)
	c := dial(t, url, nil)
	ctx := testCtx(t)
	for _, size := range []int{0, 125, 126, 65535, 65536, 100_000} {
		msg := bytes.Repeat([]byte("é"), size/2)
		buf := append(make([]byte, PreparedHeadroom), msg...)
		pm, err := NewPreparedMessageInPlace(MessageText, buf, false)
		if err != nil {
			t.Fatal(err)
		}
		// The server's frame is buf itself, not a copy.
		if f := pm.frame(framePlain); &f[len(f)-1] != &buf[len(buf)-1] && len(msg) > 0 {
			t.Fatalf("%d bytes: the frame is a copy", size)
		}
		// The client frames it anew; the echo brings back the server's frame of the echo, so
		// check the in-place frame by hand and the message by the echo.
		h, err := readHeader(bufio.NewReader(bytes.NewReader(pm.frame(framePlain))))
		if err != nil || h.length != int64(len(msg)) || !h.fin || h.opcode != opText {
			t.Fatalf("%d bytes: header %+v, %v", size, h, err)
		}
		if err := c.WritePrepared(ctx, pm); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.Read(ctx)
		if err != nil || typ != MessageText || !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes: echo %v %d bytes %v", size, typ, len(got), err)
		}
	}
	if _, err := NewPreparedMessageInPlace(MessageText, make([]byte, 3), false); err == nil {
		t.Fatal("a buffer without headroom was taken")
	}
	if _, err := NewPreparedMessageInPlace(MessageText, append(make([]byte, PreparedHeadroom), 0xff), false); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("invalid text: %v", err)
	}
}

// TestTryWritePreparedFrameChoice checks that TryWritePrepared sends the frame WritePrepared
// would: compressed from the threshold on where deflate was negotiated (without
// back-references when this side's window is small), plain below it and for a message
// prepared uncompressed, and plain on a connection without deflate.
func TestTryWritePreparedFrameChoice(t *testing.T) {
	big := []byte(strings.Repeat("compress me ", 20))
	for _, tc := range []struct {
		name    string
		neg     negotiated
		message func() (*PreparedMessage, error)
		rsv1    bool
	}{
		{"deflate, large", negotiated{deflate: true}, func() (*PreparedMessage, error) { return NewPreparedMessage(MessageText, big) }, true},
		{"deflate, small window", negotiated{deflate: true, ownSmallWindow: true}, func() (*PreparedMessage, error) { return NewPreparedMessage(MessageText, big) }, true},
		{"deflate, small", negotiated{deflate: true}, func() (*PreparedMessage, error) { return NewPreparedMessage(MessageText, []byte("tick")) }, false},
		{"deflate, uncompressed", negotiated{deflate: true}, func() (*PreparedMessage, error) { return NewUncompressedPreparedMessage(MessageText, big) }, false},
		{"no deflate", negotiated{}, func() (*PreparedMessage, error) { return NewPreparedMessage(MessageText, big) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := tcpPair(t)
			c := newConn(server, nil, connConfig{neg: tc.neg})
			defer c.CloseNow()
			pm, err := tc.message()
			if err != nil {
				t.Fatal(err)
			}
			kind := framePlain
			if tc.rsv1 {
				kind = frameDeflate
				if tc.neg.ownSmallWindow {
					kind = frameDeflateSmallWindow
				}
			}
			want := pm.frame(kind)
			// The first write makes the connection's socketWriter, the second uses it.
			for i := range 2 {
				if ok, err := c.TryWritePrepared(pm); !ok || err != nil {
					t.Fatalf("write %d: %v, %v", i, ok, err)
				}
				got := make([]byte, len(want))
				if _, err := io.ReadFull(client, got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("write %d: %x, want %x", i, got, want)
				}
				if rsv1 := got[0]&0x40 != 0; rsv1 != tc.rsv1 {
					t.Fatalf("write %d: RSV1 %v, want %v", i, rsv1, tc.rsv1)
				}
			}
		})
	}
}

// TestPreparedBatch checks that a batch writes each reserved connection's frame once and
// releases it, that a connection busy with another message is not reserved, and that a
// closed one is refused.
func TestPreparedBatch(t *testing.T) {
	pm, err := NewPreparedMessage(MessageText, []byte("to all"))
	if err != nil {
		t.Fatal(err)
	}
	want := pm.frame(framePlain)
	var conns []*Conn
	var peers []net.Conn
	for range 3 {
		server, client := tcpPair(t)
		c := newConn(server, nil, connConfig{})
		t.Cleanup(func() { c.CloseNow() })
		conns, peers = append(conns, c), append(peers, client)
	}
	var b PreparedBatch
	for round := range 2 { // the second round reuses the batch after Reset
		if err := conns[1].msgLock.lock(context.Background()); err != nil { // busy: a message under way
			t.Fatal(err)
		}
		for i, c := range conns {
			ok, err := b.Reserve(c, pm)
			if err != nil || ok != (i != 1) {
				t.Fatalf("round %d: Reserve(conn %d): %v, %v", round, i, ok, err)
			}
		}
		conns[1].msgLock.unlock()
		if b.Len() != 2 {
			t.Fatalf("round %d: %d reserved, want 2", round, b.Len())
		}
		b.Write()
		for i := range b.Len() {
			if !b.Wrote(i) {
				t.Fatalf("round %d: reserved write %d not made", round, i)
			}
		}
		b.Reset()
		for _, i := range []int{0, 2} {
			got := make([]byte, len(want))
			if _, err := io.ReadFull(peers[i], got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("round %d, conn %d: %x, %v; want %x", round, i, got, err, want)
			}
			// Released: a plain write goes through.
			if ok, err := conns[i].TryWritePrepared(pm); !ok || err != nil {
				t.Fatalf("round %d, conn %d: not released: %v, %v", round, i, ok, err)
			}
			if _, err := io.ReadFull(peers[i], got); err != nil {
				t.Fatal(err)
			}
		}
	}
	conns[2].CloseNow()
	if ok, _ := b.Reserve(conns[2], pm); ok || b.Len() != 0 {
		t.Fatal("a closed Conn was reserved")
	}
}
