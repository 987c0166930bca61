package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// Decoding JSON into Go values costs far more memory than the JSON: an element of [1,1,1] is 2
// bytes on the wire and some 60 decoded into an any (the interface in a []any that grew by
// doubling, the boxed float64), an empty object 3 bytes and some 300 as a map. A client could
// make a 1 MB event cost 50 MB, so what the server decodes of one event on its own (into a
// handler's parameters, for the catch-all listeners) is bounded by MaxDecodedValues: the JSON
// values decoded, at most maxDecodedDepth levels deep. Arguments taken as they came (Args,
// json.RawMessage) are sub-slices of the packet and cost nothing to decode; the bound also
// applies to an event's number of arguments, since the parser splits them into a slice of 24
// bytes each.

const (
	// defaultMaxDecodedValues keeps what decoding one event costs near 1 MB, the default
	// payload limit: about 20 to 180 bytes a value.
	defaultMaxDecodedValues = 10_000
	// maxDecodedDepth bounds the nesting of decoded arguments. encoding/json recurses once per
	// level, and goroutine stacks that grew stay grown: JSON nested 10,000 deep, as encoding/json
	// allows, makes a worker's stack several MB.
	maxDecodedDepth = 64
)

// ErrDecodeLimit is wrapped by the errors about an event or acknowledgement whose arguments go
// beyond ServerOptions.MaxDecodedValues (or ClientOptions.MaxDecodedValues): too many JSON
// values to decode, nested too deep, or too many arguments.
var ErrDecodeLimit = errors.New("socketio: arguments beyond the decoding limit (MaxDecodedValues)")

// maxDecodedValues turns the MaxDecodedValues option into the bound the parser and the
// handlers apply: 0 (no bound) for a negative option, the default for 0.
func maxDecodedValues(option int) int {
	switch {
	case option < 0:
		return 0
	case option == 0:
		return defaultMaxDecodedValues
	}
	return option
}

// decodeBudget is what is left of MaxDecodedValues while one event's arguments are decoded.
type decodeBudget struct {
	max, left int // max 0: no bound
}

func newDecodeBudget(max int) decodeBudget { return decodeBudget{max: max, left: max} }

// take charges the values of raw, an argument about to be decoded into a value of type t, to
// the budget. An argument taken as it came into a json.RawMessage costs nothing; one with
// binary placeholders is decoded to resolve them, and so is charged.
func (b *decodeBudget) take(t reflect.Type, raw json.RawMessage, attachments [][]byte) error {
	if b.max <= 0 || t == rawMessageType && !hasPlaceholderText(raw, attachments) {
		return nil
	}
	n, ok := countValues(raw, b.left)
	if !ok {
		if n > b.left {
			return fmt.Errorf("%w: more than %d JSON values", ErrDecodeLimit, b.max)
		}
		return fmt.Errorf("%w: nested more than %d levels deep", ErrDecodeLimit, maxDecodedDepth)
	}
	b.left -= n
	return nil
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	anyType        = reflect.TypeFor[any]()
)

// hasPlaceholderText reports whether raw may hold a binary placeholder that decoding resolves.
func hasPlaceholderText(raw []byte, attachments [][]byte) bool {
	return len(attachments) > 0 && bytes.Contains(raw, []byte("_placeholder"))
}

// decodeValues is Args.Values within a budget of max values (0: no bound): the generic values
// the catch-all listeners receive.
func decodeValues(event string, raw []json.RawMessage, attachments [][]byte, max int) ([]any, error) {
	budget := newDecodeBudget(max)
	for i, r := range raw {
		if err := budget.take(anyType, r, attachments); err != nil {
			return nil, &ArgumentError{Event: event, Index: i, Err: err}
		}
	}
	return Args{raw: raw, attachments: attachments}.Values(), nil
}

// tooManyArgsError is the error about an event or acknowledgement the parser split only the
// first elements of: kept arguments after the event's name.
func tooManyArgsError(event string, kept int) error {
	return &ArgumentError{Event: event, Index: kept, Err: fmt.Errorf("%w: more than %d arguments", ErrDecodeLimit, kept)}
}

// countValues counts the JSON values in raw, a valid JSON value: numbers, strings, literals,
// arrays and objects at any depth, but not the keys of objects. It stops once the count is
// past limit or the nesting past maxDecodedDepth, returning false; a negative limit is none. It
// allocates nothing. On invalid JSON it returns what it counted, for the decoder to refuse.
func countValues(raw []byte, limit int) (n int, ok bool) {
	if i := skipSpace(raw, 0); i < len(raw) && raw[i] != '[' && raw[i] != '{' {
		return 1, limit < 0 || limit >= 1 // a scalar: no need to walk a long string
	}
	depth := 0
	for i := 0; i < len(raw); {
		switch raw[i] {
		case '[', '{':
			n++
			depth++
			if depth > maxDecodedDepth {
				return n, false
			}
			i++
		case ']', '}':
			depth--
			i++
		case ',', ':', ' ', '\t', '\r', '\n':
			i++
			continue
		case '"':
			end := skipString(raw, i)
			if end < 0 {
				return n, true
			}
			if j := skipSpace(raw, end); j >= len(raw) || raw[j] != ':' {
				n++ // a value, not a key
			}
			i = end
		default: // a number or a literal, up to the next delimiter
			n++
			for i++; i < len(raw) && !jsonDelimiter[raw[i]]; i++ {
			}
		}
		if limit >= 0 && n > limit {
			return n, false
		}
	}
	return n, true
}

// jsonDelimiter marks the bytes that end a number or a literal in valid JSON.
var jsonDelimiter = func() (t [256]bool) {
	for _, c := range []byte(",:]} \t\r\n") {
		t[c] = true
	}
	return t
}()
