package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tether-rt/tether/internal/loadgen"
)

// TestBenchAgainstTestServer runs "tether bench" with real worker processes
// (this test binary, see TestMain) against the test server and the echo server.
func TestBenchAgainstTestServer(t *testing.T) {
	sio := startSIOServer(t, testServerConfig{})
	ws := startEcho(t, echoConfig{raw: true})
	for _, args := range [][]string{
		{"sio-echo", "--url", "http://" + sio, "--conns", "4", "--workers", "2"},
		{"sio-ack", "--url", "http://" + sio, "--conns", "3", "--inflight", "2"},
		{"broadcast", "--url", "http://" + sio, "--conns", "6", "--workers", "2", "--size", "100"},
		{"ws-echo", "--url", "ws://" + ws + "/", "--conns", "2"},
		{"connect", "--url", "http://" + sio, "--conns", "2"},
		{"idle", "--proto", "ws", "--url", "ws://" + ws + "/", "--conns", "20", "--workers", "2"},
	} {
		args = append([]string{"bench"}, args...)
		args = append(args, "--duration", "300ms", "--warmup", "100ms", "--settle", "100ms", "--json")
		code, stdout, stderr := runCmd(t, nil, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
		var res loadgen.Result
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("%q: %v in %q", args, err, stdout)
		}
		if res.Ops == 0 || res.Errors != 0 || string(res.Scenario) != args[1] || stderr != "" {
			t.Fatalf("%q: %+v, stderr %q", args, res, stderr)
		}
	}
}

func TestBenchTable(t *testing.T) {
	sio := startSIOServer(t, testServerConfig{})
	code, stdout, stderr := runCmd(t, nil, "bench", "sio-echo", "--url", "http://"+sio, "--conns", "2",
		"--duration", "200ms", "--warmup", "0s")
	if code != 0 || !strings.Contains(stdout, "echoes") || !strings.Contains(stdout, "p99.9") ||
		!strings.Contains(stderr, "sio-echo:") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

func TestBenchUsage(t *testing.T) {
	checkRuns(t, []runCase{
		{args: []string{"bench"}, code: 2, wantStderr: "name one scenario: ws-echo, sio-echo"},
		{args: []string{"bench", "flood"}, code: 2, wantStderr: `unknown scenario "flood"`},
		{args: []string{"bench", "ws-echo", "--proto", "sio"}, code: 2, wantStderr: "needs --proto ws"},
		{args: []string{"bench", "-h"}, code: 0, wantStdout: "broadcast  --conns idle subscribers"},
		{args: []string{"bench", "ws-echo", "--url", "ws://127.0.0.1:1/", "--duration", "1ms"}, code: 1,
			wantStderr: "opening connections: worker 0: connection"},
	})
}
