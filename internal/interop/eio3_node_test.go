package interop

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// eio3ClientPeer is the engine.io-client 3.5 under npm socket.io-client 2.5, run by
// node/eio3-client.mjs against an echo server that allows Engine.IO v3.
var eio3ClientPeer = peer{name: "node engine.io-client 3", client: []string{"node", "node/eio3-client.mjs"}}

// runEIO3Clients runs eio3-client.mjs's scenarios against url in every transport mode, with
// binary as binary and as base64, several at a time.
func runEIO3Clients(t *testing.T, url string) {
	t.Helper()
	var wg sync.WaitGroup
	for _, sc := range []string{"echo", "large"} {
		for _, tr := range sioTransports {
			for _, b64 := range []bool{false, true} {
				args := []string{"--transport=" + tr}
				name := sc + "/" + tr
				if b64 {
					args = append(args, "--base64")
					name += "-base64"
				}
				wg.Go(func() {
					t.Run(name, func(t *testing.T) {
						ctx := testContext(t, 60*time.Second)
						select {
						case sioSlots <- struct{}{}:
						case <-ctx.Done():
							t.Fatal(ctx.Err())
						}
						defer func() { <-sioSlots }()
						out, err := runClient(ctx, eio3ClientPeer, url, sc, args...)
						if err != nil || !strings.Contains(out, "OK "+sc+"\n") {
							t.Errorf("eio3-client.mjs %s %s %s: %v\n%s", url, sc, strings.Join(args, " "), err, out)
						}
					})
				})
			}
		}
	}
	wg.Wait()
}

// TestEIO3NodeClientTether runs engine.io-client 3 against tether testserver --allow-eio3's
// Engine.IO echo endpoint: v3 payload framing (UTF-16 lengths, binary payloads, base64),
// v3 WebSocket frames, the client's heartbeat and the upgrade.
func TestEIO3NodeClientTether(t *testing.T) {
	requireNode(t)
	t.Parallel()
	runEIO3Clients(t, startTetherTestServer(t, "--allow-eio3")+"/engine.io/")
}

// TestEIO3NodeClientReference runs the same against Node's engine.io server with allowEIO3.
func TestEIO3NodeClientReference(t *testing.T) {
	requireNode(t)
	t.Parallel()
	srv := startPeerServer(t, eioServerPeer, []string{"--allow-eio3"})
	runEIO3Clients(t, "http://"+srv.addr+"/engine.io/")
}
