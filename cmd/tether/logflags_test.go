package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/internal/testenv"
)

// startCmd runs "tether name args..." in-process until stop is called or the test ends, and
// returns the address it listens on and its stderr. stop ends the command and checks it
// exited 0.
func startCmd(t *testing.T, name string, args ...string) (addr string, stderr *testenv.Buffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr = &testenv.Buffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{name, "--addr", "127.0.0.1:0"}, args...), nil, pw, stderr)
		pw.Close()
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		io.Copy(io.Discard, pr)
		if got := <-code; got != 0 {
			t.Errorf("tether %s exited %d, stderr: %s", name, got, stderr.String())
		}
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("tether %s: %v (stderr %s)", name, err, stderr.String())
	}
	_, url, ok := strings.Cut(strings.TrimSpace(line), ": listening on ")
	if !ok {
		t.Fatalf("first line = %q, want the listening line", line)
	}
	_, addr, _ = strings.Cut(url, "://")
	go io.Copy(io.Discard, pr) // the rest of stdout, so that the command never blocks on it
	return addr, stderr, stop
}

// waitStderr waits until the command's stderr holds each of want. The deadline only bounds a
// failing test.
func waitStderr(t *testing.T, stderr *testenv.Buffer, want ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		missing := ""
		for _, w := range want {
			if !strings.Contains(stderr.String(), w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr has no %q:\n%s", missing, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jsonLines parses every line of out as a JSON object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a line of --log-format json is not JSON: %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// findLine returns the first line with message msg whose attribute key is value.
func findLine(t *testing.T, lines []map[string]any, msg, key, value string) map[string]any {
	t.Helper()
	for _, l := range lines {
		if l["msg"] == msg && l[key] == value {
			return l
		}
	}
	t.Fatalf("no line %q with %s=%s in %v", msg, key, value, lines)
	return nil
}

// checkKeys fails t unless line has each of want's keys with its value; "*" asks only for a
// string that is not empty.
func checkKeys(t *testing.T, line map[string]any, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got, _ := line[k].(string)
		if got == "" || (v != "*" && got != v) {
			t.Errorf("%q: %s=%v, want %q (line %v)", line["msg"], k, line[k], v, line)
		}
	}
}

// With --log-format json, each stderr line of the test server is a JSON object, and the lines
// of the Engine.IO and Socket.IO layers carry the same keys: a bad Engine.IO packet ends its
// session (reason, sid, transport, remote), a bad Socket.IO packet is reported with the
// session's id and the client's address.
func TestRunTestServerJSONLogs(t *testing.T) {
	addr, stderr, stop := startCmd(t, "testserver", "--log-format", "json", "--log-level", "debug")

	eio := newEIOClient(t, addr)
	h := eio.handshake()
	eio.do("POST", eio.base+"?EIO=4&transport=polling&sid="+h.SID, http.Header{"Content-Type": {"text/plain;charset=UTF-8"}}, "9nonsense")

	sio := dialSIO(t, addr, "websocket")
	sioSID := sio.c.ID()
	sio.send(`2["unterminated"`)

	waitStderr(t, stderr, `"msg":"socketio: invalid packet, closing the connection"`, `"sid":"`+h.SID+`"`, `"sid":"`+sioSID+`","reason"`)
	stop()
	lines := jsonLines(t, stderr.String())

	end := findLine(t, lines, "engineio: session closed", logattr.SID, h.SID)
	checkKeys(t, end, map[string]string{"level": "INFO", logattr.Reason: "parse error", logattr.Transport: "polling", logattr.Remote: "*", logattr.Err: "*"})
	bad := findLine(t, lines, "socketio: invalid packet, closing the connection", logattr.SID, sioSID)
	checkKeys(t, bad, map[string]string{"level": "INFO", logattr.Remote: "*", logattr.Err: "*"})
	end = findLine(t, lines, "engineio: session closed", logattr.SID, sioSID)
	checkKeys(t, end, map[string]string{logattr.Transport: "websocket", logattr.Reason: "*", logattr.Remote: "*"})
}

// By default the lines are text at info level: a session's end for a bad packet is there, the
// debug lines (a session's opening) are not.
func TestRunTestServerDefaultLogs(t *testing.T) {
	addr, stderr, stop := startCmd(t, "testserver")
	eio := newEIOClient(t, addr)
	h := eio.handshake()
	eio.do("POST", eio.base+"?EIO=4&transport=polling&sid="+h.SID, http.Header{"Content-Type": {"text/plain;charset=UTF-8"}}, "9nonsense")
	waitStderr(t, stderr, `level=INFO msg="engineio: session closed" sid=`+h.SID+` reason="parse error" transport=polling remote=`)
	stop()
	if out := stderr.String(); strings.Contains(out, "level=DEBUG") {
		t.Errorf("debug lines at the default level:\n%s", out)
	}
}

// The echo server logs a refused handshake, in JSON, with the client's address and the error.
func TestRunEchoJSONLogs(t *testing.T) {
	addr, stderr, stop := startCmd(t, "echo", "--log-format", "json", "--log-level", "debug")
	req, err := http.NewRequest("GET", "http://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket") // and no Sec-WebSocket-Key
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitStderr(t, stderr, `"msg":"handshake refused"`)
	stop()
	refused := findLine(t, jsonLines(t, stderr.String()), "handshake refused", "level", "DEBUG")
	checkKeys(t, refused, map[string]string{logattr.Remote: "*", logattr.Err: "*"})
}

func TestLogFlagsUsage(t *testing.T) {
	checkRuns(t, []runCase{
		{[]string{"testserver", "--log-format", "xml"}, 2, "", "--log-format \"xml\": want text or json"},
		{[]string{"testserver", "--log-level", "loud"}, 2, "", "--log-level \"loud\""},
		{[]string{"echo", "--log-level", "loud"}, 2, "", "tether echo: --log-level"},
		{[]string{"serve", "--log-format", "xml"}, 2, "", "tether serve: --log-format"},
		{[]string{"serve", "-h"}, 0, "-log-format", ""},
		{[]string{"echo", "-h"}, 0, "-log-level", ""},
	})
}

func TestLogFlagsLevel(t *testing.T) {
	for _, c := range []struct {
		args  []string
		debug bool
		info  bool
	}{
		{nil, false, true},
		{[]string{"--verbose"}, true, true},
		{[]string{"--log-level", "warn"}, false, false},
		{[]string{"--verbose", "--log-level", "warn"}, false, false}, // the explicit level wins
		{[]string{"--log-level", "DEBUG"}, true, true},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		f := addLogFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		log, err := f.logger(io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		ctx := context.Background()
		if got := log.Enabled(ctx, slog.LevelDebug); got != c.debug {
			t.Errorf("%q: debug enabled = %v", c.args, got)
		}
		if got := log.Enabled(ctx, slog.LevelInfo); got != c.info {
			t.Errorf("%q: info enabled = %v", c.args, got)
		}
	}
}
