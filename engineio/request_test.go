package engineio

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"runtime"
	"testing"
	"time"
)

// TestRequestInfo checks that what a session keeps of its handshake request reads back as
// the request said it: target, query, every header value in order, address, TLS, and the
// context's values without its cancellation.
func TestRequestInfo(t *testing.T) {
	type key struct{}
	r := httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=websocket&token=a%20b&token=c", nil)
	r.Header = http.Header{
		"Accept":          {"*/*"},
		"X-Multi":         {"one", "two", "three"},
		"Cookie":          {"a=b; c=d"},
		"X-Colon":         {"a: b"},
		"X-Newline":       {"a\r\nb"},
		"Bad:key":         {"dropped"},
		"X-Empty":         {""},
		"Sec-Websocket-K": {"k"},
	}
	r.RemoteAddr = "192.0.2.1:1234"
	r.TLS = &tls.ConnectionState{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "user"))
	r = r.WithContext(ctx)
	ri := NewRequestInfo(r)
	cancel()

	if got := ri.URI(); got != "/engine.io/?EIO=4&transport=websocket&token=a%20b&token=c" {
		t.Errorf("URI %q", got)
	}
	if got := ri.Query()["token"]; !reflect.DeepEqual(got, []string{"a b", "c"}) {
		t.Errorf("query token %q", got)
	}
	want := http.Header{
		"Accept":          {"*/*"},
		"X-Multi":         {"one", "two", "three"},
		"Cookie":          {"a=b; c=d"},
		"X-Colon":         {"a: b"},
		"X-Newline":       {"a  b"},
		"X-Empty":         {""},
		"Sec-Websocket-K": {"k"},
	}
	h := ri.Header()
	if !reflect.DeepEqual(h, want) {
		t.Errorf("header\n got %q\nwant %q", h, want)
	}
	// The caller owns the map: an append to one key's values must not reach another's.
	h["X-Multi"] = append(h["X-Multi"], "four")
	if !reflect.DeepEqual(ri.Header(), want) {
		t.Errorf("a change to one Header's map reached the next: %q", ri.Header())
	}
	for k, vs := range h {
		if k != "X-Multi" && !reflect.DeepEqual(vs, want[k]) {
			t.Errorf("appending to X-Multi changed %s: %q", k, vs)
		}
	}
	if ri.RemoteAddr() != "192.0.2.1:1234" || !ri.Secure() || ri.Time().IsZero() {
		t.Errorf("remote %q secure %v time %v", ri.RemoteAddr(), ri.Secure(), ri.Time())
	}
	if ri.Context().Value(key{}) != "user" || ri.Context().Err() != nil {
		t.Errorf("context value %v err %v", ri.Context().Value(key{}), ri.Context().Err())
	}
}

// TestRequestInfoAbsoluteTarget checks that a request whose target is in absolute form keeps
// the origin form (path and query), as the layers above expect.
func TestRequestInfoAbsoluteTarget(t *testing.T) {
	r := httptest.NewRequest("GET", "http://example.com/socket.io/?EIO=4", nil)
	if got := NewRequestInfo(r).URI(); got != "/socket.io/?EIO=4" {
		t.Fatalf("URI %q", got)
	}
	if got := NewRequestInfo(r).Query().Get("EIO"); got != "4" {
		t.Fatalf("query EIO %q", got)
	}
}

// TestRequestQuery checks that requestQuery reads parameters as url.ParseQuery does,
// malformed pairs included.
func TestRequestQuery(t *testing.T) {
	raws := []string{
		"", "EIO=4&transport=websocket", "transport=polling&transport=websocket", "sid", "sid=",
		"a=1;b=2&sid=x", "sid=%zz&sid=ok", "%73id=esc&sid=later", "sid=a+b%20c", "&&sid=x&&", "j&EIO=3",
		"=v&sid=1", "b64=1&EIO=3", "sid=%",
	}
	keys := []string{"EIO", "transport", "sid", "j", "b64", ""}
	for _, raw := range raws {
		want, _ := url.ParseQuery(raw)
		q := requestQuery(raw)
		for _, k := range keys {
			if q.Get(k) != want.Get(k) || q.Has(k) != want.Has(k) {
				t.Errorf("%q: %q is %q (has %v), url.ParseQuery says %q (%v)", raw, k, q.Get(k), q.Has(k), want.Get(k), want.Has(k))
			}
		}
	}
}

// TestOpenPacket checks the handshake's answer against the JSON encoder's.
func TestOpenPacket(t *testing.T) {
	for _, opts := range []ServerOptions{{}, {DisableUpgrades: true}, {Transports: []string{TransportPolling}}, {PingInterval: 1500 * time.Millisecond, MaxPayload: 7}} {
		srv := NewServer(&opts)
		for _, canUpgrade := range []bool{false, true} {
			upgrades := []string{}
			if canUpgrade && !opts.DisableUpgrades && srv.transports[TransportWebSocket] {
				upgrades = append(upgrades, TransportWebSocket)
			}
			data, err := json.Marshal(struct {
				SID          string   `json:"sid"`
				Upgrades     []string `json:"upgrades"`
				PingInterval int64    `json:"pingInterval"`
				PingTimeout  int64    `json:"pingTimeout"`
				MaxPayload   int      `json:"maxPayload"`
			}{"AbC-_0", upgrades, srv.opts.PingInterval.Milliseconds(), srv.opts.PingTimeout.Milliseconds(), srv.opts.MaxPayload})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(srv.openPacket("AbC-_0", canUpgrade)), "0"+string(data); got != want {
				t.Errorf("%+v, canUpgrade %v:\n got %s\nwant %s", opts, canUpgrade, got, want)
			}
		}
	}
}

// TestSessionDropsHandshakeRequest checks that an open session keeps nothing of its handshake
// request but RequestInfo: the request and its URL become garbage once the handshake is
// answered, over WebSocket and over polling.
func TestSessionDropsHandshakeRequest(t *testing.T) {
	for _, transport := range []string{TransportWebSocket, TransportPolling} {
		t.Run(transport, func(t *testing.T) {
			opened := make(chan *Session, 1)
			srv := NewServer(&ServerOptions{PingInterval: time.Hour, PingTimeout: time.Hour, OnOpen: func(s *Session) { opened <- s }})
			gone := make(chan string, 2)
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("sid") == "" {
					runtime.AddCleanup(r, func(what string) { gone <- what }, "request")
					runtime.AddCleanup(r.URL, func(what string) { gone <- what }, "URL")
				}
				srv.ServeHTTP(w, r)
			}))
			defer hs.Close()
			defer srv.Shutdown(context.Background())
			c := dialTest(t, testContext(t), hs.URL+"/engine.io/?token=t0k", &DialOptions{Transports: []string{transport}})
			s := <-opened
			// Collect until both are gone: each round gives the cleanups a chance to run.
			// Without the fix, the session holds the URL for as long as it lives.
			var freed []string
			for range 200 {
				runtime.GC()
				select {
				case what := <-gone:
					freed = append(freed, what)
				case <-time.After(5 * time.Millisecond):
				}
				if len(freed) == 2 {
					break
				}
			}
			if len(freed) != 2 {
				t.Fatalf("after 200 collections, only %v of the handshake request were freed", freed)
			}
			if s.Request().Query().Get("token") != "t0k" || c.ID() != s.ID() {
				t.Fatalf("session %s (client %s) lost its request info: %q", s.ID(), c.ID(), s.Request().URI())
			}
		})
	}
}
