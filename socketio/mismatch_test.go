package socketio

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestHandlerMismatchLoggedByDefault checks that with no Logger, a handler whose parameters do
// not fit the event is reported through slog.Default(), naming the event, the handler's
// signature, the parameter's type and what the argument is; and that a python-socketio-style
// handler, whose first parameter takes the event's first argument, gets a hint once.
func TestHandlerMismatchLoggedByDefault(t *testing.T) {
	rec := &logRecorder{}
	prev := slog.Default()
	slog.SetDefault(slog.New(rec))
	t.Cleanup(func() { slog.SetDefault(prev) })

	ts := startClientServer(t, nil, func(io *Server) {
		io.On("py-object", func(sid string, data map[string]any) {})
		io.On("py-string", func(sid, data string) {})
		io.On("sync", func(ack Ack) { ack() })
	})
	c := dialTest(t, ts.url, nil, nil)
	c.Emit("py-object", map[string]any{"a": 1})
	c.Emit("py-string", "hello")
	c.Emit("py-string", "again")
	if _, err := c.EmitWithAck(clientCtx(t), "sync"); err != nil {
		t.Fatal(err)
	}

	var mismatch *ArgumentError
	for _, err := range rec.errs() {
		if errors.As(err, &mismatch) && mismatch.Event == "py-object" {
			break
		}
		mismatch = nil
	}
	if mismatch == nil || mismatch.Index != 0 || mismatch.Param != "string" || mismatch.Got != "object" ||
		!strings.HasPrefix(mismatch.Error(), `socketio: event "py-object": argument 0, a JSON object, into a parameter of type string: `) {
		t.Fatalf("mismatch error: %v", mismatch)
	}
	var short []string
	handlerNamed := false
	for _, line := range rec.take() {
		if strings.Contains(line, "fewer arguments") && strings.Contains(line, "event=py-string") {
			short = append(short, line)
		}
		if strings.Contains(line, "event not handled") && strings.Contains(line, "handler=func(string, map[string]interface {})") &&
			strings.Contains(line, "hint=") {
			handlerNamed = true
		}
	}
	if len(short) != 1 || !strings.Contains(short[0], "hint=") || !strings.Contains(short[0], "*socketio.Socket") {
		t.Fatalf("fewer-arguments lines: %q", short)
	}
	if !handlerNamed {
		t.Fatal("the mismatch line does not name the handler's signature, with the hint")
	}
}

// TestHandlerMismatchQuietWithLogger checks that a program's own Logger gets the lines instead,
// and that slog.Default() then hears nothing.
func TestHandlerMismatchQuietWithLogger(t *testing.T) {
	def, own := &logRecorder{}, &logRecorder{}
	prev := slog.Default()
	slog.SetDefault(slog.New(def))
	t.Cleanup(func() { slog.SetDefault(prev) })
	ts := startClientServer(t, &ServerOptions{Logger: slog.New(own)}, func(io *Server) {
		io.On("n", func(n int) {})
		io.On("sync", func(ack Ack) { ack() })
	})
	c := dialTest(t, ts.url, nil, nil)
	c.Emit("n", "not a number")
	if _, err := c.EmitWithAck(clientCtx(t), "sync"); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, err := range own.errs() {
		var ae *ArgumentError
		found = found || errors.As(err, &ae) && ae.Event == "n" && ae.Got == "string" && ae.Param == "int"
	}
	for _, line := range def.take() {
		if strings.Contains(line, "event not handled") {
			t.Fatalf("default logger heard: %s", line)
		}
	}
	if !found {
		t.Fatalf("own logger: %q", own.take())
	}
}
