package interop

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// sio2ClientPeer is npm's socket.io-client 2.5 (Engine.IO v3, Socket.IO protocol v4, installed
// as socket.io-client-v2) run by node/sio2-client.mjs against the test app served with
// --allow-eio3.
var sio2ClientPeer = peer{name: "node socket.io-client 2", client: []string{"node", "node/sio2-client.mjs"}}

// sio2Scenarios are sio2-client.mjs's scenarios for a server with --allow-eio3; "refused" is
// for one without.
var sio2Scenarios = []string{
	"connect-auth", "message", "message-with-ack", "request-ack", "large", "rooms",
	"custom-namespace", "two-namespaces", "disconnect-me", "invalid-namespace", "broadcast-mixed",
}

// sio2Base64 are the scenarios also run with --base64, where binary travels as base64 in text
// payloads and text frames.
var sio2Base64 = []string{"message", "request-ack", "large", "broadcast-mixed"}

// runSIO2Clients runs each scenario in each transport mode against url, several at a time,
// sharing sio-client.mjs's slots. A transport "T-base64" is T with --base64.
func runSIO2Clients(t *testing.T, url string, scenarios, transports []string) {
	t.Helper()
	var wg sync.WaitGroup
	for _, sc := range scenarios {
		for _, tr := range transports {
			wg.Go(func() {
				t.Run(sc+"/"+tr, func(t *testing.T) {
					ctx := testContext(t, 90*time.Second)
					select {
					case sioSlots <- struct{}{}:
					case <-ctx.Done():
						t.Fatal(ctx.Err())
					}
					defer func() { <-sioSlots }()
					args := []string{"--transport=" + tr}
					if mode, ok := strings.CutSuffix(tr, "-base64"); ok {
						args = []string{"--transport=" + mode, "--base64"}
					}
					out, err := runClient(ctx, sio2ClientPeer, url, sc, args...)
					if err != nil || !strings.Contains(out, "OK "+sc+"\n") {
						t.Errorf("sio2-client.mjs %s %s %s: %v", url, sc, strings.Join(args, " "), err)
						t.Log(out)
					}
				})
			})
		}
	}
	wg.Wait()
}

// TestSIO2NodeClientTether runs socket.io-client 2 against tether testserver --allow-eio3:
// events, acks both ways, binary, rooms, namespaces and a broadcast reaching a v2 and a v4
// client, over polling, WebSocket and upgrade.
func TestSIO2NodeClientTether(t *testing.T) {
	requireNode(t)
	t.Parallel()
	url := startTetherTestServer(t, "--allow-eio3")
	runSIO2Clients(t, url, sio2Scenarios, sioTransports)
	runSIO2Clients(t, url, sio2Base64, []string{"polling-base64", "websocket-base64"})
}

// TestSIO2NodeClientReference holds the same scenarios to Node's socket.io server with
// allowEIO3, so that a scenario failing against Tether points at Tether.
func TestSIO2NodeClientReference(t *testing.T) {
	requireNode(t)
	t.Parallel()
	url := startListening(t, "node sio-reference-server.mjs --allow-eio3",
		[]string{"node", "node/sio-reference-server.mjs", "0", "--allow-eio3"}, "listening on ")
	runSIO2Clients(t, url, sio2Scenarios, sioTransports)
	runSIO2Clients(t, url, sio2Base64, []string{"polling-base64", "websocket-base64"})
}

// TestSIO2NodeClientRefused checks that a server without the option refuses a v2 client with
// the error Node's gives: 400 {"code":5,"message":"Unsupported protocol version"}.
func TestSIO2NodeClientRefused(t *testing.T) {
	requireNode(t)
	t.Parallel()
	t.Run("tether", func(t *testing.T) {
		t.Parallel()
		runSIO2Clients(t, startTetherTestServer(t), []string{"refused"}, []string{"polling"})
	})
	t.Run("reference", func(t *testing.T) {
		t.Parallel()
		url := startListening(t, "node sio-reference-server.mjs",
			[]string{"node", "node/sio-reference-server.mjs", "0"}, "listening on ")
		runSIO2Clients(t, url, []string{"refused"}, []string{"polling"})
	})
}
