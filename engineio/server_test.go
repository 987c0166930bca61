package engineio

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// echoServer starts an Engine.IO server that sends every message back and records close reasons.
func echoServer(t *testing.T, opts ServerOptions) (*httptest.Server, <-chan CloseReason) {
	t.Helper()
	reasons := make(chan CloseReason, 64)
	opts.OnMessage = func(s *Session, m Message) { _ = s.Send(NewPreparedMessage(m.Data, m.Binary)) }
	opts.OnClose = func(s *Session, r CloseReason, _ error) { reasons <- r }
	srv := NewServer(&opts)
	serversMu.Lock()
	servers = append(servers, srv)
	serversMu.Unlock()
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return hs, reasons
}

// boundedHTTP bounds the requests of get and post, so that a poll the server never answers
// fails its test rather than hanging the package until the test binary's timeout.
var boundedHTTP = &http.Client{Timeout: 30 * time.Second}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := boundedHTTP.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := boundedHTTP.Post(url, "text/plain;charset=UTF-8", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type openData struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func handshakePolling(t *testing.T, base string) openData {
	t.Helper()
	code, body := get(t, base+"/engine.io/?EIO=4&transport=polling")
	if code != 200 || !strings.HasPrefix(body, "0") {
		t.Fatalf("handshake: %d %q", code, body)
	}
	var o openData
	if err := json.Unmarshal([]byte(body[1:]), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestPollingEcho(t *testing.T) {
	hs, reasons := echoServer(t, ServerOptions{PingInterval: time.Minute})
	o := handshakePolling(t, hs.URL)
	if len(o.SID) != 20 || o.MaxPayload != 1_000_000 || o.PingInterval != 60000 || len(o.Upgrades) != 1 || o.Upgrades[0] != "websocket" {
		t.Fatalf("open packet %+v", o)
	}
	url := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + o.SID
	if code, body := post(t, url, "4hello\x1ebAQID\x1e4é"); code != 200 || body != "ok" {
		t.Fatalf("post: %d %q", code, body)
	}
	if code, body := get(t, url); code != 200 || body != "4hello\x1ebAQID\x1e4é" {
		t.Fatalf("poll: %d %q", code, body)
	}
	if code, _ := post(t, url, "1"); code != 200 {
		t.Fatal("close")
	}
	if r := <-reasons; r != CloseTransportClose {
		t.Fatalf("reason %q", r)
	}
}

func TestProtocolErrors(t *testing.T) {
	hs, _ := echoServer(t, ServerOptions{AllowRequest: func(r *http.Request) error {
		if r.URL.Query().Get("token") == "bad" {
			return errForbiddenTest
		}
		return nil
	}})
	cases := []struct {
		method, query string
		status, code  int
	}{
		{"GET", "EIO=4&transport=carrier-pigeon", 400, 0},
		{"GET", "EIO=4&transport=polling&sid=nope", 400, 1},
		{"POST", "EIO=4&transport=polling", 400, 2},
		{"GET", "EIO=3&transport=polling", 400, 5},
		{"GET", "transport=polling", 400, 5},
		{"GET", "EIO=4&transport=polling&token=bad", 403, 4},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, hs.URL+"/engine.io/?"+tc.query, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tc.status || e.Code != tc.code || e.Message == "" {
			t.Errorf("%s %s: %d %+v %v", tc.method, tc.query, resp.StatusCode, e, err)
		}
	}
}

var errForbiddenTest = &testError{"no entry"}

type testError struct{ s string }

func (e *testError) Error() string { return e.s }

func TestWebSocketEchoAndUpgrade(t *testing.T) {
	hs, reasons := echoServer(t, ServerOptions{PingInterval: 50 * time.Millisecond, PingTimeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/engine.io/?EIO=4&transport=websocket"

	// Direct WebSocket: open packet first, pings answered, messages echoed.
	c, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(ctx)
	if err != nil || !strings.HasPrefix(string(b), `0{"sid":`) || !strings.Contains(string(b), `"upgrades":[]`) {
		t.Fatalf("open: %q %v", b, err)
	}
	c.Write(ctx, websocket.MessageText, []byte("4hi"))
	c.Write(ctx, websocket.MessageBinary, []byte{1, 2})
	var got []string
	for len(got) < 2 {
		typ, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == "2" {
			c.Write(ctx, websocket.MessageText, []byte("3"))
			continue
		}
		got = append(got, typ.String()+":"+string(b))
	}
	if got[0] != "text:4hi" || got[1] != "binary:\x01\x02" {
		t.Fatalf("echo %q", got)
	}
	c.Close(websocket.StatusNormalClosure, "")
	if r := <-reasons; r != CloseTransportClose {
		t.Fatalf("reason %q", r)
	}

	// Polling, then upgrade with a poll pending.
	o := handshakePolling(t, hs.URL)
	pollURL := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + o.SID
	var wg sync.WaitGroup
	wg.Add(1)
	var pollBody string
	go func() {
		defer wg.Done()
		for {
			_, body := get(t, pollURL)
			if body != "2" {
				pollBody = body
				return
			}
			post(t, pollURL, "3")
		}
	}()
	u, _, err := websocket.Dial(ctx, wsURL+"&sid="+o.SID, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer u.CloseNow()
	u.Write(ctx, websocket.MessageText, []byte("2probe"))
	if _, b, err := u.Read(ctx); err != nil || string(b) != "3probe" {
		t.Fatalf("probe answer %q %v", b, err)
	}
	wg.Wait()
	if pollBody != "6" {
		t.Fatalf("pending poll released with %q", pollBody)
	}
	u.Write(ctx, websocket.MessageText, []byte("5"))
	u.Write(ctx, websocket.MessageText, []byte("4after upgrade"))
	for {
		_, b, err := u.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == "2" {
			u.Write(ctx, websocket.MessageText, []byte("3"))
			continue
		}
		if string(b) != "4after upgrade" {
			t.Fatalf("got %q", b)
		}
		break
	}
	if code, _ := get(t, pollURL); code != 400 {
		t.Fatalf("polling after upgrade: %d", code)
	}
}

func TestPingTimeout(t *testing.T) {
	hs, reasons := echoServer(t, ServerOptions{PingInterval: 20 * time.Millisecond, PingTimeout: 20 * time.Millisecond})
	handshakePolling(t, hs.URL)
	if r := <-reasons; r != ClosePingTimeout {
		t.Fatalf("reason %q", r)
	}
}

func TestPayloadTooLarge(t *testing.T) {
	hs, reasons := echoServer(t, ServerOptions{MaxPayload: 100})
	o := handshakePolling(t, hs.URL)
	url := hs.URL + "/engine.io/?EIO=4&transport=polling&sid=" + o.SID
	if code, _ := post(t, url, "4"+strings.Repeat("x", 100)); code != 413 {
		t.Fatalf("status %d", code)
	}
	if r := <-reasons; r != ClosePayloadTooLarge {
		t.Fatalf("reason %q", r)
	}
}

type httptestServer = httptest.Server

func newHTTPTest(h http.Handler) *httptest.Server { return httptest.NewServer(h) }
