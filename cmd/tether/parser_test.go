package main

import (
	"strings"
	"testing"
)

// TestParserMsgpack runs "tether testserver --parser msgpack" and talks to it with "tether
// connect --parser msgpack" over each transport; a JSON client is refused.
func TestParserMsgpack(t *testing.T) {
	addr, _ := runTestServerCmd(t, 1, "--parser", "msgpack", "--ping-timeout", "5s")
	url := "http://" + addr
	for _, transport := range []string{"polling", "websocket"} {
		code, stdout, stderr := runCmd(t, nil, "connect", url, "--parser", "msgpack", "--transport", transport,
			"--auth", `{"n":1}`, "--emit", "message", `"hé"`, `{"a":[1.5,null,4294967296]}`, "--wait", "1s")
		if want := "auth {\"n\":1}\nmessage-back \"hé\" {\"a\":[1.5,null,4294967296]}\n"; code != 0 || stdout != want || stderr != "" {
			t.Errorf("%s: code %d, stdout %q, stderr %q; want 0, %q", transport, code, stdout, stderr, want)
		}
		code, stdout, stderr = runCmd(t, nil, "connect", url, "--parser=msgpack", "--transport", transport,
			"--emit", "message-with-ack", "--ack", "2", "[]")
		if code != 0 || stdout != "2 []\n" || stderr != "" {
			t.Errorf("%s: ack: code %d, stdout %q, stderr %q", transport, code, stdout, stderr)
		}
	}
	code, stdout, stderr := runCmd(t, nil, "connect", url, "--parser", "msgpack", "--namespace", "/nope", "--emit", "x")
	if want := "tether connect: connection refused: Invalid namespace\n"; code != 1 || stdout != "" || stderr != want {
		t.Errorf("/nope: code %d, stdout %q, stderr %q, want 1 and %q", code, stdout, stderr, want)
	}
	code, _, stderr = runCmd(t, nil, "connect", url, "--transport", "websocket", "--emit", "x")
	if code != 1 || !strings.Contains(stderr, "cannot connect") {
		t.Errorf("JSON client: code %d, stderr %q: want it refused", code, stderr)
	}
}

func TestParserFlagErrors(t *testing.T) {
	code, _, stderr := runCmd(t, nil, "testserver", "--parser", "xml")
	if code != 2 || !strings.Contains(stderr, `--parser "xml": want json or msgpack`) {
		t.Errorf("testserver: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCmd(t, nil, "connect", "http://127.0.0.1:1", "--parser", "xml", "--emit", "x")
	if code != 2 || !strings.Contains(stderr, `--parser "xml": want json or msgpack`) {
		t.Errorf("connect: code %d, stderr %q", code, stderr)
	}
	if !isSocketIO([]string{"--parser", "http://x", "ws://h"}) == isSocketIO([]string{"ws://h"}) {
		t.Error("--parser's value taken for the URL")
	}
}
