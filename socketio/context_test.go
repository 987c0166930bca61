package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

type userKey struct{}

// TestSocketContext checks that a socket's context carries the values HTTP middleware put in
// the handshake request's context, in the namespace middleware and the handlers, and is
// canceled, with the reason, when the socket disconnects.
func TestSocketContext(t *testing.T) {
	ctxs := make(chan context.Context, 1)
	io := NewServer(nil)
	{
		io.Use(func(s *Socket) error {
			if s.Context().Value(userKey{}) != "alice" {
				return errors.New("no user in the middleware's context")
			}
			return nil
		})
		io.On("who", func(s *Socket) string {
			ctxs <- s.Context()
			u, _ := s.Context().Value(userKey{}).(string)
			return u
		})
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, "alice")))
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		io.Shutdown(ctx)
		hs.Close()
	})
	c := dialTest(t, hs.URL, nil, nil)
	a, err := c.EmitWithAck(clientCtx(t), "who")
	if err != nil {
		t.Fatal(err)
	}
	var user string
	if err := a.Decode(&user); err != nil || user != "alice" {
		t.Fatalf("user %q (%v)", user, err)
	}
	ctx := <-ctxs
	// The handshake's request has long been answered: its cancellation does not carry over.
	if ctx.Err() != nil {
		t.Fatalf("context ended while connected: %v", ctx.Err())
	}
	c.Disconnect()
	<-ctx.Done()
	if cause := context.Cause(ctx); !errors.Is(cause, ErrDisconnected) || cause.Error() != "socketio: socket disconnected: client namespace disconnect" {
		t.Fatalf("cause %v", cause)
	}
}

// TestSocketContextMadeLate checks the context of a socket that nobody asked for it while it
// was connected (it is made on first use): asked for after the disconnect, it is canceled
// already, with the cause, and concurrent first calls all get the same context.
func TestSocketContextMadeLate(t *testing.T) {
	ctxs := make(chan context.Context, 8)
	io := NewServer(nil)
	io.OnDisconnect(func(s *Socket, _ DisconnectReason) {
		var wg sync.WaitGroup
		for range cap(ctxs) {
			wg.Go(func() { ctxs <- s.Context() })
		}
		wg.Wait()
	})
	hs := httptest.NewServer(io)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		io.Shutdown(ctx)
		hs.Close()
	})
	c := dialTest(t, hs.URL, nil, nil)
	c.Disconnect()
	first := <-ctxs
	for range cap(ctxs) - 1 {
		if ctx := <-ctxs; ctx != first {
			t.Fatal("concurrent first calls of Context returned different contexts")
		}
	}
	select {
	case <-first.Done():
	default:
		t.Fatal("the context of a disconnected socket is not canceled")
	}
	if cause := context.Cause(first); !errors.Is(cause, ErrDisconnected) || cause.Error() != "socketio: socket disconnected: client namespace disconnect" {
		t.Fatalf("cause %v", cause)
	}
}

// TestSocketHandshake checks what a socket's Handshake says of its connection, over polling
// (upgraded) and over WebSocket, and that each call returns maps the caller owns.
func TestSocketHandshake(t *testing.T) {
	for _, transports := range [][]string{{"polling", "websocket"}, {"websocket"}} {
		hss := make(chan *Handshake, 2)
		io := NewServer(nil)
		io.OnConnect(func(s *Socket) {
			first := s.Handshake()
			first.Header.Set("X-Test", "changed")
			first.Query.Set("token", "changed")
			hss <- s.Handshake()
		})
		hs := httptest.NewServer(io)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			io.Shutdown(ctx)
			hs.Close()
		})
		before := time.Now()
		dialTest(t, hs.URL, &ClientOptions{
			Transports: transports,
			Header:     http.Header{"X-Test": {"one", "two"}, "Origin": {hs.URL}},
			Query:      url.Values{"token": {"t0k en"}},
			Auth:       map[string]string{"user": "alice"},
		}, nil)
		h := <-hss
		var auth struct{ User string }
		if err := h.DecodeAuth(&auth); err != nil || auth.User != "alice" {
			t.Errorf("%v: auth %q (%v)", transports, h.Auth, err)
		}
		if got := h.Header.Values("X-Test"); len(got) != 2 || got[0] != "one" || got[1] != "two" {
			t.Errorf("%v: X-Test %q", transports, got)
		}
		if h.Query.Get("token") != "t0k en" || h.Query.Get("EIO") != "4" {
			t.Errorf("%v: query %v", transports, h.Query)
		}
		if !strings.HasPrefix(h.URL, "/socket.io/?") || !strings.Contains(h.URL, "token=t0k") {
			t.Errorf("%v: URL %q", transports, h.URL)
		}
		if h.Address != "127.0.0.1" || h.Secure || !h.XDomain {
			t.Errorf("%v: address %q secure %v xdomain %v", transports, h.Address, h.Secure, h.XDomain)
		}
		if h.Time.Before(before) || h.Time.After(time.Now()) { // monotonic readings: an order, not a duration
			t.Errorf("%v: time %v, connected after %v", transports, h.Time, before)
		}
	}
}

// TestConnectReply checks the CONNECT packet's data against the JSON encoder's, for ids that
// need no escaping and for ids that would.
func TestConnectReply(t *testing.T) {
	for _, ids := range [][2]string{{"AbC-_0", ""}, {"AbC-_0", "pId_-9"}, {`/a"b#x`, ""}, {"x", "<&>"}} {
		want, _ := json.Marshal(struct {
			SID string `json:"sid"`
			PID string `json:"pid,omitempty"`
		}{ids[0], ids[1]})
		if got := connectReply(ids[0], ids[1]); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", ids, got, want)
		}
	}
}

// TestDisconnectCause checks the cause a socket's context ends with, for a reason of the
// package and for another.
func TestDisconnectCause(t *testing.T) {
	for _, r := range []DisconnectReason{ReasonPingTimeout, "custom"} {
		err := disconnectCauseOf(r)
		if !errors.Is(err, ErrDisconnected) || err.Error() != "socketio: socket disconnected: "+string(r) {
			t.Errorf("%q: %v", r, err)
		}
	}
}
