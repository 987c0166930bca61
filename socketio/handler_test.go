package socketio

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/tether-rt/tether/engineio"
)

// TestDirectHandlerShapes checks the handlers called without reflection (directCall) end to
// end, as the reflective path behaves for the same shapes: every argument as received, binary
// included, the Ack given, a returned Args sent back as the acknowledgement.
func TestDirectHandlerShapes(t *testing.T) {
	shapes := map[string]any{
		"relay":     func(s *Socket, a Args) { _ = s.Emit("back", a) },
		"returns":   func(s *Socket, a Args) Args { return a },
		"takes-ack": func(s *Socket, ack Ack, a Args) { _ = ack(a.Len(), a) },
	}
	for name, fn := range shapes {
		if directCall(fn) == nil {
			t.Fatalf("%s: %T is not called directly", name, fn)
		}
	}
	ts := startClientServer(t, nil, func(io *Server) {
		for name, fn := range shapes {
			io.On(name, fn)
		}
	})
	for tname, transports := range clientTransports {
		t.Run(tname, func(t *testing.T) {
			var got clientEvents
			c := dialTest(t, ts.url, &ClientOptions{Transports: transports}, func(c *Client) {
				got = recordEvents(c.ClientSocket)
			})
			if err := c.Emit("relay", "x", []byte{1, 2}); err != nil {
				t.Fatal(err)
			}
			got.expect(t, `back "x" "AQI="`)
			for event, want := range map[string]string{
				"returns":   `"x" "AQI="`,
				"takes-ack": `2 "x" "AQI="`, // an Args among values is spliced in
			} {
				a, err := c.EmitWithAck(clientCtx(t), event, "x", []byte{1, 2})
				if err != nil {
					t.Fatal(err)
				}
				vals := make([]any, a.Len())
				ptrs := make([]any, a.Len())
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := a.Decode(ptrs...); err != nil {
					t.Fatal(err)
				}
				// eventLine prints []byte as base64, like the events above.
				if s := strings.TrimSpace(eventLine("", vals)); s != want {
					t.Errorf("%s: ack %q, want %q", event, s, want)
				}
			}
		})
	}
}

// TestDirectHandlerPanic checks that a panic in a handler called directly is recovered and
// logged with its namespace and socket, as any other handler's.
func TestDirectHandlerPanic(t *testing.T) {
	rec := &logRecorder{}
	srv := NewServer(&ServerOptions{Logger: slog.New(rec)})
	srv.On("m", func(s *Socket, a Args) { panic("boom") })
	cn := fakeConnect(t, srv, 1)[0]
	cn.receive(engineio.Message{Data: []byte(`2["m"]`)})
	drainHandlers(srv)
	closeFakes([]*conn{cn})
	lines := strings.Join(rec.take(), "\n")
	if !strings.Contains(lines, "panic in handler of m") || !strings.Contains(lines, "nsp=/") || !strings.Contains(lines, "socket=") {
		t.Fatalf("logged %q", lines)
	}
}
