package socketio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Event arguments travel as a JSON array in which every binary value ([]byte in Go) is replaced
// by a placeholder {"_placeholder":true,"num":N} pointing at the N-th attachment, sent as its own
// binary message. This file turns Go values into that form and back.

var (
	bytesType     = reflect.TypeFor[[]byte]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
)

// encodeArgs encodes values as a JSON array, taking every []byte out into an attachment. An
// Args among the values stands for its arguments, passed on as they were received.
func encodeArgs(values []any) (json.RawMessage, [][]byte, error) {
	for _, v := range values {
		if _, ok := v.(Args); ok {
			return encodeWithArgs(values)
		}
	}
	binary := false
	for _, v := range values {
		if hasBinary(reflect.ValueOf(v), 0) {
			binary = true
			break
		}
	}
	if !binary {
		b, err := json.Marshal(values)
		return b, nil, err
	}
	var attachments [][]byte
	tree := make([]any, len(values))
	for i, v := range values {
		t, err := toTree(reflect.ValueOf(v), &attachments, 0)
		if err != nil {
			return nil, nil, err
		}
		tree[i] = t
	}
	b, err := json.Marshal(tree)
	return b, attachments, err
}

// maxDepth bounds the walk of a value, against cycles.
const maxDepth = 64

// hasBinary reports whether v holds a []byte anywhere encoding/json would reach.
func hasBinary(v reflect.Value, depth int) bool {
	if !v.IsValid() || depth > maxDepth {
		return false
	}
	if v.Type() == bytesType {
		return !v.IsNil()
	}
	if v.Type().Implements(marshalerType) {
		return false
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil() && hasBinary(v.Elem(), depth+1)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if hasBinary(v.Index(i), depth+1) {
				return true
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if hasBinary(it.Value(), depth+1) {
				return true
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() && f.Tag.Get("json") != "-" && hasBinary(v.Field(i), depth+1) {
				return true
			}
		}
	}
	return false
}

// toTree turns v into a value encoding/json encodes as v would be, but with each []byte
// replaced by a placeholder and appended to attachments. Parts without binary values are
// marshaled by encoding/json itself.
func toTree(v reflect.Value, attachments *[][]byte, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("socketio: value nested more than %d levels deep", maxDepth)
	}
	if !hasBinary(v, 0) {
		if !v.IsValid() {
			return nil, nil
		}
		b, err := json.Marshal(v.Interface())
		return json.RawMessage(b), err
	}
	if v.Type() == bytesType {
		*attachments = append(*attachments, v.Bytes())
		return map[string]any{"_placeholder": true, "num": len(*attachments) - 1}, nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return toTree(v.Elem(), attachments, depth+1)
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			e, err := toTree(v.Index(i), attachments, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case reflect.Map:
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			k, err := mapKey(it.Key())
			if err != nil {
				return nil, err
			}
			e, err := toTree(it.Value(), attachments, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	case reflect.Struct:
		out := map[string]any{}
		if err := structTree(v, out, attachments, depth); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("socketio: cannot encode %s", v.Type())
}

// structTree adds a struct's fields to out following encoding/json's tags: the name, "-" and
// omitempty; embedded structs without a tag have their fields promoted.
func structTree(v reflect.Value, out map[string]any, attachments *[][]byte, depth int) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if f.Anonymous && name == "" {
			ft := fv
			if ft.Kind() == reflect.Pointer {
				if ft.IsNil() {
					continue
				}
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if err := structTree(ft, out, attachments, depth+1); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.Contains(","+opts+",", ",omitempty,") && fv.IsZero() {
			continue
		}
		e, err := toTree(fv, attachments, depth+1)
		if err != nil {
			return err
		}
		out[name] = e
	}
	return nil
}

func mapKey(k reflect.Value) (string, error) {
	if k.Kind() == reflect.String {
		return k.String(), nil
	}
	b, err := json.Marshal(k.Interface())
	if err != nil {
		return "", err
	}
	return strings.Trim(string(b), `"`), nil
}

// decodeAny decodes an argument for a handler that takes any: binary values come out as []byte.
func decodeAny(raw json.RawMessage, attachments [][]byte) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return replacePlaceholders(v, attachments, rawBytes), nil
}

func base64String(b []byte) any { return base64.StdEncoding.EncodeToString(b) }

// replacePlaceholders returns v with every placeholder replaced by what conv makes of its
// attachment. The parser has already checked that every placeholder points at one, but
// AdapterHost.ArgsFromData's data (another node's, say) has not been: a num that is no index of
// attachments leaves the placeholder as it is.
func replacePlaceholders(v any, attachments [][]byte, conv func([]byte) any) any {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			v[i] = replacePlaceholders(e, attachments, conv)
		}
	case map[string]any:
		if ph, ok := v["_placeholder"]; ok && ph == true {
			if num, ok := v["num"].(float64); ok && num >= 0 && num < float64(len(attachments)) && num == float64(int(num)) {
				return conv(attachments[int(num)])
			}
			return v
		}
		for k, e := range v {
			v[k] = replacePlaceholders(e, attachments, conv)
		}
	}
	return v
}

// Args holds the arguments of an acknowledgement or event received: JSON values and the binary
// attachments their placeholders point at. Decode them into Go values with Decode, or take
// them as generic values with Values.
//
// Passed among the arguments of an emit or an acknowledgement, an Args stands for its
// arguments, sent exactly as they were received: the way to pass on what a client sent without
// knowing its shape. A handler receives the remaining arguments of an event as an Args when its
// last parameter has that type.
type Args struct {
	raw         []json.RawMessage
	attachments [][]byte
}

// NewArgs encodes values as arguments, as they would arrive from a peer; adapters use it to
// hand over what other nodes answered.
func NewArgs(values ...any) (Args, error) {
	if values == nil {
		values = []any{}
	}
	data, attachments, err := encodeArgs(values)
	if err != nil {
		return Args{}, err
	}
	raw, err := splitArgs(data)
	return Args{raw: raw, attachments: attachments}, err
}

// argsFromData makes arguments from their wire form (AdapterHost.ArgsFromData).
func argsFromData(data json.RawMessage, attachments [][]byte) (Args, error) {
	raw, err := splitArgs(data)
	if err != nil {
		return Args{}, err
	}
	if raw == nil {
		raw = []json.RawMessage{}
	}
	return Args{raw: raw, attachments: attachments}, nil
}

// Attachments returns the binary values the placeholders of Raw point at, in order.
func (a Args) Attachments() [][]byte { return a.attachments }

// Len returns the number of arguments.
func (a Args) Len() int { return len(a.raw) }

// Decode decodes the arguments, in order, into the values dst points at, with encoding/json
// (binary attachments decode into []byte). Extra arguments are ignored; a dst beyond the last
// argument is left as it is. Unlike handlers' parameters, Decode is not bounded by
// MaxDecodedValues: arguments from a peer not trusted can be checked first with Raw (a value
// takes at least one byte).
func (a Args) Decode(dst ...any) error {
	for i, d := range dst {
		if i >= len(a.raw) {
			break
		}
		if err := decodeArg(a.raw[i], a.attachments, d); err != nil {
			return &ArgumentError{Index: i, Err: err}
		}
	}
	return nil
}

// Values returns the arguments as generic values: what encoding/json makes of JSON when
// decoding into an any, with binary attachments as []byte. Like Decode, it is not bounded by
// MaxDecodedValues.
func (a Args) Values() []any {
	out := make([]any, 0, len(a.raw))
	for _, r := range a.raw {
		v, err := decodeAny(r, a.attachments)
		if err != nil {
			v = nil // the parser validated the JSON: not reached
		}
		out = append(out, v)
	}
	return out
}

// Raw returns the JSON of argument i, binary placeholders included.
func (a Args) Raw(i int) json.RawMessage {
	if i < 0 || i >= len(a.raw) {
		return nil
	}
	return a.raw[i]
}

// splitArgs splits a JSON array into its elements.
func splitArgs(data json.RawMessage) ([]json.RawMessage, error) {
	var args []json.RawMessage
	if err := json.Unmarshal(data, &args); err != nil {
		return nil, err
	}
	return args, nil
}

// decodeArg decodes one argument into the value dst points at. A pointer to an interface gets
// generic values with binary as []byte; other types get binary values the way encoding/json
// decodes a []byte, from base64.
func decodeArg(raw json.RawMessage, attachments [][]byte, dst any) error {
	if p, ok := dst.(*any); ok {
		v, err := decodeAny(raw, attachments)
		if err == nil {
			*p = v
		}
		return err
	}
	if len(attachments) > 0 && bytes.Contains(raw, []byte("_placeholder")) {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		if b, ok := replacePlaceholders(v, attachments, rawBytes).([]byte); ok {
			if p, ok := dst.(*[]byte); ok {
				*p = b
				return nil
			}
		}
		var err error
		if raw, err = json.Marshal(replacePlaceholders(v, attachments, base64String)); err != nil {
			return err
		}
	}
	return json.Unmarshal(raw, dst)
}

func rawBytes(b []byte) any { return b }

// encodeWithArgs is encodeArgs for values among which are Args: their JSON is copied as it
// was received, so that whatever encoding/json would not reproduce (strings with lone UTF-16
// surrogates, say, which JavaScript clients can send) goes back unchanged.
func encodeWithArgs(values []any) (json.RawMessage, [][]byte, error) {
	return encodeNamedWithArgs("", false, values)
}

// encodeEvent encodes an event, [event, args...], as encodeArgs would encode the values
// event, args...: an emit that passes on an Args (the relay of what a client sent, the most
// common emit of all) then writes the name straight into the array, without the slice of
// values, the name's boxing and its own encoding that cost three allocations per emit.
func encodeEvent(event string, args []any) (json.RawMessage, [][]byte, error) {
	if plainJSONString(event) && slices.ContainsFunc(args, isArgs) {
		return encodeNamedWithArgs(event, true, args)
	}
	values := make([]any, 0, 1+len(args))
	values = append(values, event)
	values = append(values, args...)
	return encodeArgs(values)
}

func isArgs(v any) bool {
	_, ok := v.(Args)
	return ok
}

// encodeNamedWithArgs is encodeWithArgs, with name, a string encoding/json writes as it is,
// first in the array when named is set.
func encodeNamedWithArgs(name string, named bool, values []any) (json.RawMessage, [][]byte, error) {
	// Each value's JSON first, then the array in one allocation of its size: appended to as it
	// went, the array would be copied as it grew, a quarter at a time beyond 256 bytes (five
	// times its size over the way).
	type part struct {
		encoded []byte            // a value other than an Args, encoded
		args    []json.RawMessage // an Args's elements, renumbered if they had to be
		isArgs  bool
	}
	// An event name and an Args, or an acknowledgement's Args: a few values, whose parts then
	// stay on the stack.
	var few [4]part
	parts := few[:0]
	if len(values) > len(few) {
		parts = make([]part, 0, len(values))
	}
	parts = parts[:len(values)]
	var attachments [][]byte
	size := 2
	if named {
		size += len(name) + 3
	}
	for i, v := range values {
		a, ok := v.(Args)
		if !ok {
			b, err := encodeValue(v, &attachments)
			if err != nil {
				return nil, nil, err
			}
			parts[i].encoded = b
			size += len(b) + 1
			continue
		}
		parts[i].args, parts[i].isArgs = a.raw, true
		if base := len(attachments); base > 0 && len(a.attachments) > 0 {
			parts[i].args = make([]json.RawMessage, len(a.raw))
			for j, raw := range a.raw {
				var err error
				if parts[i].args[j], err = shiftPlaceholders(raw, base); err != nil {
					return nil, nil, err
				}
			}
		}
		for _, raw := range parts[i].args {
			size += len(raw) + 1
		}
		attachments = append(attachments, a.attachments...)
	}
	out := append(make([]byte, 0, size), '[')
	if named {
		out = append(append(append(out, '"'), name...), '"')
	}
	for i := range parts {
		if !parts[i].isArgs {
			out = appendElement(out, parts[i].encoded)
		}
		for _, raw := range parts[i].args {
			out = appendElement(out, raw)
		}
	}
	return append(out, ']'), attachments, nil
}

// encodeValue encodes a value other than an Args, its []byte values made attachments.
func encodeValue(v any, attachments *[][]byte) ([]byte, error) {
	if str, ok := v.(string); ok && plainJSONString(str) {
		// An event's name, most often: what encoding/json would make of it, without its cost.
		return append(append(append(make([]byte, 0, len(str)+2), '"'), str...), '"'), nil
	}
	tree, err := toTree(reflect.ValueOf(v), attachments, 0)
	if err != nil {
		return nil, err
	}
	if raw, ok := tree.(json.RawMessage); ok {
		return raw, nil // json.Marshal's own output, compact and escaped already
	}
	return json.Marshal(tree)
}

// plainJSONString reports whether encoding/json writes s as it is between quotes: printable
// ASCII without the quote, the backslash, and the characters it escapes for HTML (<, >, &).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x80, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// appendElement appends an element to an array being written after its opening bracket.
func appendElement(out, elem []byte) []byte {
	if len(out) > 1 {
		out = append(out, ',')
	}
	return append(out, elem...)
}

// shiftPlaceholders adds base to the attachment numbers of the placeholders in raw, a valid
// JSON value, leaving every other byte as it is: no decoding, which would cost 20 to 450 bytes
// a value of raw.
func shiftPlaceholders(raw json.RawMessage, base int) (json.RawMessage, error) {
	type span struct{ at, end int }
	var nums []span
	if _, err := walkPlaceholders(raw, func(num []byte) bool {
		if num != nil {
			at := cap(raw) - cap(num) // num is raw[at:end], which has cap(raw)-at
			nums = append(nums, span{at, at + len(num)})
		}
		return false
	}); err != nil {
		return nil, err
	}
	if len(nums) == 0 {
		return raw, nil
	}
	// Inner objects close first: a placeholder inside a placeholder (which decoders replace
	// whole) is visited before the outer one's "num".
	slices.SortFunc(nums, func(a, b span) int { return a.at - b.at })
	out := make([]byte, 0, len(raw)+4*len(nums))
	last := 0
	for _, n := range nums {
		num, err := strconv.ParseFloat(string(raw[n.at:n.end]), 64)
		if err != nil {
			return nil, err
		}
		out = append(out, raw[last:n.at]...)
		out = strconv.AppendInt(out, int64(num)+int64(base), 10)
		last = n.end
	}
	return append(out, raw[last:]...), nil
}
