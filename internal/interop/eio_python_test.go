package interop

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/testenv"
)

// TestPythonEngineIOClient runs Debian's python-engineio client against our Engine.IO server,
// with the test server's short ping interval so that pings cross every scenario. The ping
// timeout is longer than the test server's 200 ms: the Python client answers a ping only once
// its writer has finished the POST in progress (a 100 kB one, in echo), which a busy CI machine
// running the race-enabled server can take longer than 200 ms to read.
func TestPythonEngineIOClient(t *testing.T) {
	testenv.RequirePython(t, "engineio", "requests", "websocket")
	// Close reasons by the case name the client puts in its query.
	var mu sync.Mutex
	reasons := map[string]chan engineio.CloseReason{}
	reasonOf := func(name string) chan engineio.CloseReason {
		mu.Lock()
		defer mu.Unlock()
		if reasons[name] == nil {
			reasons[name] = make(chan engineio.CloseReason, 1)
		}
		return reasons[name]
	}
	srv := engineio.NewServer(&engineio.ServerOptions{
		PingInterval: 300 * time.Millisecond,
		PingTimeout:  time.Second,
		OnMessage: func(s *engineio.Session, m engineio.Message) {
			if !m.Binary && string(m.Data) == "close-me" {
				_ = s.Close()
				return
			}
			_ = s.Send(engineio.NewPreparedMessage(m.Data, m.Binary))
		},
		OnClose: func(s *engineio.Session, r engineio.CloseReason, _ error) {
			reasonOf(s.Request().Query().Get("case")) <- r
		},
	})
	// Poll answers sent compressed (gzip or deflate, as the client's Accept-Encoding takes).
	var compressed atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r)
		if w.Header().Get("Content-Encoding") != "" {
			compressed.Add(1)
		}
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	py := peer{name: "python-engineio", client: []string{pythonPath, "python/eio_client.py"}}
	cases := []struct {
		scenario, transports string
		reason               engineio.CloseReason
		compressed           bool // the 100 kB echoes come back compressed
	}{
		{"echo", "polling", engineio.CloseTransportClose, true},
		{"echo", "websocket", engineio.CloseTransportClose, false},
		{"burst", "polling", engineio.CloseTransportClose, false},
		{"upgrade", "polling,websocket", engineio.CloseTransportClose, false},
		{"server-close", "polling", engineio.CloseServerClose, false},
		{"server-close", "websocket", engineio.CloseServerClose, false},
	}
	for _, tc := range cases {
		t.Run(tc.scenario+"/"+strings.ReplaceAll(tc.transports, ",", "+"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			before := compressed.Load()
			out, err := runClient(ctx, py, hs.URL, tc.scenario, tc.transports)
			if err != nil || !strings.Contains(out, "OK") {
				t.Fatalf("%v\n%s", err, out)
			}
			if tc.compressed && compressed.Load() == before {
				t.Error("no poll answer was compressed, though python-engineio accepts gzip")
			}
			select {
			case r := <-reasonOf(tc.scenario + "-" + strings.ReplaceAll(tc.transports, ",", "_")):
				if r != tc.reason {
					t.Fatalf("server saw close reason %q, want %q", r, tc.reason)
				}
			case <-ctx.Done():
				t.Fatal("the server never saw the session close")
			}
		})
	}
}
