package socketio

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/tether-rt/tether/engineio"
)

// TestEngineHooksThroughServer checks that ServerOptions hands Engine.IO's hooks down, and
// that ClientsCount counts connections rather than sockets.
func TestEngineHooksThroughServer(t *testing.T) {
	var initial, every atomic.Int32
	var refused atomic.Int32
	ts := startClientServer(t, &ServerOptions{
		InitialHeaders: func(http.Header, *http.Request) { initial.Add(1) },
		Headers:        func(http.Header, *http.Request) { every.Add(1) },
		OnConnectionError: func(_ *http.Request, err *engineio.RequestError) {
			if err.Code == engineio.CodeUnknownTransport {
				refused.Add(1)
			}
		},
	}, clientEchoApp)
	c := dialTest(t, ts.url, &ClientOptions{Transports: []string{engineio.TransportWebSocket}}, nil)
	if err := c.Of("/custom", nil).Connect(clientCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := ts.io.ClientsCount(); n != 1 {
		t.Fatalf("ClientsCount with one connection in two namespaces: %d", n)
	}
	if initial.Load() != 1 || every.Load() != 1 {
		t.Fatalf("header hooks: initial %d, every %d", initial.Load(), every.Load())
	}
	resp, err := http.Get(ts.url + "/socket.io/?EIO=4&transport=smoke-signals")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || refused.Load() != 1 {
		t.Fatalf("refused request: status %d, hook calls %d", resp.StatusCode, refused.Load())
	}
}
