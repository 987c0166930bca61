package engineio

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// fakeServer is a scripted Engine.IO server for the failures our real server never shows:
// missing pings, garbage, refused probes.
type fakeServer struct {
	open     string                                          // the open packet's JSON
	poll     func(w http.ResponseWriter, r *http.Request)    // answers a GET with a sid
	ws       func(ctx context.Context, conn *websocket.Conn) // serves a WebSocket after the open packet
	wsRefuse bool                                            // answer WebSocket requests with 400
	wsTries  atomic.Int64
	posts    atomic.Int64 // POST bodies received
	pongs    atomic.Int64 // pongs among them
}

func (f *fakeServer) start(t *testing.T) string {
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close)
	return hs.URL
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("transport") == TransportWebSocket:
		f.wsTries.Add(1)
		if f.wsRefuse {
			http.Error(w, `{"code":3,"message":"Bad request"}`, http.StatusBadRequest)
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		if err := conn.Write(r.Context(), websocket.MessageText, []byte("0"+f.open)); err != nil {
			return
		}
		f.ws(r.Context(), conn)
	case r.Method == http.MethodPost:
		b, _ := io.ReadAll(r.Body)
		f.posts.Add(1)
		f.pongs.Add(int64(strings.Count(string(b), "3")))
		_, _ = io.WriteString(w, "ok")
	case q.Get("sid") == "":
		_, _ = io.WriteString(w, "0"+f.open)
	default:
		f.poll(w, r)
	}
}

// silentPoll never answers: no ping ever comes.
func silentPoll(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// silentWebSocket reads until the client goes away, sending nothing.
func silentWebSocket(ctx context.Context, conn *websocket.Conn) {
	for {
		if _, _, err := conn.Read(ctx); err != nil {
			return
		}
	}
}

const fakeOpen = `{"sid":"fake","upgrades":[],"pingInterval":50,"pingTimeout":50,"maxPayload":1000000}`

func TestClientPingTimeout(t *testing.T) {
	f := &fakeServer{open: fakeOpen, poll: silentPoll, ws: silentWebSocket}
	url := f.start(t)
	ctx := testContext(t)
	for _, transports := range [][]string{{TransportPolling}, {TransportWebSocket}} {
		t.Run(transports[0], func(t *testing.T) {
			c := dialTest(t, ctx, url, &DialOptions{Transports: transports})
			if c.ID() != "fake" {
				t.Fatalf("ID %q", c.ID())
			}
			if _, err := c.Read(ctx); !errors.Is(err, ClosePingTimeout) {
				t.Fatalf("Read: %v, want a ping timeout", err)
			}
		})
	}
}

func TestClientBadPayloads(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want CloseReason
	}{
		{"unknown-type", "9", CloseParseError},
		{"bad-base64", "b!!", CloseParseError},
		{"empty", "", CloseParseError},
		{"too-large", strings.Repeat("4", 2000), ClosePayloadTooLarge},
		{"close", "4a\x1e1", CloseTransportClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeServer{open: fakeOpen, ws: silentWebSocket, poll: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, tc.body)
			}}
			url := f.start(t)
			ctx := testContext(t)
			c := dialTest(t, ctx, url, &DialOptions{ReadLimit: 1000})
			var err error
			for range 2 {
				if _, err = c.Read(ctx); err != nil {
					break
				}
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestClientProbeRefused checks a session whose upgrade fails goes on over polling.
func TestClientProbeRefused(t *testing.T) {
	f := &fakeServer{
		open:     `{"sid":"fake","upgrades":["websocket"],"pingInterval":10000,"pingTimeout":10000,"maxPayload":1000000}`,
		wsRefuse: true,
		ws:       silentWebSocket,
	}
	f.poll = func(w http.ResponseWriter, r *http.Request) {
		if f.wsTries.Load() == 0 {
			_, _ = io.WriteString(w, "6") // a noop: poll again
			return
		}
		_, _ = io.WriteString(w, "2") // ping, answered by POST
	}
	url := f.start(t)
	ctx := testContext(t)
	c := dialTest(t, ctx, url, nil)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for f.pongs.Load() < 5 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("%d pongs after the refused probe", f.pongs.Load())
		}
	}
	if c.Transport() != TransportPolling {
		t.Fatalf("transport %q", c.Transport())
	}
}

func TestClientWebSocketHandshakeErrors(t *testing.T) {
	ctx := testContext(t)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		_ = conn.Write(r.Context(), websocket.MessageText, []byte(r.URL.Query().Get("reply")))
		_, _, _ = conn.Read(r.Context())
	}))
	defer hs.Close()
	for _, reply := range []string{"", "4hello", `0{"sid":""}`, `0{"sid":"x","pingInterval":0}`, "0{"} {
		_, err := Dial(ctx, hs.URL+"/?reply="+reply, &DialOptions{Transports: []string{TransportWebSocket}})
		if !errors.Is(err, errBadHandshake) {
			t.Errorf("reply %q: Dial error %v, want a bad handshake", reply, err)
		}
	}
}

// TestClientBrokenConnection checks a connection lost without a close is a transport error.
func TestClientBrokenConnection(t *testing.T) {
	f := &fakeServer{
		open: fakeOpen,
		poll: func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) },
		ws:   func(ctx context.Context, conn *websocket.Conn) {}, // returns: the connection drops
	}
	url := f.start(t)
	ctx := testContext(t)
	for _, transports := range [][]string{{TransportPolling}, {TransportWebSocket}} {
		c := dialTest(t, ctx, url, &DialOptions{Transports: transports})
		_, err := c.Read(ctx)
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Reason != CloseTransportError || ce.Err == nil {
			t.Fatalf("%v: Read: %v, want a transport error with its cause", transports, err)
		}
	}
}
