package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/internal/testenv"
	"github.com/tether-rt/tether/socketio"
	"github.com/tether-rt/tether/socketio/msgpackparser"
)

// The MessagePack parser (socketio/msgpackparser) against peers we did not write: the
// official socket.io-client and socket.io server with npm's socket.io-msgpack-parser, and
// python-socketio with its msgpack serializer. Each peer is also run against its own
// reference server with the same parser, so that a failure against Tether points at Tether.

// msgpackRuns are sio-client.mjs's scenarios with --parser=msgpack: every one in every
// transport mode, and with recovery on those that check offsets and missed events.
func msgpackRuns(recovery bool) []sioRun {
	runs := sioRuns(recovery)
	for i := range runs {
		runs[i].parser = "msgpack"
	}
	return runs
}

// TestSIOMsgpackNodeClientTether runs the official client with socket.io-msgpack-parser
// against tether testserver --parser msgpack: events with every shape of arguments (binary
// included), acknowledgements both ways, rooms, broadcasts, namespaces, a refused namespace,
// a server-side disconnect, large payloads, bursts; with --recovery too.
func TestSIOMsgpackNodeClientTether(t *testing.T) {
	requireNode(t)
	t.Parallel()
	for _, recovery := range []bool{false, true} {
		t.Run(fmt.Sprintf("recovery=%v", recovery), func(t *testing.T) {
			t.Parallel()
			flags := []string{"--parser", "msgpack"}
			if recovery {
				flags = append(flags, "--recovery")
			}
			runSIOClients(t, startTetherTestServer(t, flags...), msgpackRuns(recovery))
		})
	}
}

// TestSIOMsgpackNodeClientReference holds the same scenarios to Node's socket.io server with
// socket.io-msgpack-parser (sio-reference-server.mjs --parser msgpack), each in one transport
// mode, a different one from scenario to scenario.
func TestSIOMsgpackNodeClientReference(t *testing.T) {
	requireNode(t)
	t.Parallel()
	argv := []string{"node", "node/sio-reference-server.mjs", "0", "--parser", "msgpack"}
	url := startListening(t, "node sio-reference-server.mjs --parser msgpack", argv, "listening on ")
	var runs []sioRun
	for i, r := range msgpackRuns(false) {
		if i%len(sioTransports) == (i/len(sioTransports))%len(sioTransports) {
			runs = append(runs, r)
		}
	}
	runSIOClients(t, url, runs)
}

// TestSIOMsgpackJSONRefused: a client with the JSON parser cannot join a server with the
// MessagePack one (and the other way round): the scenarios above owe nothing to JSON.
func TestSIOMsgpackJSONRefused(t *testing.T) {
	requireNode(t)
	t.Parallel()
	url := startTetherTestServer(t, "--parser", "msgpack")
	if out, err := runSIOClient(testContext(t, 60*time.Second), url, "connect-auth", "--transport=websocket", "--timeout=2000"); err == nil {
		t.Fatalf("a JSON client joined a MessagePack server:\n%s", out)
	}
	c, err := socketio.NewClient(url, &socketio.ClientOptions{Transports: []string{"websocket"}, DisableReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err == nil {
		t.Fatal("a Go JSON client joined a MessagePack server")
	}
}

// TestGoClientMsgpackNode runs our client's scenarios with the MessagePack parser against
// Node's socket.io server with socket.io-msgpack-parser, in every transport mode.
func TestGoClientMsgpackNode(t *testing.T) {
	requireNode(t)
	t.Parallel()
	argv := []string{"node", "node/sio-reference-server.mjs", "0", "--parser", "msgpack"}
	url := startListening(t, "node sio-reference-server.mjs --parser msgpack", argv, "listening on ")
	for mode := range goClientTransports {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			runGoClientScenarios(t, url, mode, false, fullSizes, msgpackparser.Parser{})
		})
	}
}

// TestSIOMsgpackCluster: a Tether node and a Node node, both with the MessagePack parser,
// on one Redis (the classic pub/sub adapter). A broadcast or room message sent on either
// reaches the MessagePack clients of both. The adapters carry packets in their own format,
// JSON values with binary (Node's adapter writes them with notepack.io too, whatever the
// clients' parser): nothing of the adapter depends on the parser, and this test shows it.
func TestSIOMsgpackCluster(t *testing.T) {
	requireNode(t)
	r := redistest.Start(t)
	flags := []string{"--parser", "msgpack"}
	nodes := []*clusterNode{
		startClusterNode(t, r, "pubsub", "tether-a", false, flags...),
		startClusterNode(t, r, "pubsub", "node-b", true, flags...),
	}
	opts := func() *socketio.ClientOptions { return &socketio.ClientOptions{Parser: msgpackparser.Parser{}} }
	var clients []*clusterClient
	for _, n := range nodes {
		clients = append(clients, dialNode(t, n, "", "websocket", opts()), dialNode(t, n, "", "polling", opts()))
	}
	formCluster(t, "warmup", clients)
	t.Run("broadcast", func(t *testing.T) { testClusterBroadcast(t, clients) })
	t.Run("rooms", func(t *testing.T) { testClusterRooms(t, clients) })
}

// TestSIOMsgpackPythonClient runs python-socketio's scenarios with its msgpack serializer
// against tether testserver --parser msgpack, over every transport, and against
// python-socketio's own server with it.
func TestSIOMsgpackPythonClient(t *testing.T) {
	requireSIOPython(t)
	requireMsgpackPython(t)
	tether := startTetherTestServer(t, "--parser", "msgpack")
	// python-socketio 5.7.2's msgpack packets drop an ack id of 0 (MsgPackPacket writes "id"
	// only when it is truthy), so the client cannot answer the server's first request for an
	// acknowledgement, whoever the server: Node's and Tether's number them from 0. A Go client
	// takes that id first.
	first := newGoClient(t, tether, []string{"websocket"}, &socketio.ClientOptions{Parser: msgpackparser.Parser{}}, func(c *socketio.Client) {
		c.On("ack-me", func() string { return "taken" })
	})
	l := logEvents(first.ClientSocket)
	if err := first.Emit("request-ack"); err != nil {
		t.Fatal(err)
	}
	sameArgs(t, "ack-result", l.wait(t, "ack-result", nil), []any{"taken"})

	argv := []string{pythonPath, "python/sio_reference_server.py", "0", "--serializer=msgpack"}
	reference := startListening(t, "python-socketio reference server --serializer=msgpack", argv, sioReferenceListening)
	// The reference takes TestSIOPythonReference's cases: its aiohttp glue cuts long-polling
	// bodies that arrive in pieces (see pythonSizes), which every packet of 100 kB is with
	// MessagePack (binary, so base64 on polling).
	all := map[string][]string{"polling": sioPythonScenarios, "websocket": sioPythonScenarios, "upgrade": sioPythonScenarios}
	referenceCases := map[string][]string{
		"websocket": sioPythonScenarios,
		"polling":   {"rooms", "invalid-namespace"},
		"upgrade":   {"ack", "request-ack"},
	}
	for _, srv := range []struct {
		name, url string
		cases     map[string][]string
	}{{"tether", tether, all}, {"python", reference, referenceCases}} {
		t.Run(srv.name, func(t *testing.T) {
			for _, transport := range sioPythonTransports {
				for _, scenario := range srv.cases[transport] {
					t.Run(scenario+"/"+transport, func(t *testing.T) {
						if scenario != "broadcast" {
							t.Parallel()
						}
						runSIOPythonWith(t, srv.url, scenario, transport, "--serializer=msgpack")
					})
				}
			}
		})
	}
}

// requireMsgpackPython skips or fails the test, as requireSIOPython, without
// Debian's python3-msgpack.
func requireMsgpackPython(t *testing.T) {
	t.Helper()
	testenv.RequirePython(t, "msgpack")
}

// runSIOPythonWith runs one python-socketio scenario with extra flags.
func runSIOPythonWith(t *testing.T, url, scenario, transport string, flags ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := runClient(ctx, sioPythonPeer, url, scenario, append([]string{"--transport=" + transport}, flags...)...)
	if err != nil || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("python-socketio %s over %s %s: %v\n%s", scenario, transport, strings.Join(flags, " "), err, out)
	}
}
