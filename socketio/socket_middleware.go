package socketio

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/tether-rt/tether/internal/logattr"
)

// Use adds a middleware for the events this socket receives (Node's socket.use), and returns
// a function that removes it. Middleware see each event, in the order they were added and in
// the order the events arrived, after the catch-all listeners (OnAny) and before the handlers,
// as in Node; they run on the socket's handler goroutine, so they may take their time. An error
// rejects the event: no handler sees it, and the error hooks (OnError) receive an *EventError
// wrapping it, from which the app may tell the client (EventError.Ack, an Emit, or
// Disconnect); the client learns nothing by itself, as with Node. A middleware that panics
// rejects the event too.
//
// Node's
//
//	socket.use(([event, ...args], next) => { if (!allowed(event)) return next(new Error("unauthorized")); next(); });
//	socket.on("error", (err) => { if (err.message === "unauthorized") socket.disconnect(); });
//
// is
//
//	s.Use(func(event string, args socketio.Args) error {
//		if !allowed(event) {
//			return errUnauthorized
//		}
//		return nil
//	})
//	s.OnError(func(err error) {
//		if errors.Is(err, errUnauthorized) {
//			s.Disconnect(false)
//		}
//	})
//
// A middleware reads the arguments with args.Decode or args.Values; it cannot change them.
func (s *Socket) Use(mw func(event string, args Args) error) (remove func()) {
	return addListener(&s.mu, &s.middleware, mw, false)
}

// OnError registers a function called with the error of each event a middleware (Use)
// rejected, an *EventError (Node's socket.on("error")), and returns a function that removes
// it. Without one, the rejections are logged at debug level.
func (s *Socket) OnError(f func(err error)) (remove func()) {
	return addListener(&s.mu, &s.onError, f, false)
}

// EventError is an event a middleware added with Socket.Use rejected, as the socket's error
// hooks receive it.
type EventError struct {
	Event string // the event's name
	Args  Args   // its arguments, as received
	// Ack answers the event's acknowledgement, when the client asked for one (otherwise it does
	// nothing): the way to tell the client its event was refused, if the app wants to.
	Ack Ack
	Err error // what the middleware returned
}

func (e *EventError) Error() string {
	return fmt.Sprintf("socketio: event %q rejected: %v", e.Event, e.Err)
}

func (e *EventError) Unwrap() error { return e.Err }

// errMiddlewarePanic rejects an event whose middleware panicked (the panic is logged).
var errMiddlewarePanic = errors.New("socketio: event middleware panicked")

// runEventMiddleware runs the socket's event middleware, and reports whether they let the
// event through; a rejection goes to the error hooks.
func (s *Socket) runEventMiddleware(mws listenerList[func(string, Args) error], event string, args Args, ack Ack) bool {
	for _, e := range mws {
		err := errMiddlewarePanic // unless the middleware returns
		s.safely("event middleware", func() { err = e.f(event, args) })
		if err == nil {
			continue
		}
		ee := &EventError{Event: event, Args: args, Ack: ack, Err: err}
		s.mu.Lock()
		hooks := s.onError
		s.mu.Unlock()
		if len(hooks) == 0 {
			s.nsp.srv.peers.at(slog.LevelDebug, "socketio: event rejected by a middleware", logattr.Namespace, s.nsp.name, logattr.Socket, s.id, logattr.Err, ee)
		}
		for _, h := range hooks {
			s.safely("error hook", func() { h.f(ee) })
		}
		return false
	}
	return true
}
