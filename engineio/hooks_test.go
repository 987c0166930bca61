package engineio

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// TestHeaderHooks checks that InitialHeaders reaches the handshake's answer alone, over both
// transports, and Headers every answer to a session's requests.
func TestHeaderHooks(t *testing.T) {
	hs, _ := echoServer(t, ServerOptions{
		InitialHeaders: func(h http.Header, r *http.Request) { h.Set("X-Initial", r.URL.Query().Get("transport")) },
		Headers:        func(h http.Header, r *http.Request) { h.Set("X-Every", r.Method) },
	})
	base := hs.URL + "/engine.io/?EIO=4&transport="

	resp, err := http.Get(base + "polling")
	if err != nil {
		t.Fatal(err)
	}
	var open openData
	body := readBody(t, resp)
	if err := json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open); err != nil {
		t.Fatalf("open packet %q: %v", body, err)
	}
	if got := resp.Header.Get("X-Initial") + " " + resp.Header.Get("X-Every"); got != "polling GET" {
		t.Fatalf("handshake headers: %q", got)
	}

	resp, err = http.Post(base+"polling&sid="+open.SID, "text/plain", strings.NewReader("4hi"))
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if got := resp.Header.Values("X-Initial"); len(got) != 0 || resp.Header.Get("X-Every") != "POST" {
		t.Fatalf("POST headers: X-Initial %q, X-Every %q", got, resp.Header.Get("X-Every"))
	}

	wsURL := "ws" + strings.TrimPrefix(base, "http") + "websocket"
	c, wsResp, err := websocket.Dial(testContext(t), wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if got := wsResp.Header.Get("X-Initial") + " " + wsResp.Header.Get("X-Every"); got != "websocket GET" {
		t.Fatalf("WebSocket handshake headers: %q", got)
	}
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConnectionErrorHook checks that each refusal reaches OnConnectionError with the code and
// message the client receives, Node's codes 0 to 5.
func TestConnectionErrorHook(t *testing.T) {
	var mu sync.Mutex
	var got []*RequestError
	hs, _ := echoServer(t, ServerOptions{
		Transports: []string{TransportPolling, TransportWebSocket},
		AllowRequest: func(r *http.Request) error {
			if r.URL.Query().Has("deny") {
				return errors.New("go away")
			}
			return nil
		},
		OnConnectionError: func(r *http.Request, err *RequestError) {
			mu.Lock()
			got = append(got, err)
			mu.Unlock()
		},
	})
	base := hs.URL + "/engine.io/?"
	tests := []struct {
		method, query string
		code          int
		message       string
		status        int
	}{
		{"GET", "EIO=4&transport=carrier-pigeon", CodeUnknownTransport, "Transport unknown", 400},
		{"GET", "EIO=4&transport=polling&sid=nope", CodeUnknownSession, "Session ID unknown", 400},
		{"POST", "EIO=4&transport=polling", CodeBadHandshakeMethod, "Bad handshake method", 400},
		{"GET", "EIO=4&transport=websocket", CodeBadRequest, "Bad request", 400},
		{"GET", "EIO=4&transport=polling&deny", CodeForbidden, "go away", 403},
		{"GET", "EIO=5&transport=polling", CodeUnsupportedProtocolVersion, "Unsupported protocol version", 400},
	}
	for _, tt := range tests {
		req, _ := http.NewRequestWithContext(testContext(t), tt.method, base+tt.query, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var answer struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal([]byte(readBody(t, resp)), &answer); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if len(got) != 1 {
			mu.Unlock()
			t.Fatalf("%s %s: %d hook calls", tt.method, tt.query, len(got))
		}
		e := got[0]
		got = nil
		mu.Unlock()
		if e.Code != tt.code || e.Message != tt.message || e.Status != tt.status || resp.StatusCode != tt.status ||
			answer.Code != e.Code || answer.Message != e.Message {
			t.Errorf("%s %s: hook %+v, answer %d %+v", tt.method, tt.query, *e, resp.StatusCode, answer)
		}
	}
	// A request the server accepts calls nothing.
	status, _ := get(t, base+"EIO=4&transport=polling")
	mu.Lock()
	defer mu.Unlock()
	if status != 200 || len(got) != 0 {
		t.Fatalf("accepted handshake: status %d, hook calls %v", status, got)
	}
}

// TestClientsCount checks that the count follows sessions opening and closing.
func TestClientsCount(t *testing.T) {
	ts := startTestServer(t, ServerOptions{PingInterval: 25 * time.Second})
	srv := ts.srv
	if n := srv.ClientsCount(); n != 0 {
		t.Fatalf("before: %d", n)
	}
	a, err := Dial(testContext(t), ts.url+"/engine.io/", &DialOptions{Transports: []string{TransportPolling}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Dial(testContext(t), ts.url+"/engine.io/", &DialOptions{Transports: []string{TransportWebSocket}})
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.ClientsCount(); n != 2 {
		t.Fatalf("two open: %d", n)
	}
	b.Close()
	<-ts.closed // the count drops before OnClose runs
	if n := srv.ClientsCount(); n != 1 {
		t.Fatalf("one closed: %d", n)
	}
}
