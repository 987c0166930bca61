package main

import (
	"net"
	"strings"
	"testing"
)

// Tests of "tether connect" in Socket.IO mode, against the test server of
// docs/TEST-SERVERS.md section 1 (startSIOServer).

func TestConnectSIOEmit(t *testing.T) {
	url := "http://" + startSIOServer(t, testServerConfig{})
	for _, transport := range []string{"", "polling", "websocket"} {
		args := []string{"connect", url, "--emit", "message", `"hello"`, `{"a":[1,2]}`, "--wait", "1s"}
		if transport != "" {
			args = append(args, "--transport", transport)
		}
		code, stdout, stderr := runCmd(t, nil, args...)
		if want := "auth {}\nmessage-back \"hello\" {\"a\":[1,2]}\n"; code != 0 || stdout != want || stderr != "" {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want 0, %q", args, code, stdout, stderr, want)
		}
	}
}

func TestConnectSIOAck(t *testing.T) {
	url := "http://" + startSIOServer(t, testServerConfig{})
	code, stdout, stderr := runCmd(t, nil, "connect", "--ack", url, `"hi"`, "2", "--emit", "message-with-ack", "--", "null")
	if code != 0 || stdout != "\"hi\" 2 null\n" || stderr != "" {
		t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// The server ignores unknown events: no acknowledgement, exit 1.
	code, stdout, stderr = runCmd(t, nil, "connect", url, "--emit", "unknown", "--ack", "--timeout", "300ms")
	if want := "tether connect: no acknowledgement of \"unknown\" within 300ms\n"; code != 1 || stdout != "" || stderr != want {
		t.Fatalf("code %d, stdout %q, stderr %q, want 1 and %q", code, stdout, stderr, want)
	}
}

func TestConnectSIONamespaceAndAuth(t *testing.T) {
	url := "http://" + startSIOServer(t, testServerConfig{})
	code, stdout, stderr := runCmd(t, nil, "connect", url, "--namespace", "/custom", "--auth", `{"token":"t"}`, "--emit", "x", "--wait", "500ms")
	if code != 0 || stdout != "auth {\"token\":\"t\"}\n" || stderr != "" {
		t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// The URL's path is the namespace, as for the JavaScript client.
	code, stdout, _ = runCmd(t, nil, "connect", url+"/custom", "--emit", "x", "--wait", "500ms")
	if code != 0 || stdout != "auth {}\n" {
		t.Fatalf("code %d, stdout %q", code, stdout)
	}
	code, stdout, stderr = runCmd(t, nil, "connect", url, "--namespace", "/nope", "--emit", "x")
	if want := "tether connect: connection refused: Invalid namespace\n"; code != 1 || stdout != "" || stderr != want {
		t.Fatalf("code %d, stdout %q, stderr %q, want 1 and %q", code, stdout, stderr, want)
	}
}

func TestConnectSIOServerDisconnect(t *testing.T) {
	url := "http://" + startSIOServer(t, testServerConfig{})
	code, stdout, stderr := runCmd(t, nil, "connect", url, "--emit", "disconnect-me", "--wait", "10s")
	if code != 0 || stdout != "auth {}\n" || stderr != "disconnected: io server disconnect\n" {
		t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestConnectSIOInteractive(t *testing.T) {
	url := "http://" + startSIOServer(t, testServerConfig{})
	// Every line is acknowledged: the command ends as soon as the last ack is
	// in, whatever --wait. The server answers in order, so message-back comes
	// before the acknowledgement of the line after it.
	in := strings.NewReader("message-with-ack {\"a\":1} [true]\n\nbad [\njoin \"room\"\n")
	code, stdout, stderr := runCmd(t, in, "connect", "--socketio", url, "--wait", "30s")
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	want := map[string]bool{"auth {}": true, `ack message-with-ack {"a":1} [true]`: true, `ack join "room"`: true}
	if len(got) != len(want) || got[0] != "auth {}" {
		t.Fatalf("stdout %q", stdout)
	}
	for _, l := range got {
		if !want[l] {
			t.Fatalf("unexpected line %q in %q", l, stdout)
		}
	}
	if !strings.Contains(stderr, `"bad [": arguments must be JSON values`) || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("stderr %q", stderr)
	}

	// An event without acknowledgement: what it causes is printed, and the
	// command waits --wait for an answer that does not come.
	in = strings.NewReader("message \"x\" 1\nmessage-with-ack 2\n")
	code, stdout, stderr = runCmd(t, in, "connect", url, "--wait", "1s", "--transport", "websocket")
	if want := "auth {}\nmessage-back \"x\" 1\nack message-with-ack 2\n"; code != 0 || stdout != want || stderr != "" {
		t.Fatalf("code %d, stdout %q, stderr %q, want %q", code, stdout, stderr, want)
	}
}

func TestConnectSIOErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{closed, "--emit", "x"}, 1, "cannot connect to the Socket.IO server at " + closed},
		{[]string{"--socketio"}, 2, "missing URL"},
		{[]string{closed, `"json"`}, 2, "JSON arguments go with --emit"},
		{[]string{closed, "--emit", "x", "hello"}, 2, `argument "hello" is not JSON`},
		{[]string{closed, "--ack"}, 2, "--ack goes with --emit"},
		{[]string{closed, "--transport", "carrier-pigeon"}, 2, "want polling or websocket"},
		{[]string{closed, "--auth", "[1]"}, 2, "not a JSON object"},
		{[]string{closed, "--header", "nocolon"}, 2, "bad header"},
		{[]string{"--socketio", "ftp://x"}, 2, "unsupported URL scheme"},
	} {
		code, stdout, stderr := runCmd(t, nil, append([]string{"connect"}, tt.args...)...)
		if code != tt.code || stdout != "" || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want %d and %q", tt.args, code, stdout, stderr, tt.code, tt.want)
		}
	}
}

func TestIsSocketIO(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"http://h:1"}, true},
		{[]string{"--send", "x", "https://h"}, true},
		{[]string{"--socketio", "ws://h"}, true},
		{[]string{"-socketio=true", "ws://h"}, true},
		{[]string{"--emit", "x", "--", "http://h", "1"}, true},
		{[]string{"ws://h", "--send", "http://x"}, false},
		{[]string{"--send", "http://x", "ws://h"}, false},
		{[]string{"--send=http://x", "ws://h"}, false},
		{[]string{"ws://h"}, false},
		{[]string{"ws://h", "--", "http://x"}, false},
		{[]string{"--socketio=false", "http://h"}, false},
		{nil, false},
	} {
		if got := isSocketIO(tt.args); got != tt.want {
			t.Errorf("isSocketIO(%q) = %v", tt.args, got)
		}
	}
}
