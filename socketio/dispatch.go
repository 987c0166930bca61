package socketio

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"runtime/debug"
	"time"

	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/internal/ratelog"
)

// What the server's and the client's sockets do alike with an event they receive.

// The allowance of each line a peer can cause (an invalid packet, an event not handled, a
// handler's panic): a burst, then one a second.
const (
	peerLogBurst    = 10
	peerLogInterval = time.Second
)

// peerLog is where a server or a client logs what its peers cause: through a rate limiter,
// per message, so that no peer (nor a crowd of them) can flood the log.
type peerLog struct {
	log *slog.Logger
	lim *ratelog.Limiter
	// byDefault: the program gave no Logger. The problems of single events (arguments that do
	// not fit a handler, a handler's panic) then go to slog.Default() all the same: a handler
	// that is never called, with nothing said, is the hardest bug a newcomer meets.
	byDefault bool
}

// quietLogger is the Logger of options that have none; unchanged after init.
var quietLogger = slog.New(slog.DiscardHandler)

func newPeerLog(log *slog.Logger) peerLog {
	return peerLog{log: log, lim: ratelog.New(peerLogInterval, peerLogBurst), byDefault: log == quietLogger}
}

// at logs a line, unless lines of the same message have used their allowance.
func (l peerLog) at(level slog.Level, msg string, args ...any) {
	l.lim.Log(context.Background(), l.log, level, msg, args...)
}

// event logs a problem with one event, as at, but to slog.Default() when the program gave no
// Logger.
func (l peerLog) event(level slog.Level, msg string, args ...any) {
	log := l.log
	if l.byDefault {
		log = slog.Default()
	}
	l.lim.Log(context.Background(), log, level, msg, args...)
}

// eventName returns the name of an event from its first element: a string, or a number,
// which the JavaScript client allows.
func eventName(first json.RawMessage) string {
	if name, ok := jsonString(first); ok {
		return name
	}
	return string(first)
}

// eventReply answers an event. On the server its Ack is made only when something takes one (a
// handler with an Ack parameter, event middleware): a closure per event would cost an
// allocation for every handler that answers by returning, or not at all.
type eventReply struct {
	s   *Socket // the server's socket the event came to; nil on a client, where ack is set
	p   *packet // the event (server only): its acked flag lets only the first answer through
	ack Ack
}

// fn returns the event's Ack, made on first use.
func (r *eventReply) fn() Ack {
	if r.ack == nil {
		r.ack = r.s.ackFunc(r.p)
	}
	return r.ack
}

// send answers with what a handler returned; only the first answer is sent.
func (r *eventReply) send(results []any) error {
	if r.s == nil {
		return r.ack(results...)
	}
	return r.s.sendAck(r.p, results)
}

// sendArgs answers with the Args a handler returned.
func (r *eventReply) sendArgs(a Args) error {
	if r.s == nil {
		return r.ack(a)
	}
	return r.s.sendAckArgs(r.p, a)
}

// callHandlers calls the handlers of an event in order; what a handler returns is sent as the
// acknowledgement (r sends at most once). Arguments that do not fit a handler, or that hold
// more than maxValues JSON values to decode for it (0: no bound), are logged.
func callHandlers(log peerLog, s *Socket, event string, args []json.RawMessage, attachments [][]byte, maxValues int, r *eventReply, handlers []*handler, at where) {
	for _, h := range handlers {
		if h.once {
			if h.fired.Swap(true) {
				continue // an earlier event took it
			}
			h.remove()
		}
		var results []any
		var ackArgs Args
		returnedArgs := false
		var err error
		protectAt(log, "handler", event, func() {
			if h.directArgs != nil {
				ackArgs, returnedArgs = h.directArgs(s, Args{raw: args, attachments: attachments}), true
				return
			}
			var ack Ack
			if h.needsAck {
				ack = r.fn()
			}
			results, err = h.call(s, event, args, attachments, ack, maxValues)
		}, at)
		if err != nil {
			more := []any{"handler", h.fn.Type().String(), logattr.Err, err}
			if ae, ok := err.(*ArgumentError); ok && ae.Index == 0 && h.sidLike() {
				more = append(more, "hint", sidHint)
			}
			log.event(slog.LevelWarn, "socketio: event not handled", append(at.attrs(), more...)...)
			continue
		}
		if len(args) < h.args && h.shortSaid.CompareAndSwap(false, true) {
			// Said once per handler: JavaScript programs leave optional arguments out.
			more := []any{logattr.Event, event, "arguments", len(args), "handler", h.fn.Type().String()}
			if h.sidLike() {
				more = append(more, "hint", sidHint)
			}
			log.event(slog.LevelInfo, "socketio: event with fewer arguments than its handler's parameters, which get zero values", append(at.attrs(), more...)...)
		}
		if returnedArgs {
			err = r.sendArgs(ackArgs)
		} else if results != nil {
			err = r.send(results)
		}
		if err != nil {
			log.at(slog.LevelDebug, "socketio: acknowledgement not sent", append(at.attrs(), logattr.Event, event, logattr.Err, err)...)
		}
	}
}

// sidHint is said of a handler whose first parameter may be meant for the socket's id.
const sidHint = "a first parameter for the socket id, as in python-socketio? Take a *socketio.Socket instead"

// sidLike reports whether the handler's first parameter is a string that takes an argument,
// where a python-socketio handler has the sender's sid.
func (h *handler) sidLike() bool {
	return !h.withSocket && h.ackAt != 0 && len(h.in) > 0 && h.in[0].Kind() == reflect.String
}

// where names the namespace and the socket (empty on a client) that a log line is about. It
// becomes attributes only when a line is written: every event passes through callHandlers.
type where struct{ nsp, socket string }

func (w where) attrs() []any {
	if w.socket == "" {
		return []any{logattr.Namespace, w.nsp}
	}
	return []any{logattr.Namespace, w.nsp, logattr.Socket, w.socket}
}

// protect runs user code, turning a panic into a logged error: one bad handler must not take
// the program down. A peer can make a handler panic again and again: the lines are rate-limited
// like the others a peer causes, each with its stack.
func protect(log peerLog, what, event string, f func(), attrs ...any) {
	defer func() {
		if r := recover(); r != nil {
			logPanic(log, what, event, r, attrs)
		}
	}()
	f()
}

// protectAt is protect for code about one namespace and socket.
func protectAt(log peerLog, what, event string, f func(), at where) {
	defer func() {
		if r := recover(); r != nil {
			logPanic(log, what, event, r, at.attrs())
		}
	}()
	f()
}

// logPanic logs a panic that protect recovered, with the stack (logPanic runs in the deferred
// call, on the panicking goroutine's stack).
func logPanic(log peerLog, what, event string, r any, attrs []any) {
	if event != "" {
		// Put together only now: every event passes through here. The name is in the
		// message too, so that each event's panics have their own allowance.
		what += " of " + event
		attrs = append(attrs, logattr.Event, event)
	}
	log.event(slog.LevelError, "socketio: panic in "+what, append(attrs, "panic", r, "stack", string(debug.Stack()))...)
}
