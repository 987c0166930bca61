package interop

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/testenv"
)

// sioPythonPeer is Debian's python-socketio 5.7.2 synchronous client, driven
// by python/sio_client.py.
var sioPythonPeer = peer{name: "python-socketio", client: []string{pythonPath, "python/sio_client.py"}}

// sioPythonScenarios are the scenarios of python/sio_client.py, in the
// order of docs/TEST-SERVERS.md section 1.
var sioPythonScenarios = []string{
	"auth", "no-auth", "message", "ack", "rooms", "broadcast", "request-ack",
	"disconnect-me", "custom", "multi", "invalid-namespace", "unknown-event",
}

// sioPythonTransports: polling only, WebSocket only, and polling upgraded
// to WebSocket inside connect().
var sioPythonTransports = []string{"polling", "websocket", "upgrade"}

// TestSIOPythonClient runs every python-socketio scenario over every
// transport against `tether testserver`.
func TestSIOPythonClient(t *testing.T) {
	requireSIOPython(t)
	url := startTetherTestServer(t)
	for _, transport := range sioPythonTransports {
		for _, scenario := range sioPythonScenarios {
			runSIOPythonSubtest(t, url, scenario, transport)
		}
	}
}

// runSIOPythonSubtest runs one scenario as a parallel subtest, except the
// broadcast scenario: broadcast-back reaches every client of the server, so
// those run one at a time, before the parallel ones start.
func runSIOPythonSubtest(t *testing.T, url, scenario, transport string) {
	t.Run(scenario+"/"+transport, func(t *testing.T) {
		if scenario != "broadcast" {
			t.Parallel()
		}
		runSIOPython(t, url, scenario, transport)
	})
}

// TestSIOPythonReference runs the scenarios against python-socketio's own
// server (python/sio_reference_server.py): they hold there, so a failure of
// TestSIOPythonClient is Tether's. WebSocket covers them all; polling and
// the upgrade take the ones that stress framing.
func TestSIOPythonReference(t *testing.T) {
	requireSIOPython(t)
	url := startSIOReferenceServer(t)
	cases := map[string][]string{
		"websocket": sioPythonScenarios,
		"polling":   {"message", "rooms", "invalid-namespace"},
		"upgrade":   {"ack", "request-ack"},
	}
	for _, transport := range sioPythonTransports {
		for _, scenario := range cases[transport] {
			runSIOPythonSubtest(t, url, scenario, transport)
		}
	}
}

func runSIOPython(t *testing.T, url, scenario, transport string) {
	t.Helper()
	// The script's own watchdog ends it after 40 s; this is the backstop.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := runClient(ctx, sioPythonPeer, url, scenario, "--transport="+transport)
	if err != nil || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("python-socketio %s over %s: %v\n%s", scenario, transport, err, out)
	}
}

// requireSIOPython skips the test (or fails it, under TETHER_INTEGRATION=1)
// without what python-socketio's client and server import: Debian's
// python3-socketio, python3-aiohttp, python3-requests and python3-websocket.
func requireSIOPython(t *testing.T) {
	t.Helper()
	testenv.RequirePython(t, "socketio", "aiohttp", "requests", "websocket")
}

// sioReferenceListening is what python/sio_reference_server.py prints,
// followed by its URL, once it accepts connections.
const sioReferenceListening = "listening on "

// startSIOReferenceServer starts python/sio_reference_server.py on a free
// port and returns its base URL, http://127.0.0.1:PORT; see startListening.
func startSIOReferenceServer(t *testing.T) string {
	t.Helper()
	argv := []string{pythonPath, "python/sio_reference_server.py", "0"}
	return startListening(t, "python-socketio reference server", argv, sioReferenceListening)
}
