package socketio

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClientTLSAndCookies checks that ClientOptions.TLSConfig and Jar reach the WebSocket
// transport as well as polling: over TLS with a private CA, a cookie in the jar goes with the
// WebSocket handshake, and the server's sticky cookie lands in the jar.
func TestClientTLSAndCookies(t *testing.T) {
	io := NewServer(&ServerOptions{Cookie: &http.Cookie{Name: "io", Path: "/"}})
	io.On("ping", func() string { return "pong" })
	var mu sync.Mutex
	cookies := map[string][]string{} // transport → Cookie headers received
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tr := r.URL.Query().Get("run") + "/" + r.URL.Query().Get("transport")
		cookies[tr] = append(cookies[tr], r.Header.Get("Cookie"))
		mu.Unlock()
		io.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		io.Shutdown(ctx)
		hs.Close()
	})
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())

	for name, transports := range clientTransports {
		t.Run(name, func(t *testing.T) {
			jar, _ := cookiejar.New(nil)
			u, _ := url.Parse(hs.URL)
			jar.SetCookies(u, []*http.Cookie{{Name: "lb", Value: "node-7"}})
			c := dialTest(t, hs.URL, &ClientOptions{Transports: transports, TLSConfig: &tls.Config{RootCAs: roots}, Jar: jar, Query: url.Values{"run": {name}}}, nil)
			if a, err := c.EmitWithAck(clientCtx(t), "ping"); err != nil || a.Len() != 1 {
				t.Fatalf("ack %v, %v", a, err)
			}
			sticky := ""
			for _, ck := range jar.Cookies(u) {
				if ck.Name == "io" {
					sticky = ck.Value
				}
			}
			if sticky == "" {
				t.Fatalf("the server's cookie is not in the jar: %v", jar.Cookies(u))
			}
			mu.Lock()
			defer mu.Unlock()
			ws, polls := cookies[name+"/websocket"], cookies[name+"/polling"]
			if transports != nil && transports[0] == "websocket" {
				if len(ws) != 1 || ws[0] != "lb=node-7" {
					t.Fatalf("WebSocket handshake cookies: %q", ws)
				}
			}
			if len(polls) > 0 {
				// After the handshake, every poll and the upgrade carry the sticky cookie.
				for _, h := range append(polls[1:], ws...) {
					if !strings.Contains(h, "lb=node-7") || !strings.Contains(h, "io="+sticky) {
						t.Fatalf("request cookies %q, want lb and io=%s", h, sticky)
					}
				}
			}
		})
	}
}
