package websocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEchoSizes(t *testing.T) {
	for _, mode := range []CompressionMode{CompressionDisabled, CompressionNoContextTakeover, CompressionContextTakeover} {
		t.Run(fmt.Sprint("compression=", mode), func(t *testing.T) {
			url, _ := echoServer(t, &AcceptOptions{Compression: mode, ReadLimit: 8 << 20})
			c := dial(t, url, &DialOptions{Compression: mode, ReadLimit: 8 << 20})
			ctx := testCtx(t)
			for _, n := range []int{0, 1, 125, 126, 127, 128, 65535, 65536, 65537, 1 << 20, 4 << 20} {
				for _, typ := range []MessageType{MessageText, MessageBinary} {
					msg := bytes.Repeat([]byte("tether é "), n/10+1)[:n]
					if typ == MessageText {
						msg = []byte(strings.ToValidUTF8(string(msg), ""))
					}
					if err := c.Write(ctx, typ, msg); err != nil {
						t.Fatal(err)
					}
					gotTyp, got, err := c.Read(ctx)
					if err != nil || gotTyp != typ || !bytes.Equal(got, msg) {
						t.Fatalf("%v of %d bytes: got %v, %d bytes, %v", typ, len(msg), gotTyp, len(got), err)
					}
				}
			}
			if err := c.Close(StatusNormalClosure, ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWriterFragments streams a message in pieces that split UTF-8 sequences.
func TestWriterFragments(t *testing.T) {
	for _, mode := range []CompressionMode{CompressionDisabled, CompressionContextTakeover} {
		url, _ := echoServer(t, &AcceptOptions{Compression: mode, ReadLimit: -1})
		c := dial(t, url, &DialOptions{Compression: mode, ReadLimit: -1})
		ctx := testCtx(t)
		text := strings.Repeat("日本語テキスト and ascii ", 10000)
		w, err := c.Writer(ctx, MessageText)
		if err != nil {
			t.Fatal(err)
		}
		for rest := []byte(text); len(rest) > 0; {
			n := min(len(rest), 1001) // 1001 splits the three-byte runes
			if _, err := w.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		typ, r, err := c.Reader(ctx)
		if err != nil || typ != MessageText {
			t.Fatal(typ, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || string(got) != text {
			t.Fatalf("mode %v: got %d bytes, %v", mode, len(got), err)
		}
	}
}

// TestConcurrentWrites writes from many goroutines; every message must arrive intact.
func TestConcurrentWrites(t *testing.T) {
	url, _ := echoServer(t, nil)
	c := dial(t, url, nil)
	ctx := testCtx(t)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				msg := fmt.Sprintf("%d-%d-%s", g, i, strings.Repeat("x", i*100))
				if i%2 == 0 {
					_ = c.Write(ctx, MessageText, []byte(msg))
					continue
				}
				w, err := c.Writer(ctx, MessageText)
				if err != nil {
					return
				}
				_, _ = w.Write([]byte(msg))
				_ = w.Close()
			}
		}()
	}
	for range writers * each {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var g, i int
		if _, err := fmt.Sscanf(string(b), "%d-%d-", &g, &i); err != nil || len(b) != len(fmt.Sprintf("%d-%d-", g, i))+i*100 {
			t.Fatalf("corrupted message %.40q", b)
		}
	}
	wg.Wait()
}

func TestCloseHandshakeFromClient(t *testing.T) {
	url, errs := echoServer(t, nil)
	c := dial(t, url, nil)
	if err := c.Close(4000, "done here"); err != nil {
		t.Fatal(err)
	}
	err := <-errs
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != 4000 || ce.Reason != "done here" || ce.Local {
		t.Fatalf("server saw %v", err)
	}
	if _, _, err := c.Read(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
	if err := c.Write(context.Background(), MessageText, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

// TestCloseHandshakeFromServer closes from the server while the client is blocked reading.
func TestCloseHandshakeFromServer(t *testing.T) {
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		done <- c.Close(StatusGoingAway, "restarting")
	}))
	defer srv.Close()
	c := dial(t, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	_, _, err := c.Read(testCtx(t))
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusGoingAway || ce.Reason != "restarting" || ce.Local {
		t.Fatalf("client read: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server Close: %v", err)
	}
}

// TestCloseWithoutReader checks that Close reads the peer's answer itself when no one reads.
func TestCloseWithoutReader(t *testing.T) {
	url, errs := echoServer(t, nil)
	c := dial(t, url, nil)
	// A message is in flight back to us and unread when we close.
	if err := c.Write(testCtx(t), MessageText, []byte("pending")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if CloseStatus(<-errs) != StatusNormalClosure {
		t.Fatal("server did not see 1000")
	}
}

func TestPingPong(t *testing.T) {
	pings := make(chan string, 1)
	url, _ := echoServer(t, &AcceptOptions{OnPing: func(p []byte) { pings <- string(p) }})
	var pongs sync.Map
	c := dial(t, url, &DialOptions{OnPong: func(p []byte) { pongs.Store(string(p), true) }})
	ctx := testCtx(t)
	go func() {
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	for range 3 {
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if len(<-pings) != 8 {
			t.Fatal("ping payload")
		}
	}
}

// TestKeepAliveClosesSilentPeer: a peer that answers nothing is dropped with a clear reason.
func TestKeepAliveClosesSilentPeer(t *testing.T) {
	url, errs := echoServer(t, &AcceptOptions{KeepAlive: 50 * time.Millisecond})
	rc := dialRaw(t, url, "")
	// Never answer the pings.
	err := <-errs
	var ce *CloseError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "keep-alive") {
		t.Fatalf("got %v, want a keep-alive CloseError", err)
	}
	_ = rc
}

// TestKeepAliveKeepsLivePeer: pings are answered by the peer's reader, so nothing is closed.
func TestKeepAliveKeepsLivePeer(t *testing.T) {
	url, _ := echoServer(t, &AcceptOptions{KeepAlive: 20 * time.Millisecond})
	pings := make(chan struct{}, 100)
	c := dial(t, url, &DialOptions{OnPing: func([]byte) {
		select {
		case pings <- struct{}{}:
		default:
		}
	}})
	ctx := testCtx(t)
	msgs := make(chan string, 1)
	go func() {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(b)
		}
	}()
	for range 5 {
		select {
		case <-pings:
		case <-ctx.Done():
			t.Fatal("no keep-alive pings seen")
		}
	}
	if err := c.Write(ctx, MessageText, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if got, ok := <-msgs; !ok || got != "still here" {
		t.Fatalf("connection dropped after keep-alive pings: %q", got)
	}
}

// TestReadContextCancel checks that a blocked read returns when its context ends.
func TestReadContextCancel(t *testing.T) {
	url, _ := echoServer(t, nil)
	c := dial(t, url, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Read(ctx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if err := c.Write(context.Background(), MessageText, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("connection should be closed after a canceled read, got %v", err)
	}
}

// TestClientReadLimit checks the read limit on the client side, and the server's view.
func TestClientReadLimit(t *testing.T) {
	srvErr := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		_ = c.Write(context.Background(), MessageBinary, make([]byte, 1000))
		_, _, err = c.Read(context.Background())
		srvErr <- err
		c.CloseNow()
	}))
	defer srv.Close()
	c := dial(t, "ws"+strings.TrimPrefix(srv.URL, "http"), &DialOptions{ReadLimit: 999})
	_, _, err := c.Read(testCtx(t))
	if CloseStatus(err) != StatusMessageTooBig {
		t.Fatalf("client: %v", err)
	}
	if err := <-srvErr; CloseStatus(err) != StatusMessageTooBig {
		t.Fatalf("server saw %v, want 1009 from the client", err)
	}
}

// TestHandshakeLeftoverBytes: frames sent right behind the handshake must not be lost.
func TestHandshakeLeftoverBytes(t *testing.T) {
	url, _ := echoServer(t, nil)
	addr := strings.TrimPrefix(url, "ws://")
	rc := dialRawWithFrame(t, addr, clientFrame(0x80|byte(opText), []byte("early")))
	h, p, err := rc.readFrame()
	if err != nil || h.opcode != opText || string(p) != "early" {
		t.Fatalf("got %v %q %v", h.opcode, p, err)
	}
}

func dialRawWithFrame(t *testing.T, addr string, frame []byte) *rawClient {
	t.Helper()
	rc := &rawClient{t: t}
	nc, err := (&netDialer).DialContext(testCtx(t), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	rc.nc = nc
	rc.br = newTestReader(nc)
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v", err)
	}
	return rc
}
