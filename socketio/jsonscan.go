package socketio

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// A validating JSON scanner for the receive path. Every event a client sends is a JSON array
// that must be checked and split into its elements; encoding/json does that in two passes
// (checkValid, then the decoder) and copies each element. This scanner does it in one pass,
// returns sub-slices of the input, and accepts exactly what encoding/json accepts: RFC 8259
// with encoding/json's leniency inside strings (any byte from 0x20 up, invalid UTF-8 included;
// \u escapes of lone surrogates) and its nesting limit. FuzzSplitArray holds it to that.

// maxNestingDepth is encoding/json's limit on nested arrays and objects: a value nested deeper
// is invalid there, so it is here.
const maxNestingDepth = 10000

// splitArray validates data as one JSON array with only whitespace around it and appends the
// raw bytes of its elements, without surrounding whitespace, to dst[:0]: all of them, or the
// first limit when limit is positive. n is the number of elements, which may be more than
// those appended. The elements are sub-slices of data (capped, so that appending to one cannot
// overwrite the next): data must not change while they are in use. A valid array without
// elements gives a non-nil empty slice, as encoding/json does. ok is false when data is not a
// valid JSON array.
func splitArray(dst []json.RawMessage, data []byte, limit int) (elems []json.RawMessage, n int, ok bool) {
	dst = dst[:0]
	if dst == nil {
		dst = []json.RawMessage{}
	}
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return dst, 0, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return dst, 0, skipSpace(data, i+1) == len(data)
	}
	for {
		end := skipValue(data, i, 1)
		if end < 0 {
			return dst[:0], 0, false
		}
		if limit <= 0 || n < limit {
			if len(dst) == cap(dst) {
				// Doubling: append's growth by a quarter would allocate five times the final
				// slice over the way, 24 bytes an element, for an array of 1-byte elements.
				dst = slices.Grow(dst, max(cap(dst), 4))
			}
			dst = append(dst, json.RawMessage(data[i:end:end]))
		}
		n++
		i = skipSpace(data, end)
		if i >= len(data) {
			return dst[:0], 0, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			if skipSpace(data, i+1) != len(data) {
				return dst[:0], 0, false
			}
			return dst, n, true
		default:
			return dst[:0], 0, false
		}
	}
}

// validJSON reports whether data is one JSON value with only whitespace around it, as
// json.Valid does.
func validJSON(data []byte) bool {
	i := skipSpace(data, 0)
	end := skipValue(data, i, 0)
	return end >= 0 && skipSpace(data, end) == len(data)
}

// skipValue returns the index just past the JSON value that starts at data[i], or -1 when no
// valid value starts there. depth is the number of arrays and objects the value is inside.
func skipValue(data []byte, i, depth int) int {
	var open containerStack
	for {
		// data[i] starts a value.
		if i < 0 || i >= len(data) {
			return -1
		}
		switch c := data[i]; c {
		case '"':
			i = skipString(data, i)
		case '[', '{':
			if depth+open.len() >= maxNestingDepth {
				return -1
			}
			open.push(c == '{')
			i = skipSpace(data, i+1)
			if i >= len(data) {
				return -1
			}
			if data[i] == c+2 { // ']' and '}' follow '[' and '{' by two
				open.pop()
				i++
				break
			}
			if c == '{' {
				i = skipKey(data, i)
			}
			continue
		case 't':
			i = skipLiteral(data, i, "true")
		case 'f':
			i = skipLiteral(data, i, "false")
		case 'n':
			i = skipLiteral(data, i, "null")
		default:
			i = skipNumber(data, i)
		}
		// After a value: close the containers it ends, or move on to the next element.
		for {
			if i < 0 {
				return -1
			}
			if open.len() == 0 {
				return i
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return -1
			}
			inObject := open.top()
			c := data[i]
			if c == ',' {
				i = skipSpace(data, i+1)
				if inObject {
					i = skipKey(data, i)
				}
				break
			}
			if inObject && c != '}' || !inObject && c != ']' {
				return -1
			}
			open.pop()
			i++
		}
	}
}

// skipKey returns the index past an object's key and its colon, and the whitespace after, or
// -1. The key starts at data[i].
func skipKey(data []byte, i int) int {
	if i < 0 || i >= len(data) || data[i] != '"' {
		return -1
	}
	return skipColon(data, skipString(data, i))
}

// skipColon returns the index past the whitespace, colon and whitespace that follow a key
// ending at data[i], or -1.
func skipColon(data []byte, i int) int {
	if i < 0 {
		return -1
	}
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return -1
	}
	return skipSpace(data, i+1)
}

// containerStack records, for each array or object open around the scanner, whether it is an
// object: one bit each, without allocating for the first 64 levels.
type containerStack struct {
	low  uint64
	high []uint64
	n    int
}

func (s *containerStack) len() int { return s.n }

func (s *containerStack) push(object bool) {
	var bit uint64
	if object {
		bit = 1
	}
	if s.n < 64 {
		s.low = s.low&^(1<<s.n) | bit<<s.n
	} else {
		word, shift := (s.n-64)/64, (s.n-64)%64
		if word == len(s.high) {
			s.high = append(s.high, 0)
		}
		s.high[word] = s.high[word]&^(1<<shift) | bit<<shift
	}
	s.n++
}

func (s *containerStack) pop() { s.n-- }

func (s *containerStack) top() bool {
	n := s.n - 1
	if n < 64 {
		return s.low>>n&1 == 1
	}
	return s.high[(n-64)/64]>>((n-64)%64)&1 == 1
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// plainInString marks the bytes that stand for themselves inside a JSON string: all but the
// quote, the backslash and control characters. Bytes from 0x80 are plain, valid UTF-8 or not,
// as encoding/json has them.
var plainInString = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// skipString returns the index past the string that starts with the quote at data[i], or -1.
func skipString(data []byte, i int) int {
	i++
	for {
		// Eight plain bytes at a time, the common case of a string without escapes.
		for i+8 <= len(data) && !hasSpecialByte(data[i:i+8]) {
			i += 8
		}
		for i < len(data) && plainInString[data[i]] {
			i++
		}
		if i >= len(data) {
			return -1
		}
		switch data[i] {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= len(data) {
				return -1
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) || !isHex(data[i+5]) {
					return -1
				}
				i += 6
			default:
				return -1
			}
		default: // a control character
			return -1
		}
	}
}

// hasSpecialByte reports whether the 8 bytes of b hold a quote, a backslash or a control
// character, testing them at once.
func hasSpecialByte(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := binary.LittleEndian.Uint64(b)
	// A byte of x^('"'*ones) is zero where x has a quote; (v-ones)&^v&highs is non-zero when v
	// has a zero byte, and (x-0x20*ones)&^x&highs when x has a byte below 0x20. Both tests are
	// exact about whether there is such a byte, which is all that is asked.
	zeroIn := func(v uint64) uint64 { return (v - ones) &^ v & highs }
	return zeroIn(x^('"'*ones))|zeroIn(x^('\\'*ones))|(x-0x20*ones)&^x&highs != 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipLiteral returns the index past lit, which must start at data[i], or -1.
func skipLiteral(data []byte, i int, lit string) int {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// skipNumber returns the index past the number that starts at data[i], or -1:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(data []byte, i int) int {
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i >= len(data) {
		return -1
	}
	switch c := data[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i = skipDigits(data, i+1)
	default:
		return -1
	}
	if i < len(data) && data[i] == '.' {
		j := skipDigits(data, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := skipDigits(data, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	return i
}

// jsonString decodes a JSON string as encoding/json does. A string without escapes in valid
// UTF-8, the usual event name, costs one allocation, the string; others are left to
// encoding/json, which replaces invalid UTF-8 and lone surrogates with U+FFFD. ok is false
// when raw is not a JSON string.
func jsonString(raw []byte) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		if body, plain := plainStringBody(raw); plain {
			return string(body), true
		}
	}
	return decodeJSONString(raw)
}

// decodeJSONString is jsonString's slow path, apart so that the fast path's string does not
// escape to the heap as the decoding's target does.
func decodeJSONString(raw []byte) (s string, ok bool) {
	if json.Unmarshal(raw, &s) != nil || firstByte(raw) != '"' {
		return "", false // null decodes into a string too, but is not one
	}
	return s, true
}

// plainStringBody returns what is between the quotes of raw, a JSON string, and whether it
// stands for itself: no escapes, no control characters, valid UTF-8.
func plainStringBody(raw []byte) ([]byte, bool) {
	body := raw[1 : len(raw)-1]
	ascii := true
	for _, c := range body {
		if c == '"' || c == '\\' || c < 0x20 {
			return body, false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return body, ascii || utf8.Valid(body)
}

// The parts of a placeholder, {"_placeholder":true,"num":N}, as they appear in the JSON.
const (
	memberOther = iota
	memberPlaceholder
	memberNum
)

// placeholderFrame is the walk's state in one open array or object.
type placeholderFrame struct {
	object      bool
	member      int    // which member's value comes next, in an object
	placeholder bool   // the last "_placeholder" member is true
	num         []byte // the last "num" member, when a number
	bad         bool   // a bad placeholder was found in a value inside
}

// findBadPlaceholder walks data, a JSON value already validated, looking for a placeholder
// that does not point at one of the attachments, the way checkPlaceholdersDecoded does on the
// decoded value. It returns errPayload if a number does not fit a float64, which fails
// encoding/json's decoding into an any. bad is true when a bad placeholder may be there: it
// may also be a value encoding/json would have dropped as a duplicate key, which the caller
// checks by decoding.
func findBadPlaceholder(data []byte, attachments int) (bad bool, err error) {
	return walkPlaceholders(data, func(num []byte) bool { return !validPlaceholderNum(num, attachments) })
}

// walkPlaceholders walks data, a JSON value already validated, calling visit for each object
// that decodes to a placeholder (its last "_placeholder" member is true) with its last "num"
// member, a sub-slice of data, or nil when that is not a number; visit returns whether the
// placeholder is bad, and bad whether visit found one. Objects are visited as they close,
// inner ones first. It returns errPayload if a number does not fit a float64.
func walkPlaceholders(data []byte, visit func(num []byte) (bad bool)) (bad bool, err error) {
	var buf [8]placeholderFrame
	stack := buf[:0]
	i := skipSpace(data, 0)
	for {
		if i >= len(data) {
			return false, errPayload
		}
		var valueBad, isTrue bool
		var number []byte
		switch c := data[i]; c {
		case '[', '{':
			stack = append(stack, placeholderFrame{object: c == '{'})
			i = skipSpace(data, i+1)
			if i < len(data) && data[i] == c+2 {
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				i = stack[len(stack)-1].readKey(data, i)
				if i < 0 {
					return false, errPayload
				}
			}
			continue
		case '"':
			i = skipString(data, i)
		case 't':
			i, isTrue = skipLiteral(data, i, "true"), true
		case 'f':
			i = skipLiteral(data, i, "false")
		case 'n':
			i = skipLiteral(data, i, "null")
		default:
			start := i
			if i = skipNumber(data, i); i < 0 {
				return false, errPayload
			}
			number = data[start:i]
			if !fitsFloat64(number) {
				return false, errPayload
			}
		}
		for {
			if i < 0 {
				return false, errPayload
			}
			if len(stack) == 0 {
				return valueBad, nil
			}
			top := &stack[len(stack)-1]
			top.bad = top.bad || valueBad
			if top.object {
				switch top.member {
				case memberPlaceholder:
					top.placeholder = isTrue
				case memberNum:
					top.num = number
				}
			}
			if i = skipSpace(data, i); i >= len(data) {
				return false, errPayload
			}
			if data[i] == ',' {
				i = skipSpace(data, i+1)
				if top.object {
					if i = top.readKey(data, i); i < 0 {
						return false, errPayload
					}
				}
				break
			}
			// The container ends: the JSON is valid.
			i++
			valueBad, isTrue, number = top.bad, false, nil
			if top.object && top.placeholder {
				valueBad = visit(top.num)
			}
			stack = stack[:len(stack)-1]
		}
	}
}

// readKey reads the key at data[i] and its colon, noting whether it is one a placeholder has,
// and returns the index of the value.
func (f *placeholderFrame) readKey(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}
	end := skipString(data, i)
	if end < 0 {
		return -1
	}
	f.member = placeholderMember(data[i:end])
	return skipColon(data, end)
}

// maxEscapedKey is the longest a key that decodes to "_placeholder" can be: twelve \uXXXX
// escapes and the quotes.
const maxEscapedKey = 12*6 + 2

// placeholderMember tells which member of a placeholder key, a JSON string, names once decoded
// as encoding/json decodes it: "\u006eum" is "num".
func placeholderMember(key []byte) int {
	name := key[1 : len(key)-1]
	if len(key) <= maxEscapedKey && bytes.IndexByte(name, '\\') >= 0 {
		decoded, _ := jsonString(key)
		name = []byte(decoded)
	}
	switch string(name) {
	case "_placeholder":
		return memberPlaceholder
	case "num":
		return memberNum
	}
	return memberOther
}

// fitsFloat64 reports whether encoding/json can decode the number into a float64: only a
// number with an exponent or hundreds of digits can be out of range.
func fitsFloat64(number []byte) bool {
	for _, c := range number {
		if c == 'e' || c == 'E' {
			_, err := strconv.ParseFloat(string(number), 64)
			return err == nil
		}
	}
	if len(number) < 300 {
		return true
	}
	_, err := strconv.ParseFloat(string(number), 64)
	return err == nil
}

// validPlaceholderNum applies checkPlaceholdersDecoded's rule to a placeholder's "num".
func validPlaceholderNum(number []byte, attachments int) bool {
	if number == nil {
		return false
	}
	num, err := strconv.ParseFloat(string(number), 64)
	return err == nil && !(num < 0 || num >= float64(attachments) || num != float64(int(num)))
}
