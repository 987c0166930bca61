package engineio

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/internal/logtest"
	"github.com/tether-rt/tether/internal/ratelog"
	"github.com/tether-rt/tether/websocket"
)

// checkAttrs fails t unless rec has each of want's keys with its value; a want of "*" asks
// only for a value that is not empty.
func checkAttrs(t *testing.T, rec logtest.Record, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got, ok := rec.Attrs[k]
		switch {
		case !ok:
			t.Errorf("%q: no %s attribute in %v", rec.Message, k, rec.Attrs)
		case v == "*" && (got == "" || got == "<nil>"):
			t.Errorf("%q: empty %s attribute in %v", rec.Message, k, rec.Attrs)
		case v != "*" && got != v:
			t.Errorf("%q: %s=%q, want %q", rec.Message, k, got, v)
		}
	}
}

// The end of a session is logged once, with the session's id, the reason, the transport it
// was on and the client's address: at info level when the client dropped for a reason an
// operator looks into (here a bad packet), at debug level when either side just closed.
func TestLogSessionEnd(t *testing.T) {
	var logs logtest.Recorder
	hs, reasons := echoServer(t, ServerOptions{PingInterval: time.Minute, Logger: logs.Logger()})

	o := handshakePolling(t, hs.URL)
	url := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + o.SID
	post(t, url, "9nonsense")
	if r := <-reasons; r != CloseParseError {
		t.Fatalf("reason %q", r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/engine.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, open, err := c.Read(ctx)
	if err != nil || len(open) == 0 {
		t.Fatalf("open: %q %v", open, err)
	}
	var wo openData
	if err := json.Unmarshal(open[1:], &wo); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseContext(ctx, websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if r := <-reasons; r != CloseTransportClose {
		t.Fatalf("reason %q", r)
	}

	ends := logs.Find("engineio: session closed")
	if len(ends) != 2 {
		t.Fatalf("%d session ends logged, want 2: %v", len(ends), logs.All())
	}
	byID := map[string]logtest.Record{}
	for _, rec := range ends {
		byID[rec.Attrs[logattr.SID]] = rec
	}
	polling, ok := byID[o.SID]
	if !ok {
		t.Fatalf("no session end logged for sid %s: %v", o.SID, ends)
	}
	if polling.Level != slog.LevelInfo {
		t.Errorf("a parse error logged at %v, want INFO", polling.Level)
	}
	checkAttrs(t, polling, map[string]string{logattr.Reason: string(CloseParseError),
		logattr.Transport: TransportPolling, logattr.Remote: "*", logattr.Err: "*"})
	ws, ok := byID[wo.SID]
	if !ok {
		t.Fatalf("no session end logged for sid %s: %v", wo.SID, ends)
	}
	if ws.Level != slog.LevelDebug {
		t.Errorf("a client's close logged at %v, want DEBUG", ws.Level)
	}
	checkAttrs(t, ws, map[string]string{logattr.Reason: string(CloseTransportClose),
		logattr.Transport: TransportWebSocket, logattr.Remote: "*"})
}

// A request for the websocket transport that is not a WebSocket handshake is refused by the
// websocket package, which logs nothing itself: the Engine.IO server logs it, with the
// client's address and the reason.
func TestLogWebSocketHandshakeRefused(t *testing.T) {
	var logs logtest.Recorder
	hs, _ := echoServer(t, ServerOptions{Logger: logs.Logger()})
	// An upgrade without its Sec-WebSocket-Key: past Engine.IO's checks, refused by Accept.
	req, err := http.NewRequest(http.MethodGet, hs.URL+"/engine.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	resp, err := boundedHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Fatalf("an upgrade without a key answered %d", resp.StatusCode)
	}
	refused := logs.Find("engineio: websocket handshake refused")
	if len(refused) != 1 {
		t.Fatalf("%d refusals logged, want 1: %v", len(refused), logs.All())
	}
	checkAttrs(t, refused[0], map[string]string{logattr.Remote: "*", logattr.Err: "*"})
}

// The info lines of sessions that ended badly go through a limiter, per reason, so that
// clients cannot flood the log; the debug lines of normal ends do not.
func TestLogSessionEndLimited(t *testing.T) {
	var logs logtest.Recorder
	reasons := make(chan CloseReason, 16)
	srv := NewServer(&ServerOptions{PingInterval: time.Minute, Logger: logs.Logger(),
		OnClose: func(_ *Session, r CloseReason, _ error) { reasons <- r }})
	srv.endLog = ratelog.New(time.Hour, 2) // two lines, then none for the test's life
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	for range 5 {
		o := handshakePolling(t, hs.URL)
		post(t, hs.URL+"/engine.io/?EIO=4&transport=polling&sid="+o.SID, "9nonsense")
		if r := <-reasons; r != CloseParseError {
			t.Fatalf("reason %q", r)
		}
	}
	for range 3 {
		o := handshakePolling(t, hs.URL)
		post(t, hs.URL+"/engine.io/?EIO=4&transport=polling&sid="+o.SID, "1")
		if r := <-reasons; r != CloseTransportClose {
			t.Fatalf("reason %q", r)
		}
	}
	var info, debug int
	for _, rec := range logs.Find("engineio: session closed") {
		switch rec.Level {
		case slog.LevelInfo:
			info++
		case slog.LevelDebug:
			debug++
		}
	}
	if info != 2 || debug != 3 {
		t.Fatalf("%d info and %d debug session ends logged, want 2 and 3: %v", info, debug, logs.All())
	}
}
