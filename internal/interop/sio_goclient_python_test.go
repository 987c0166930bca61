package interop

import (
	"testing"
)

// Our socketio.Client against python-socketio's server (Debian python3-socketio, aiohttp):
// python/sio_reference_server.py, the app of docs/TEST-SERVERS.md section 1 without recovery,
// which python-socketio does not have. The scenarios are those run against Node's server in
// sio_goclient_node_test.go.

// pythonSizes stay within what python-engineio 4.x (Debian's) accepts over long-polling: at
// most 16 packets in one request ("Too many packets in payload"), and a request body that
// arrives in one piece, since its aiohttp glue reads the body with one read(length), which
// returns what has arrived so far (a body written in several pieces is cut: "Incorrect
// padding"); Go's HTTP client writes through a 4 kB buffer.
var pythonSizes = scenarioSizes{burst: 10, text: 1000, binary: 500}

func TestGoClientPython(t *testing.T) {
	t.Parallel()
	requireSIOPython(t)
	url := startSIOReferenceServer(t)
	for mode := range goClientTransports {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			runGoClientScenarios(t, url, mode, false, pythonSizes, nil)
		})
	}
}

func TestGoClientPythonRestart(t *testing.T) {
	t.Parallel()
	requireSIOPython(t)
	for mode := range goClientTransports {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := &restartable{
				argv:   func(port string) []string { return []string{pythonPath, "python/sio_reference_server.py", port} },
				prefix: sioReferenceListening,
			}
			testReconnectAfterRestart(t, srv, mode)
		})
	}
}
