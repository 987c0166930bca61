package engineio

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
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
