package socketio

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// TestPeerCausedLinesAreRateLimited floods the server with what clients can cause and checks
// that each kind of line is logged a burst of times, then once a second with the count of the
// lines held back; the lines that do go out are unchanged, a panic's stack included. The test
// runs on synctest's fake clock.
func TestPeerCausedLinesAreRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &logRecorder{}
		srv := NewServer(&ServerOptions{Logger: slog.New(rec), MaxDecodedValues: 5})
		srv.Of("/").On("sum", func(a, b int) int { return a + b })
		srv.Of("/").On("boom", func() { panic("boom") })
		c := fakeConnect(t, srv, 1)[0]
		send := func(c *conn, packet string, times int) {
			for range times {
				c.receive(engineio.Message{Data: []byte(packet)})
			}
			drainHandlers(srv)
		}
		const flood = 50
		send(c, `2["sum","x",1]`, flood)       // arguments that do not fit
		send(c, `2["sum",1,2,3,4,5,6]`, flood) // more than MaxDecodedValues elements
		send(c, `2["boom"]`, flood)            // a handler that panics
		var others []*conn
		for range flood {
			o := newConn(srv, &fakeSession{id: randomID()})
			others = append(others, o)
			send(o, `2["x"`, 1) // invalid
			o = newConn(srv, &fakeSession{id: randomID()})
			others = append(others, o)
			send(o, `4{"message":"x"}`, 1) // for the server to send
		}
		defer closeFakes(append(others, c))

		count := func(lines []string) map[string]int {
			n := map[string]int{}
			for _, line := range lines {
				msg, _, _ := strings.Cut(line, " nsp=")
				msg, _, _ = strings.Cut(msg, " sid=")
				n[msg]++
			}
			return n
		}
		lines := rec.take()
		want := map[string]int{
			"socketio: event not handled":                                       peerLogBurst, // both kinds share the message
			"socketio: panic in handler of boom":                                peerLogBurst,
			"socketio: invalid packet, closing the connection":                  peerLogBurst,
			"socketio: unexpected packet from a client, closing the connection": peerLogBurst,
		}
		if got := count(lines); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("logged %v, want %v", got, want)
		}
		for _, line := range lines {
			if strings.HasPrefix(line, "socketio: panic") && !strings.Contains(line, "stack=goroutine") {
				t.Fatalf("a panic logged without its stack: %s", line)
			}
		}

		// A second later, one line each, saying how many were held back.
		time.Sleep(peerLogInterval)
		send(c, `2["sum","x",1]`, 1)
		send(c, `2["boom"]`, 1)
		lines = rec.take()
		if len(lines) != 2 ||
			!strings.HasPrefix(lines[0], "socketio: event not handled") || !strings.HasSuffix(lines[0], fmt.Sprintf("suppressed=%d", 2*flood-peerLogBurst)) ||
			!strings.HasPrefix(lines[1], "socketio: panic in handler of boom") || !strings.HasSuffix(lines[1], fmt.Sprintf("suppressed=%d", flood-peerLogBurst)) {
			t.Fatalf("logged %q", lines)
		}
	})
}

// TestPeerLogBelowTheLevel checks that lines below the logger's level cost no allowance: none
// is held back, to be counted later.
func TestPeerLogBelowTheLevel(t *testing.T) {
	level := new(slog.LevelVar)
	level.Set(slog.LevelError)
	rec := &logRecorder{level: level}
	srv := NewServer(&ServerOptions{Logger: slog.New(rec)})
	srv.Of("/").On("sum", func(a, b int) int { return a + b })
	c := fakeConnect(t, srv, 1)[0]
	defer closeFakes([]*conn{c})
	for range 100 {
		c.receive(engineio.Message{Data: []byte(`2["sum","x",1]`)})
	}
	drainHandlers(srv)
	level.Set(slog.LevelWarn)
	c.receive(engineio.Message{Data: []byte(`2["sum","x",1]`)})
	drainHandlers(srv)
	if lines := rec.take(); len(lines) != 1 || strings.Contains(lines[0], "suppressed") {
		t.Fatalf("logged %q", lines)
	}
}
