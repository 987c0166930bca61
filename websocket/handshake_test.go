package websocket

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAcceptKey(t *testing.T) {
	// The example of RFC 6455 section 1.3.
	if got := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("got %q", got)
	}
}

// TestAcceptRefusals checks the HTTP answers to requests that are not valid upgrades.
func TestAcceptRefusals(t *testing.T) {
	valid := func() http.Header {
		return http.Header{
			"Upgrade":               {"websocket"},
			"Connection":            {"keep-alive, Upgrade"},
			"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
			"Sec-Websocket-Version": {"13"},
		}
	}
	cases := []struct {
		name   string
		method string
		edit   func(http.Header)
		opts   *AcceptOptions
		status int
		body   string
	}{
		{"POST", "POST", func(http.Header) {}, nil, 405, "GET"},
		{"no Upgrade", "GET", func(h http.Header) { h.Del("Upgrade") }, nil, 426, "Upgrade"},
		{"no Connection", "GET", func(h http.Header) { h.Del("Connection") }, nil, 426, "Connection"},
		{"version 8", "GET", func(h http.Header) { h.Set("Sec-Websocket-Version", "8") }, nil, 426, "13"},
		{"no key", "GET", func(h http.Header) { h.Del("Sec-Websocket-Key") }, nil, 400, "Key"},
		{"short key", "GET", func(h http.Header) { h.Set("Sec-Websocket-Key", "c2hvcnQ=") }, nil, 400, "16 bytes"},
		// 24 bytes: longer than the array the key is decoded into.
		{"long key", "GET", func(h http.Header) { h.Set("Sec-Websocket-Key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") }, nil, 400, "16 bytes"},
		// 24 characters without padding are 18 bytes.
		{"unpadded key", "GET", func(h http.Header) { h.Set("Sec-Websocket-Key", "AAAAAAAAAAAAAAAAAAAAAAAA") }, nil, 400, "16 bytes"},
		{"key not base64", "GET", func(h http.Header) { h.Set("Sec-Websocket-Key", "!!!!!!!!!!!!!!!!!!!!!!==") }, nil, 400, "16 bytes"},
		{"two keys", "GET", func(h http.Header) { h.Add("Sec-Websocket-Key", "dGhlIHNhbXBsZSBub25jZQ==") }, nil, 400, "exactly one"},
		{"cross origin", "GET", func(h http.Header) { h.Set("Origin", "http://evil.example") }, nil, 403, "evil.example"},
		{"origin not matching pattern", "GET", func(h http.Header) { h.Set("Origin", "https://evil.example") },
			&AcceptOptions{OriginPatterns: []string{"*.good.example"}}, 403, "OriginPatterns"},
		{"malformed extensions", "GET", func(h http.Header) { h.Set("Sec-Websocket-Extensions", "permessage-deflate; =1") },
			&AcceptOptions{Compression: CompressionContextTakeover}, 400, "Extensions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var acceptErr error
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, acceptErr = Accept(w, r, tc.opts)
			}))
			defer srv.Close()
			req, _ := http.NewRequest(tc.method, srv.URL, nil)
			req.Header = valid()
			tc.edit(req.Header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := make([]byte, 1024)
			n, _ := resp.Body.Read(body)
			if resp.StatusCode != tc.status || !strings.Contains(string(body[:n]), tc.body) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body[:n], tc.status, tc.body)
			}
			if acceptErr == nil {
				t.Fatal("Accept returned no error")
			}
		})
	}
}

func TestOriginPatterns(t *testing.T) {
	cases := []struct {
		origin, host string
		patterns     []string
		ok           bool
	}{
		{"", "a.example", nil, true},
		{"http://a.example", "a.example", nil, true},
		{"http://A.example", "a.example", nil, true},
		{"http://b.example", "a.example", nil, false},
		{"http://b.example", "a.example", []string{"b.example"}, true},
		{"http://x.b.example", "a.example", []string{"*.b.example"}, true},
		{"http://b.example:8080", "a.example", []string{"b.example"}, false},
		{"http://b.example:8080", "a.example", []string{"b.example:*"}, true},
		{"https://b.example", "a.example", []string{"https://b.example"}, true},
		{"http://b.example", "a.example", []string{"https://b.example"}, false},
		{"http://anything", "a.example", []string{"*"}, true},
		{"null", "a.example", nil, false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "http://"+tc.host+"/", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if err := checkOrigin(r, tc.patterns); (err == nil) != tc.ok {
			t.Errorf("origin %q host %q patterns %q: err %v, want ok=%v", tc.origin, tc.host, tc.patterns, err, tc.ok)
		}
	}
}

func TestSubprotocolNegotiation(t *testing.T) {
	url, _ := echoServer(t, &AcceptOptions{Subprotocols: []string{"chat.v1", "chat.v2"}})
	for _, tc := range []struct {
		offer []string
		want  string
	}{
		{[]string{"chat.v2", "chat.v1"}, "chat.v2"}, // the client's preference wins
		{[]string{"other", "chat.v1"}, "chat.v1"},
		{[]string{"other"}, ""},
		{nil, ""},
	} {
		c := dial(t, url, &DialOptions{Subprotocols: tc.offer})
		if c.Subprotocol() != tc.want {
			t.Errorf("offer %q: got %q, want %q", tc.offer, c.Subprotocol(), tc.want)
		}
		c.CloseNow()
	}
}

// wrappingWriter is logging middleware's ResponseWriter: it hides Hijack but has Unwrap.
type wrappingWriter struct {
	http.ResponseWriter
	status int
}

func (w *wrappingWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *wrappingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestAcceptBehindMiddleware: the upgrade works through a wrapper, which sees the 101.
func TestAcceptBehindMiddleware(t *testing.T) {
	statuses := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := &wrappingWriter{ResponseWriter: w}
		c, err := Accept(ww, r, nil)
		statuses <- ww.status
		if err != nil {
			return
		}
		_ = echo(c)
	}))
	defer srv.Close()
	c := dial(t, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if s := <-statuses; s != http.StatusSwitchingProtocols {
		t.Fatalf("middleware saw status %d", s)
	}
	ctx := testCtx(t)
	if err := c.Write(ctx, MessageText, []byte("through middleware")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || string(b) != "through middleware" {
		t.Fatalf("%q %v", b, err)
	}
}

// opaqueWriter hides Hijack and has no Unwrap: Accept must refuse cleanly, not panic.
type opaqueWriter struct{ w http.ResponseWriter }

func (o opaqueWriter) Header() http.Header         { return o.w.Header() }
func (o opaqueWriter) Write(b []byte) (int, error) { return o.w.Write(b) }
func (o opaqueWriter) WriteHeader(code int)        { o.w.WriteHeader(code) }

func TestAcceptWithoutHijacker(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = Accept(opaqueWriter{w}, r, nil)
	}))
	defer srv.Close()
	_, resp, err := Dial(testCtx(t), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 500 || !strings.Contains(string(he.Body), "hijack") {
		t.Fatalf("got %v", err)
	}
	if resp == nil || resp.StatusCode != 500 {
		t.Fatal("response not returned")
	}
}

func TestDialErrors(t *testing.T) {
	ctx := testCtx(t)
	// A plain HTTP server: the handshake error carries status and body.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no websockets here", http.StatusNotFound)
	}))
	defer srv.Close()
	_, _, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 404 || !strings.Contains(err.Error(), "no websockets here") {
		t.Fatalf("got %v", err)
	}

	for _, bad := range []string{"http://example.com/", "ws://", "::not a url"} {
		if _, _, err := Dial(ctx, bad, nil); err == nil || !strings.Contains(err.Error(), "invalid URL") {
			t.Errorf("%q: got %v", bad, err)
		}
	}

	// A port where nothing listens.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	if _, _, err := Dial(ctx, "ws://"+addr, nil); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("refused: got %v", err)
	}
}

// TestDialBadResponses: a 101 answer that breaks the rules is refused with a reason.
func TestDialBadResponses(t *testing.T) {
	cases := []struct {
		name, extra, reason string
		badAccept           bool
	}{
		{"wrong accept", "", "Sec-WebSocket-Accept", true},
		{"unoffered subprotocol", "Sec-WebSocket-Protocol: nope\r\n", "not offered", false},
		{"unoffered extension", "Sec-WebSocket-Extensions: permessage-deflate\r\n", "not offered", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				nc, err := l.Accept()
				if err != nil {
					return
				}
				defer nc.Close()
				req, err := http.ReadRequest(bufio.NewReader(nc))
				if err != nil {
					return
				}
				accept := acceptKey(req.Header.Get("Sec-WebSocket-Key"))
				if tc.badAccept {
					accept = "AAAA"
				}
				_, _ = nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
					"Sec-WebSocket-Accept: " + accept + "\r\n" + tc.extra + "\r\n"))
			}()
			_, _, err = Dial(testCtx(t), "ws://"+l.Addr().String(), nil)
			var he *HandshakeError
			if !errors.As(err, &he) || !strings.Contains(he.Reason, tc.reason) {
				t.Fatalf("got %v, want reason containing %q", err, tc.reason)
			}
		})
	}
}

// TestDialContextCancel: a server that never answers the handshake does not hang Dial.
func TestDialContextCancel(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := l.Accept()
		if err == nil {
			accepted <- nc
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := Dial(ctx, "ws://"+l.Addr().String(), nil)
		errc <- err
	}()
	nc := <-accepted
	defer nc.Close()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

// TestDialTLS connects over wss:// to a TLS server, where reads go through the TLS layer.
func TestDialTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		_ = echo(c)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below is expected
	srv.StartTLS()
	defer srv.Close()
	url := "wss" + strings.TrimPrefix(srv.URL, "https")
	tlsConfig := srv.Client().Transport.(*http.Transport).TLSClientConfig
	c := dial(t, url, &DialOptions{TLSConfig: tlsConfig})
	ctx := testCtx(t)
	for _, n := range []int{5, 70000} {
		msg := strings.Repeat("s", n)
		if err := c.Write(ctx, MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, b, err := c.Read(ctx); err != nil || string(b) != msg {
			t.Fatalf("%d bytes: %v", len(b), err)
		}
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	// Without the server's certificate the TLS handshake fails with a clear error.
	if _, _, err := Dial(ctx, url, nil); err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Fatalf("untrusted certificate: %v", err)
	}
}

// TestAcceptWithMessage: the first message arrives with the response, which carries the
// header fields set through the ResponseWriter (a value's line break cannot split it), and a
// wrapper's WriteHeader is not called, as documented.
func TestAcceptWithMessage(t *testing.T) {
	statuses := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := &wrappingWriter{ResponseWriter: w}
		ww.Header().Set("X-Session", "abc\r\nX-Injected: 1")
		ww.Header().Set("Connection", "close") // replaced by the handshake's, as with Accept
		c, err := AcceptWithMessage(ww, r, &AcceptOptions{Subprotocols: []string{"chat"}}, MessageText, []byte("hello first"))
		statuses <- ww.status
		if err != nil {
			return
		}
		_ = echo(c)
	}))
	defer srv.Close()
	ctx := testCtx(t)
	c, resp, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &DialOptions{Subprotocols: []string{"other", "chat"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if c.Subprotocol() != "chat" || len(resp.Header.Values("Connection")) != 1 {
		t.Fatalf("subprotocol %q, Connection %q", c.Subprotocol(), resp.Header.Values("Connection"))
	}
	if s := <-statuses; s != 0 {
		t.Fatalf("middleware saw status %d, want no WriteHeader call", s)
	}
	if got := resp.Header.Get("X-Session"); got != "abc  X-Injected: 1" || resp.Header.Get("X-Injected") != "" {
		t.Fatalf("X-Session %q, X-Injected %q", got, resp.Header.Get("X-Injected"))
	}
	if typ, b, err := c.Read(ctx); err != nil || typ != MessageText || string(b) != "hello first" {
		t.Fatalf("first message: %v %q %v", typ, b, err)
	}
	// The connection goes on as after Accept.
	if err := c.Write(ctx, MessageText, []byte("echo me")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || string(b) != "echo me" {
		t.Fatalf("%q %v", b, err)
	}
}

// TestAcceptWithMessageRefusesInvalidText: a text message that is not UTF-8 is the server's
// mistake: refused with 500 before any handshake, not sent.
func TestAcceptWithMessageRefusesInvalidText(t *testing.T) {
	errs := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := AcceptWithMessage(w, r, nil, MessageText, []byte{0xff})
		errs <- err
	}))
	defer srv.Close()
	_, resp, err := Dial(testCtx(t), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("dial: %v, %v", resp, err)
	}
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("AcceptWithMessage: %v", err)
	}
}
