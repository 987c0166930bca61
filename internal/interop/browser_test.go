package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/testenv"
	"github.com/tether-rt/tether/websocket"
)

// chromiumPath is Debian's Chromium, which make deps installs, unless
// TETHER_CHROMIUM names another (see testenv.Chromium).
var chromiumPath = testenv.Chromium()

// browserPeer is Debian's headless Chromium, driven by node/browser.mjs
// through playwright-core. The pages it opens (node/browser/) use the
// browser's own WebSocket and the browser bundle of the npm engine.io-client.
var browserPeer = peer{name: "chromium", client: []string{"node", "node/browser.mjs"}}

// browserResult is what a page published as window.__result.
type browserResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`

	Extensions string `json:"extensions"` // WebSocket.extensions once open
	Messages   int    `json:"messages"`   // messages echoed
	Opened     bool   `json:"opened"`     // the open event fired
	Errored    bool   `json:"errored"`    // the error event fired
	Close      struct {
		Code        int    `json:"code"` // WebSocket CloseEvent
		Reason      string `json:"reason"`
		WasClean    bool   `json:"wasClean"`
		Description string `json:"description"` // engine.io-client's close event
	} `json:"close"`

	OpenTransport string `json:"openTransport"` // engine.io-client transports: at open,
	UpgradedTo    string `json:"upgradedTo"`    // in the upgrade event,
	Transport     string `json:"transport"`     // before closing
}

// runBrowser runs one scenario of node/browser.mjs, with its pages at base,
// and returns what the page reported. A failed scenario fails the test.
func runBrowser(t *testing.T, base, scenario string, args ...string) browserResult {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	args = append([]string{"--chromium=" + chromiumPath, "--tmpdir=" + t.TempDir()}, args...)
	out, err := runClient(ctx, browserPeer, base, scenario, args...)
	var res browserResult
	var parseErr error = errors.New("no RESULT line")
	for line := range strings.Lines(out) {
		if j, ok := strings.CutPrefix(line, "RESULT "); ok {
			parseErr = json.Unmarshal([]byte(j), &res)
		}
	}
	if err != nil || parseErr != nil || !strings.Contains(out, "OK "+scenario+"\n") {
		t.Fatalf("%s scenario %s %q failed (exit: %v, result: %v), output:\n%s", browserPeer.name, scenario, args, err, parseErr, out)
	}
	t.Logf("the page reported %+v", res)
	return res
}

// wsConnLog is what our WebSocket handler saw of one connection, found by the
// "id" query parameter the page sends.
type wsConnLog struct {
	status    int   // HTTP status of the handshake's answer
	acceptErr error // from websocket.Accept
	end       error // what the handler's serve function returned
	done      chan struct{}
}

// wsLogs serves WebSocket handlers that record every connection.
type wsLogs struct {
	mu    sync.Mutex
	conns map[string]*wsConnLog
}

// handler upgrades with opts and runs serve on the connection, for at most
// 30 s.
func (l *wsLogs) handler(opts *websocket.AcceptOptions, serve func(context.Context, *websocket.Conn) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := &wsConnLog{done: make(chan struct{})}
		defer close(c.done)
		l.mu.Lock()
		l.conns[r.URL.Query().Get("id")] = c
		l.mu.Unlock()

		sw := &statusWriter{ResponseWriter: w}
		conn, err := websocket.Accept(sw, r, opts)
		l.mu.Lock()
		c.status, c.acceptErr = sw.status, err
		l.mu.Unlock()
		if err != nil {
			return
		}
		defer conn.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		err = serve(ctx, conn)
		l.mu.Lock()
		c.end = err
		l.mu.Unlock()
	}
}

// wait returns the record of connection id once its handler returned. The
// browser has exited by then, so a connection not seen yet never will be.
func (l *wsLogs) wait(t *testing.T, id string) wsConnLog {
	t.Helper()
	l.mu.Lock()
	c := l.conns[id]
	l.mu.Unlock()
	if c == nil {
		t.Fatalf("our WebSocket handler never saw connection %s", id)
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		t.Fatalf("our WebSocket handler for connection %s did not return within 10s of the browser's exit", id)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return wsConnLog{status: c.status, acceptErr: c.acceptErr, end: c.end}
}

// waitAll waits for every handler to return, when the servers are closed.
func (l *wsLogs) waitAll(t *testing.T) {
	l.mu.Lock()
	conns := maps.Clone(l.conns) // unlocked while waiting: handlers lock to record
	l.mu.Unlock()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for id, c := range conns {
		select {
		case <-c.done:
		case <-timer.C:
			t.Errorf("our WebSocket handler for connection %s still runs 10s after the test", id)
			return
		}
	}
}

// statusWriter records the status of the answer; Unwrap lets Accept reach
// the connection underneath to hijack it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// closeAfterOne reads one message, then closes the connection from our side
// with 1001.
func closeAfterOne(ctx context.Context, conn *websocket.Conn) error {
	if _, _, err := conn.Read(ctx); err != nil {
		return err
	}
	return conn.Close(websocket.StatusGoingAway, "server going away")
}

// browserSite is what the browser talks to: two origins on loopback, both
// serving the pages of node/browser/.
type browserSite struct {
	url   string // also the engine.io-client bundle at /eio/, /ws/* and /engine.io/
	other string // another origin, pages only
	ws    *wsLogs
	eio   *ourEIOServer
}

// startBrowserSite starts the two servers; they are closed when t ends.
func startBrowserSite(t *testing.T) *browserSite {
	t.Helper()
	site := &browserSite{ws: &wsLogs{conns: make(map[string]*wsConnLog)}}
	site.eio = startOurEIOServer(t, tolerantPings)

	pages := http.FileServer(http.Dir("node/browser"))
	other := httptest.NewServer(pages)
	otherHost := other.Listener.Addr().String()

	const readLimit = 4 << 20 // above the pages' 1 MiB messages
	mux := http.NewServeMux()
	mux.Handle("/", pages)
	mux.Handle("/eio/", http.StripPrefix("/eio/", http.FileServer(http.Dir("node/node_modules/engine.io-client/dist"))))
	mux.Handle("/ws/echo", site.ws.handler(&websocket.AcceptOptions{ReadLimit: readLimit}, echo))
	mux.Handle("/ws/echo-deflate", site.ws.handler(&websocket.AcceptOptions{
		ReadLimit:   readLimit,
		Compression: websocket.CompressionContextTakeover,
	}, echo))
	mux.Handle("/ws/echo-cross", site.ws.handler(&websocket.AcceptOptions{
		ReadLimit:      readLimit,
		OriginPatterns: []string{otherHost},
	}, echo))
	mux.Handle("/ws/close", site.ws.handler(nil, closeAfterOne))
	mux.Handle("/engine.io/", site.eio.srv)
	srv := httptest.NewServer(mux)

	t.Cleanup(func() {
		// After Close no handler starts; hijacked connections end with the browser.
		srv.Close()
		other.Close()
		site.ws.waitAll(t)
	})
	site.url, site.other = srv.URL, other.URL
	return site
}

func newBrowserID(prefix string) string { return fmt.Sprintf("%s%d", prefix, connIDs.Add(1)) }

// TestBrowserWebSocket runs Chromium's WebSocket against websocket.Accept.
func TestBrowserWebSocket(t *testing.T) {
	requireBrowser(t)
	site := startBrowserSite(t)
	wsURL := "ws" + strings.TrimPrefix(site.url, "http")

	echoed := func(t *testing.T, res browserResult, c wsConnLog) {
		t.Helper()
		if res.Messages == 0 {
			t.Errorf("the page echoed no messages")
		}
		if res.Close.Code != 1000 || !res.Close.WasClean {
			t.Errorf("the page's close event: %+v, want code 1000, clean", res.Close)
		}
		checkClose(t, "our handler's last read", c.end, websocket.StatusNormalClosure, "done", false)
	}

	t.Run("echo", func(t *testing.T) {
		id := newBrowserID("br")
		shot := filepath.Join(t.TempDir(), "ws-echo.png")
		res := runBrowser(t, site.url, "ws-echo", "--id="+id, "--path=/ws/echo", "--screenshot="+shot)
		echoed(t, res, site.ws.wait(t, id))
		if res.Extensions != "" {
			t.Errorf("extensions %q negotiated, want none: the server does not enable compression", res.Extensions)
		}
		png, err := os.ReadFile(shot)
		if err != nil || len(png) < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("screenshot %s: %d bytes, error %v; want a PNG", shot, len(png), err)
		}
	})

	t.Run("echo-deflate", func(t *testing.T) {
		id := newBrowserID("br")
		res := runBrowser(t, site.url, "ws-echo", "--id="+id, "--path=/ws/echo-deflate")
		echoed(t, res, site.ws.wait(t, id))
		if !strings.Contains(res.Extensions, "permessage-deflate") {
			t.Errorf("WebSocket.extensions = %q, want permessage-deflate: Chromium offers it and the server enables it", res.Extensions)
		}
	})

	t.Run("close-from-browser", func(t *testing.T) {
		id := newBrowserID("br")
		res := runBrowser(t, site.url, "ws-close-client", "--id="+id, "--path=/ws/echo")
		checkClose(t, "our handler's last read", site.ws.wait(t, id).end, 4000, "bye", false)
		// The close frame we answer with carries the same code.
		if res.Close.Code != 4000 || !res.Close.WasClean {
			t.Errorf("the page's close event: %+v, want code 4000, clean", res.Close)
		}
	})

	t.Run("close-from-server", func(t *testing.T) {
		id := newBrowserID("br")
		res := runBrowser(t, site.url, "ws-close-server", "--id="+id, "--path=/ws/close")
		if err := site.ws.wait(t, id).end; err != nil {
			t.Errorf("our Close(1001): %v, want nil (the browser answers the close frame)", err)
		}
		if res.Close.Code != 1001 || res.Close.Reason != "server going away" || !res.Close.WasClean {
			t.Errorf(`the page's close event: %+v, want code 1001, reason "server going away", clean`, res.Close)
		}
	})

	t.Run("cross-origin-refused", func(t *testing.T) {
		id := newBrowserID("br")
		res := runBrowser(t, site.other, "ws-refused", "--id="+id, "--target="+wsURL+"/ws/echo")
		c := site.ws.wait(t, id)
		if c.acceptErr == nil || c.status != http.StatusForbidden {
			t.Errorf("our Accept: status %d, error %v; want 403 and an error", c.status, c.acceptErr)
		}
		if res.Opened || !res.Errored || res.Close.Code != 1006 || res.Close.WasClean {
			t.Errorf("the page: opened %v, error event %v, close event %+v; want no open, an error event, close 1006 not clean", res.Opened, res.Errored, res.Close)
		}
	})

	t.Run("cross-origin-allowed", func(t *testing.T) {
		id := newBrowserID("br")
		res := runBrowser(t, site.other, "ws-echo", "--id="+id, "--target="+wsURL+"/ws/echo-cross")
		echoed(t, res, site.ws.wait(t, id))
	})
}

// TestBrowserEngineIO runs the npm engine.io-client's browser bundle, in
// Chromium, against engineio.Server.
func TestBrowserEngineIO(t *testing.T) {
	requireBrowser(t)
	site := startBrowserSite(t)
	tests := []struct {
		name, scenario, transports string
		open, upgradedTo, close    string // transports: at open, in the upgrade event, at the end
		clientReason               string // what the page's close event says
		serverReason               engineio.CloseReason
	}{
		{"polling", "eio-echo", "polling", "polling", "", "polling", "forced close", engineio.CloseTransportClose},
		{"websocket", "eio-echo", "websocket", "websocket", "", "websocket", "forced close", engineio.CloseTransportClose},
		{"upgrade", "eio-echo", "polling,websocket", "polling", "websocket", "websocket", "forced close", engineio.CloseTransportClose},
		{"server-close/polling", "eio-server-close", "polling", "polling", "", "polling", "transport close", engineio.CloseServerClose},
		{"server-close/websocket", "eio-server-close", "websocket", "websocket", "", "websocket", "transport close", engineio.CloseServerClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := newBrowserID("breio")
			res := runBrowser(t, site.url, tt.scenario, "--id="+id, "--transports="+tt.transports)
			if res.OpenTransport != tt.open || res.UpgradedTo != tt.upgradedTo || res.Transport != tt.close {
				t.Errorf("the page's transports: %q at open, %q in the upgrade event, %q at the end; want %q, %q, %q",
					res.OpenTransport, res.UpgradedTo, res.Transport, tt.open, tt.upgradedTo, tt.close)
			}
			if res.Close.Reason != tt.clientReason {
				t.Errorf("the page's close event: %+v, want reason %q", res.Close, tt.clientReason)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			site.eio.check(t, ctx, id, tt.serverReason, tt.open, tt.close, fmt.Sprintf("%+v", res))
		})
	}
}
