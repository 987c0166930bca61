package socketio

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync/atomic"
)

// Ack answers an event the client sent with an acknowledgement: the arguments reach the
// client's callback. Only the first call sends anything; when the client asked for no
// acknowledgement, calls do nothing.
type Ack func(args ...any) error

var (
	socketType = reflect.TypeFor[*Socket]()
	ackType    = reflect.TypeFor[Ack]()
	argsType   = reflect.TypeFor[Args]()
)

// handler is an event handler whose parameters are ordinary Go types, checked once when it is
// registered and decoded into for each event.
type handler struct {
	fn         reflect.Value
	in         []reflect.Type
	withSocket bool        // the first parameter is the *Socket
	ackAt      int         // the position of the Ack parameter, or -1
	variadic   bool        // the last parameter takes the remaining arguments, decoded
	rest       bool        // the last parameter is an Args, taking the remaining arguments as received
	args       int         // the parameters that take one argument each
	shortSaid  atomic.Bool // an event with fewer arguments than its parameters was logged
	once       bool        // registered with Once: removed before its first call
	fired      atomic.Bool // a Once handler was claimed by an event
	remove     func()      // takes it out of the list it was registered in
	// direct calls a handler of a common shape without reflection, which costs a fifth of
	// a relayed event's handling (reflect.Value.Call, and boxing the arguments and results);
	// nil for the other shapes.
	direct func(s *Socket, a Args, ack Ack) []any
	// directArgs is the handler itself when it is func(*Socket, Args) Args: what it returns
	// is sent as it is, without a []any holding the Args boxed.
	directArgs func(*Socket, Args) Args
	// needsAck is set when the handler takes an Ack, which is then made for it; no
	// *eventReply passes through a call of a func value, after which it would escape to
	// the heap, an allocation per event.
	needsAck bool
}

// newHandler checks fn's shape: func([*Socket,] params..., [Ack,] [...T | Args]) [results...]. A
// wrong shape is a programming error, reported by a panic when the handler is registered.
func newHandler(fn any, socketAllowed bool) *handler {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		panic(fmt.Sprintf("socketio: a handler must be a func, not %T", fn))
	}
	t := v.Type()
	h := &handler{fn: v, ackAt: -1, variadic: t.IsVariadic()}
	for i := range t.NumIn() {
		p := t.In(i)
		h.in = append(h.in, p)
		switch {
		case p == socketType:
			if i != 0 || !socketAllowed {
				panic(fmt.Sprintf("socketio: handler %s: *Socket may only be the first parameter", t))
			}
			h.withSocket = true
		case p == ackType:
			if h.ackAt >= 0 {
				panic(fmt.Sprintf("socketio: handler %s: more than one Ack parameter", t))
			}
			h.ackAt = i
		case h.variadic && i == t.NumIn()-1:
		case p == argsType:
			if i != t.NumIn()-1 || h.variadic {
				panic(fmt.Sprintf("socketio: handler %s: an Args parameter must be the last", t))
			}
			h.rest = true
		default:
			h.args++
		}
	}
	h.direct = directCall(fn)
	h.directArgs, _ = fn.(func(*Socket, Args) Args)
	h.needsAck = h.ackAt >= 0
	return h
}

// directCall returns how to call fn without reflection when it takes the socket and the
// arguments as received: the shape of a relay, and of handlers that validate the arguments
// themselves. What it returns is the acknowledgement's arguments, as call's results.
func directCall(fn any) func(*Socket, Args, Ack) []any {
	switch f := fn.(type) {
	case func(*Socket, Args):
		return func(s *Socket, a Args, _ Ack) []any { f(s, a); return nil }
	case func(*Socket, Args) Args:
		return func(s *Socket, a Args, _ Ack) []any { return []any{f(s, a)} }
	case func(*Socket, Ack, Args):
		return func(s *Socket, a Args, ack Ack) []any { f(s, ack, a); return nil }
	}
	return nil
}

// call decodes args into the handler's parameters and calls it. It returns what the handler
// returned, the acknowledgement's arguments. At most maxValues JSON values are decoded (0: no
// bound); arguments beyond it make an ArgumentError wrapping ErrDecodeLimit.
func (h *handler) call(s *Socket, event string, args []json.RawMessage, attachments [][]byte, ack Ack, maxValues int) ([]any, error) {
	if h.direct != nil {
		return h.direct(s, Args{raw: args, attachments: attachments}, ack), nil
	}
	in := make([]reflect.Value, len(h.in))
	budget := newDecodeBudget(maxValues)
	next := 0 // the next argument to decode
	last := len(h.in) - 1
	for i, t := range h.in {
		switch {
		case i == 0 && h.withSocket:
			in[i] = reflect.ValueOf(s)
		case i == h.ackAt:
			in[i] = reflect.ValueOf(ack)
		case h.rest && i == last:
			in[i] = reflect.ValueOf(Args{raw: args[min(next, len(args)):], attachments: attachments})
		case h.variadic && i == last:
			rest := reflect.MakeSlice(t, 0, max(len(args)-next, 0))
			for ; next < len(args); next++ {
				if err := budget.take(t.Elem(), args[next], attachments); err != nil {
					return nil, &ArgumentError{Event: event, Index: next, Err: err}
				}
				v := reflect.New(t.Elem())
				if err := decodeArg(args[next], attachments, v.Interface()); err != nil {
					return nil, argumentError(event, next, t.Elem(), args[next], err)
				}
				rest = reflect.Append(rest, v.Elem())
			}
			in[i] = rest
		default:
			v := reflect.New(t)
			if next < len(args) {
				if err := budget.take(t, args[next], attachments); err != nil {
					return nil, &ArgumentError{Event: event, Index: next, Err: err}
				}
				if err := decodeArg(args[next], attachments, v.Interface()); err != nil {
					return nil, argumentError(event, next, t, args[next], err)
				}
			}
			next++
			in[i] = v.Elem()
		}
	}
	var out []reflect.Value
	if h.variadic {
		out = h.fn.CallSlice(in)
	} else {
		out = h.fn.Call(in)
	}
	if len(out) == 0 {
		return nil, nil
	}
	results := make([]any, len(out))
	for i, o := range out {
		results[i] = o.Interface()
	}
	return results, nil
}

// argumentError describes an argument that does not fit the parameter of type param.
func argumentError(event string, index int, param reflect.Type, arg json.RawMessage, err error) *ArgumentError {
	return &ArgumentError{Event: event, Index: index, Param: param.String(), Got: jsonKind(arg), Err: err}
}

// jsonKind names what a JSON value is, for messages: "string", "number", "object", "array",
// "boolean" or "null" (a binary attachment's placeholder is an object).
func jsonKind(raw json.RawMessage) string {
	switch firstByte(raw) {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}
