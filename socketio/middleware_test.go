package socketio

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

var errDenied = errors.New("denied")

// TestSocketUse checks per-event middleware: every event, in order, before the handlers; a
// rejection reaches the error hooks as an *EventError and, through its Ack, the client; a
// panicking middleware rejects; a removed middleware no longer runs.
func TestSocketUse(t *testing.T) {
	var mu sync.Mutex
	var seen []string // what the middleware saw, then what the handlers saw
	record := func(s string) { mu.Lock(); seen = append(seen, s); mu.Unlock() }
	ts := startClientServer(t, nil, func(io *Server) {
		io.OnConnect(func(s *Socket) {
			var removeGate func()
			s.Use(func(event string, args Args) error {
				var first any
				if args.Len() > 0 {
					args.Decode(&first)
				}
				record(fmt.Sprintf("mw %s %v", event, first))
				return nil
			})
			removeGate = s.Use(func(event string, args Args) error {
				switch event {
				case "forbidden":
					return errDenied
				case "boom":
					panic("middleware bug")
				}
				return nil
			})
			s.OnError(func(err error) {
				var ee *EventError
				if !errors.As(err, &ee) || !errors.Is(err, errDenied) && !errors.Is(err, errMiddlewarePanic) {
					s.Emit("bad-error", fmt.Sprint(err))
					return
				}
				ee.Ack("refused", ee.Event)
				s.Emit("rejected", ee.Event)
			})
			s.On("ok", func(s *Socket, n int) { record(fmt.Sprintf("handler ok %d", n)); s.Emit("done", n) })
			s.On("forbidden", func(s *Socket) { record("handler forbidden") })
			s.On("boom", func(s *Socket) { record("handler boom") })
			s.On("open", func() { removeGate() })
		})
	})
	var got clientEvents
	c := dialTest(t, ts.url, nil, func(c *Client) { got = recordEvents(c.ClientSocket) })

	c.Emit("ok", 1)
	a, err := c.EmitWithAck(clientCtx(t), "forbidden", 2)
	if err != nil || fmt.Sprint(a.Values()) != "[refused forbidden]" {
		t.Fatalf("ack of a rejected event: %v %v", a.Values(), err)
	}
	c.Emit("boom", 3)
	c.Emit("ok", 4)
	got.expect(t, "done 1")
	got.expect(t, `rejected "forbidden"`)
	got.expect(t, `rejected "boom"`)
	got.expect(t, "done 4")

	c.Emit("open")
	c.Emit("forbidden", 5)
	c.Emit("ok", 6)
	got.expect(t, "done 6")

	mu.Lock()
	defer mu.Unlock()
	want := "mw ok 1,handler ok 1,mw forbidden 2,mw boom 3,mw ok 4,handler ok 4,mw open <nil>,mw forbidden 5,handler forbidden,mw ok 6,handler ok 6"
	if g := strings.Join(seen, ","); g != want {
		t.Fatalf("order:\n got %s\nwant %s", g, want)
	}
}

// TestSocketUseWithoutErrorHook checks that a rejection with no error hook is logged, not lost.
func TestSocketUseWithoutErrorHook(t *testing.T) {
	rec := &logRecorder{}
	ts := startClientServer(t, &ServerOptions{Logger: slog.New(rec)}, func(io *Server) {
		io.OnConnect(func(s *Socket) {
			s.Use(func(event string, _ Args) error {
				if event == "x" {
					return errDenied
				}
				return nil
			})
			s.On("y", func(s *Socket) { s.Emit("y-done") })
		})
	})
	var got clientEvents
	c := dialTest(t, ts.url, nil, func(c *Client) { got = recordEvents(c.ClientSocket) })
	c.Emit("x")
	c.Emit("y")
	got.expect(t, "y-done")
	for _, err := range rec.errs() {
		if errors.Is(err, errDenied) {
			return
		}
	}
	t.Fatalf("rejection not logged: %q", rec.take())
}
