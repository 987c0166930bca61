package socketio

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/internal/logtest"
)

// waitRecords waits until logs has a record whose message contains msg, and returns those.
// The deadline only bounds a failing test.
func waitRecords(t *testing.T, logs *logtest.Recorder, msg string) []logtest.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if recs := logs.Find(msg); len(recs) > 0 {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q logged: %v", msg, logs.All())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The server's one Logger gets the lines of both layers, with the same keys: a handler's panic
// names the socket, its namespace and the event; the Engine.IO session's end, logged by
// package engineio, carries the session id the Socket.IO lines use.
func TestLogThroughTheLayers(t *testing.T) {
	for _, transport := range []string{"polling", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			var logs logtest.Recorder
			url := startServer(t, &ServerOptions{Logger: logs.Logger()}, func(s *Server) {
				s.Of("/chat").On("boom", func(*Socket) { panic("boom") })
				s.Of("/chat").On("ping", func(*Socket) string { return "pong" })
			})
			c := dialRaw(t, url, transport)
			sid := c.c.ID()
			socket := c.connect("/chat")
			c.send(`42/chat,["boom"]`)
			// A socket's handlers run in order: once ping is answered, boom's panic is logged.
			c.send(`42/chat,1["ping"]`)
			c.expect(`43/chat,1["pong"]`)

			panics := logs.Find("socketio: panic in handler")
			if len(panics) != 1 {
				t.Fatalf("%d panics logged, want 1: %v", len(panics), logs.All())
			}
			p := panics[0]
			if p.Level != slog.LevelError {
				t.Errorf("a panic logged at %v", p.Level)
			}
			for k, want := range map[string]string{logattr.Socket: socket, logattr.Namespace: "/chat", logattr.Event: "boom", "panic": "boom"} {
				if got := p.Attrs[k]; got != want {
					t.Errorf("panic line: %s=%q, want %q (%v)", k, got, want, p.Attrs)
				}
			}
			if p.Attrs["stack"] == "" {
				t.Error("a panic logged without its stack")
			}

			c.c.Close()
			var end logtest.Record
			for _, rec := range waitRecords(t, &logs, "engineio: session closed") {
				if rec.Attrs[logattr.SID] == sid {
					end = rec
				}
			}
			if end.Attrs == nil {
				t.Fatalf("no session end logged for sid %s: %v", sid, logs.All())
			}
			if end.Attrs[logattr.Transport] != transport || end.Attrs[logattr.Reason] == "" || end.Attrs[logattr.Remote] == "" {
				t.Errorf("session end: %v", end.Attrs)
			}
		})
	}
}

// An adapter's host hands it the server's Logger, and without one a logger that drops
// everything: an adapter falling back on it is as quiet as the server.
func TestLogAdapterHost(t *testing.T) {
	var logs logtest.Recorder
	logger := logs.Logger()
	_, host := hostServer(t, &ServerOptions{Logger: logger})
	if host.Logger() != logger {
		t.Fatal("the host's Logger is not the server's")
	}
	host.Logger().Warn("from an adapter", logattr.Namespace, host.Namespace())
	if recs := logs.Find("from an adapter"); len(recs) != 1 || recs[0].Attrs[logattr.Namespace] != "/" {
		t.Fatalf("logged %v", logs.All())
	}

	_, quiet := hostServer(t, nil)
	if l := quiet.Logger(); l == nil || l.Enabled(context.Background(), slog.LevelError) {
		t.Fatalf("the host of a server without a Logger gave %v, which is not quiet", l)
	}
}
