package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tether-rt/tether/socketio"
	"github.com/tether-rt/tether/websocket"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// echoServer is a WebSocket server answering every message with alter(message).
func echoServer(t *testing.T, alter func([]byte) []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, alter(msg)); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/echo"
}

// sioServer is a Socket.IO server with the test server's message, message-with-ack
// and broadcast events, and a /private namespace that refuses everyone.
func sioServer(t *testing.T) string {
	t.Helper()
	io := socketio.NewServer(nil)
	io.OnConnect(func(s *socketio.Socket) { s.Emit("auth", map[string]any{}) }) // noise the clients must ignore
	io.On("message", func(s *socketio.Socket, args socketio.Args) { s.Emit("message-back", args) })
	io.On("message-with-ack", func(ack socketio.Ack, args socketio.Args) { ack(args) })
	io.On("broadcast", func(s *socketio.Socket, args socketio.Args) { s.Broadcast().Emit("broadcast-back", args) })
	io.Of("/private").Use(func(*socketio.Socket) error { return &socketio.ConnectError{Message: "go away"} })
	srv := httptest.NewServer(io)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		srv.Close()
	})
	return srv.URL
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func short(c Config) Config {
	c.Duration, c.Warmup, c.Settle = 300*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	return c
}

func TestScenarios(t *testing.T) {
	wsURL := echoServer(t, func(b []byte) []byte { return b })
	sioURL := sioServer(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"ws-echo", Config{Scenario: WSEcho, URL: wsURL, Conns: 8, Inflight: 3}},
		{"ws-echo/workers", Config{Scenario: WSEcho, URL: wsURL, Conns: 8, Workers: 2, Sources: 3, Size: 70000}},
		{"sio-echo", Config{Scenario: SIOEcho, URL: sioURL, Conns: 8, Inflight: 2}},
		{"sio-ack", Config{Scenario: SIOAck, URL: sioURL, Conns: 8, Inflight: 4, Workers: 2}},
		{"broadcast", Config{Scenario: Broadcast, URL: sioURL, Conns: 20, Workers: 2, Inflight: 2}},
		{"broadcast/interval", Config{Scenario: Broadcast, URL: sioURL, Conns: 20, Interval: 20 * time.Millisecond}},
		{"connect/sio", Config{Scenario: Connect, URL: sioURL, Conns: 4}},
		{"connect/ws", Config{Scenario: Connect, Proto: "ws", URL: wsURL, Conns: 4, Workers: 2}},
		{"connect/hold", Config{Scenario: Connect, URL: sioURL, Conns: 4, Hold: true, Total: 30, Workers: 2}},
		{"idle/sio", Config{Scenario: Idle, URL: sioURL, Conns: 30, Workers: 2}},
		{"idle/ws", Config{Scenario: Idle, Proto: "ws", URL: wsURL, Conns: 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := short(tc.cfg)
			cfg.PID = os.Getpid()
			res, err := (&Runner{}).Run(testCtx(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors != 0 || res.Ops == 0 || res.Server == nil || res.Server.RSSBefore == 0 {
				t.Fatalf("result: %+v", res)
			}
			switch cfg.Scenario {
			case Idle:
				if res.Ops != int64(cfg.Conns) {
					t.Fatalf("%d connections open, want %d", res.Ops, cfg.Conns)
				}
			case Broadcast:
				if res.Broadcasts == 0 || res.Ops < res.Broadcasts*int64(cfg.Conns) || res.Latency == nil {
					t.Fatalf("result: %+v", res)
				}
			default:
				if res.Latency == nil || res.Latency.P50 <= 0 || res.Latency.P50 > res.Latency.Max || res.Seconds <= 0 {
					t.Fatalf("latency %+v in %vs", res.Latency, res.Seconds)
				}
			}
			if cfg.Hold && res.Ops != int64(cfg.Total) {
				t.Fatalf("held %d connections, want %d", res.Ops, cfg.Total)
			}
			var table strings.Builder
			if err := res.WriteTable(&table); err != nil || !strings.Contains(table.String(), string(cfg.Scenario)) {
				t.Fatalf("table %q: %v", table.String(), err)
			}
		})
	}
}

func TestWrongEchoIsCounted(t *testing.T) {
	url := echoServer(t, func(b []byte) []byte { return append(b, '!') })
	res, err := (&Runner{}).Run(testCtx(t), short(Config{Scenario: WSEcho, URL: url, Conns: 3}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 3 || !strings.Contains(res.FirstError, errBadReply.Error()) || res.Ops != 0 {
		t.Fatalf("errors %d (%q), ops %d; want 3 bad replies", res.Errors, res.FirstError, res.Ops)
	}
}

func TestSetupFailures(t *testing.T) {
	sioURL := sioServer(t)
	wsURL := echoServer(t, func(b []byte) []byte { return b })
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Scenario: SIOEcho, URL: sioURL, Namespace: "/private"}, "refused"},
		{Config{Scenario: SIOEcho, URL: sioURL, Path: "/nowhere/"}, "handshake: the server answered \"HTTP/1.1 4"},
		{Config{Scenario: SIOEcho, URL: wsURL, HandshakeTimeout: time.Second}, "engine.io handshake"},
		{Config{Scenario: WSEcho, URL: "ws://127.0.0.1:1/"}, "connection refused"},
	} {
		_, err := (&Runner{}).Run(testCtx(t), short(tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s on %s%s: error %v, want one containing %q", tc.cfg.Scenario, tc.cfg.URL, tc.cfg.Path, err, tc.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Scenario: "flood"}, "unknown scenario"},
		{Config{Scenario: WSEcho, Proto: "sio"}, "needs --proto ws"},
		{Config{Scenario: Broadcast, Proto: "ws"}, "needs --proto sio"},
		{Config{Scenario: SIOEcho, URL: "https://example.test"}, "TLS"},
		{Config{Scenario: SIOEcho, URL: "ftp://x"}, "expected ws://"},
		{Config{Scenario: Broadcast, Size: 10}, "at least 40"},
		{Config{Scenario: SIOEcho, Namespace: "chat"}, "must start with /"},
	} {
		if err := tc.cfg.Normalize(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
	c := Config{Scenario: Idle, Conns: 19000, URL: "http://127.0.0.1:3000"}
	if err := c.Normalize(); err != nil || c.Workers != 2 || c.Sources != 2 || c.Proto != "sio" {
		t.Errorf("19,000 idle connections: %d workers, %d sources, proto %q (%v)", c.Workers, c.Sources, c.Proto, err)
	}
	c = Config{Scenario: Connect, Conns: 50, URL: "http://[::1]:3000"}
	if err := c.Normalize(); err != nil || c.Workers != 1 || c.Sources != 1 {
		t.Errorf("connect to ::1: %d workers, %d sources (%v)", c.Workers, c.Sources, err)
	}
}

func TestBroadcastArg(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	b := broadcastArg(nil, 42, at, 64)
	if len(b) != 64 {
		t.Fatalf("len %d", len(b))
	}
	seq, sent, ok := parseBroadcastArg(b)
	if !ok || seq != 42 || sent != at.UnixNano() {
		t.Fatalf("parsed %d %d %v from %q", seq, sent, ok, b)
	}
	for _, bad := range []string{"x:y:z", "1:2", "1::", ":2:", "12345678901234567890:1:"} {
		if _, _, ok := parseBroadcastArg([]byte(bad)); ok {
			t.Fatalf("parsed %q", bad)
		}
	}
	if n := testing.AllocsPerRun(100, func() { parseBroadcastArg(b) }); n != 0 {
		t.Fatalf("parsing a broadcast's argument makes %.0f allocations", n)
	}
}
