package socketio

import (
	"encoding/json"
	"log/slog"
	"runtime/debug"
)

// What the server's and the client's sockets do alike with an event they receive.

// eventName returns the name of an event from its first element: a string, or a number,
// which the JavaScript client allows.
func eventName(first json.RawMessage) string {
	if name, ok := jsonString(first); ok {
		return name
	}
	return string(first)
}

// callHandlers calls the handlers of an event in order; what a handler returns is sent as the
// acknowledgement (ack sends at most once). Arguments that do not fit a handler, or that hold
// more than maxValues JSON values to decode for it (0: no bound), are logged.
func callHandlers(log *slog.Logger, s *Socket, event string, args []json.RawMessage, attachments [][]byte, maxValues int, ack Ack, handlers []*handler, attrs ...any) {
	for _, h := range handlers {
		var results []any
		var err error
		protect(log, "handler", event, func() { results, err = h.call(s, event, args, attachments, ack, maxValues) }, attrs...)
		if err != nil {
			log.Warn("socketio: event not handled", append(attrs, "err", err)...)
			continue
		}
		if results != nil {
			if err := ack(results...); err != nil {
				log.Debug("socketio: acknowledgement not sent", append(attrs, "event", event, "err", err)...)
			}
		}
	}
}

// protect runs user code, turning a panic into a logged error: one bad handler must not take
// the program down.
func protect(log *slog.Logger, what, event string, f func(), attrs ...any) {
	defer func() {
		if r := recover(); r != nil {
			if event != "" {
				what += " of " + event // put together only now: every event passes through here
			}
			log.Error("socketio: panic in "+what, append(attrs, "panic", r, "stack", string(debug.Stack()))...)
		}
	}()
	f()
}
