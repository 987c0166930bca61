//go:build unix

package websocket

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stalledPeer starts a server whose handler hands its Conn over, and a raw client with a small
// receive buffer that completes the handshake and then never reads: the peer every write to
// which eventually blocks.
func stalledPeer(t *testing.T, opts *AcceptOptions, wrap func(*httptest.Server)) (*Conn, net.Conn) {
	t.Helper()
	conns := make(chan *Conn, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err != nil {
			return
		}
		conns <- c
	}))
	if wrap != nil {
		wrap(srv)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	nc, err := d.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	// Read the 101 response only, byte by byte, so that nothing after it is consumed.
	var resp []byte
	one := make([]byte, 1)
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !bytes.HasSuffix(resp, []byte("\r\n\r\n")) {
		if _, err := nc.Read(one); err != nil {
			t.Fatalf("reading the handshake response: %v", err)
		}
		resp = append(resp, one[0])
	}
	if !strings.HasPrefix(string(resp), "HTTP/1.1 101") {
		t.Fatalf("handshake: %q", resp)
	}
	select {
	case c := <-conns:
		t.Cleanup(func() { c.CloseNow() })
		return c, nc
	case <-time.After(10 * time.Second):
		t.Fatal("server never accepted")
	}
	return nil, nil
}

// fillUntilError writes 64 KiB messages until a write fails, and returns that error; it fails
// the test when writes still succeed after far more than any socket buffer holds.
func fillUntilError(t *testing.T, c *Conn, write func([]byte) error) error {
	t.Helper()
	msg := make([]byte, 64<<10)
	for range 4096 { // 256 MiB: no loopback socket buffers that much
		if err := write(msg); err != nil {
			return err
		}
	}
	t.Fatal("256 MiB written to a peer that reads nothing")
	return nil
}

func TestWriteTimeoutEndsBlockedWrite(t *testing.T) {
	c, _ := stalledPeer(t, &AcceptOptions{WriteTimeout: 200 * time.Millisecond}, nil)
	err := fillUntilError(t, c, func(b []byte) error { return c.Write(context.Background(), MessageBinary, b) })
	if !errors.Is(err, ErrWriteTimeout) {
		t.Fatalf("write error %v, want ErrWriteTimeout", err)
	}
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusAbnormalClosure || !ce.Local {
		t.Fatalf("write error %v, want a local 1006 CloseError", err)
	}
	// The connection is closed: later writes fail at once with the same reason.
	if err := c.Write(context.Background(), MessageText, []byte("x")); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrWriteTimeout) {
		t.Fatalf("write after the timeout: %v", err)
	}
}

func TestWriteTimeoutEndsPreparedBackgroundWrite(t *testing.T) {
	c, _ := stalledPeer(t, &AcceptOptions{WriteTimeout: 200 * time.Millisecond}, nil)
	pm, err := NewPreparedMessage(MessageBinary, make([]byte, 256<<10))
	if err != nil {
		t.Fatal(err)
	}
	// Fill the socket until TryWritePrepared leaves the rest to its background write, then
	// wait for WritePrepared, which queues behind that write: both must end.
	for i := 0; ; i++ {
		if i == 4096 {
			t.Fatal("the socket never filled up")
		}
		ok, err := c.TryWritePrepared(pm)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = c.WritePrepared(ctx, pm)
	for err == nil {
		err = c.WritePrepared(ctx, pm)
	}
	if !errors.Is(err, ErrWriteTimeout) {
		t.Fatalf("WritePrepared: %v, want ErrWriteTimeout", err)
	}
}

func TestCloseIsNotHeldByBlockedWrite(t *testing.T) {
	// A write timeout far beyond the test: only Close's own bound can end the blocked write.
	c, peer := stalledPeer(t, &AcceptOptions{WriteTimeout: time.Hour}, nil)
	writeErr := make(chan error, 1)
	go func() {
		writeErr <- fillUntilError(t, c, func(b []byte) error { return c.Write(context.Background(), MessageBinary, b) })
	}()
	// Wait until the writer is blocked: the peer's receive buffer and our send buffer are full.
	deadline := time.Now().Add(20 * time.Second)
	for c.frameMu.TryLock() {
		c.frameMu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the writer never blocked")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- c.CloseContext(ctx, StatusGoingAway, "bye") }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("CloseContext waited for the blocked write")
	}
	select {
	case err := <-writeErr:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked write ended with %v, want ErrClosed", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the blocked write never ended")
	}
	// The descriptor is released: the peer sees the connection end once it reads.
	_ = peer.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 1<<20)
	for {
		if _, err := peer.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server kept the connection open")
			}
			break
		}
	}
}

func TestHijackedConnDropsServerDeadlines(t *testing.T) {
	// An http.Server WriteTimeout is for the handshake's response; it must not end the
	// WebSocket that outlives it.
	c, peer := stalledPeer(t, nil, func(s *httptest.Server) {
		s.Config.WriteTimeout = 50 * time.Millisecond
		s.Config.ReadTimeout = 50 * time.Millisecond
	})
	time.Sleep(150 * time.Millisecond)
	if err := c.Write(context.Background(), MessageText, []byte("late")); err != nil {
		t.Fatalf("write after the server's WriteTimeout: %v", err)
	}
	frame := make([]byte, 6)
	_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := peer.Read(frame); err != nil {
		t.Fatalf("reading the frame: %v", err)
	}
	if string(frame[2:6]) != "late" {
		t.Fatalf("got %q", frame)
	}
}
