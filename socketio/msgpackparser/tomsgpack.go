package msgpackparser

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON with binary placeholders to MessagePack. MessagePack writes an array's or map's length
// before its elements, so a first pass (plan) counts the elements of every array and object
// and finds the placeholders; the second (appendValue) writes. Each is one scan, whatever the
// nesting. Placeholders are found as Args.Values resolves them: an object whose
// "_placeholder" is true and whose "num" is the number of an attachment, the last of a key
// given twice winning; it becomes that attachment as MessagePack binary. Integers are written
// as integers (as notepack.io writes JavaScript's), beyond the uint64 range as floats, other
// numbers as floats; strings are decoded as encoding/json decodes them (bytes that are not
// UTF-8, and lone UTF-16 surrogates, become U+FFFD), so that every string written is UTF-8,
// which MessagePack requires and python's msgpack enforces.

var errJSON = errors.New("msgpackparser: invalid JSON data")

// container is what the first pass learns of an array or object.
type container struct {
	count      int // elements, or members
	attachment int // for a placeholder, the attachment it stands for; -1 otherwise
	inner      int // the containers inside it
	end        int // the index past it in the JSON
}

// open is an array or object the first pass is inside.
type open struct {
	plan        int // its index in the plan
	num, numEnd int // where "num" is in the JSON, when a number; num < 0 otherwise
	object      bool
	wantKey     bool    // the next string is a key
	key         keyKind // the key of the member being read
	placeholder bool    // "_placeholder" is true
}

type keyKind uint8

const (
	keyOther keyKind = iota
	keyPlaceholder
	keyNum
)

// plan appends to dst an entry for every array and object of data, in the order they open.
func plan(dst []container, data []byte, attachments int) ([]container, error) {
	var stackRoom [8]open
	stack := stackRoom[:0]
	values := 0 // at the top level: one
	for i := 0; i < len(data); {
		c := data[i]
		switch c {
		case ' ', '\t', '\r', '\n', ':':
			i++
			continue
		case ',':
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].wantKey = true
			}
			i++
			continue
		case ']', '}':
			if len(stack) == 0 || stack[len(stack)-1].object != (c == '}') {
				return nil, errJSON
			}
			top := &stack[len(stack)-1]
			p := &dst[top.plan]
			p.inner, p.end = len(dst)-top.plan-1, i+1
			if top.placeholder && top.num >= 0 {
				num, err := strconv.ParseFloat(string(data[top.num:top.numEnd]), 64)
				if err == nil && num >= 0 && num < float64(attachments) {
					p.attachment = int(num)
				}
			}
			stack = stack[:len(stack)-1]
			i++
			continue
		}
		if len(stack) > 0 && stack[len(stack)-1].wantKey {
			top := &stack[len(stack)-1]
			end := skipString(data, i)
			if end < 0 {
				return nil, errJSON
			}
			top.key, top.wantKey = classifyKey(data[i+1:end-1]), false
			i = end
			continue
		}
		parent := len(stack) - 1
		if parent < 0 {
			if values++; values > 1 {
				return nil, errJSON
			}
		} else {
			dst[stack[parent].plan].count++
		}
		end := i + 1
		switch c {
		case '[', '{':
			if len(stack) >= maxDepth {
				return nil, errDepth
			}
			dst = append(dst, container{attachment: -1})
			stack = append(stack, open{plan: len(dst) - 1, num: -1, object: c == '{', wantKey: c == '{'})
		case '"':
			end = skipString(data, i)
		case 't':
			end = skipLiteral(data, i, "true")
		case 'f':
			end = skipLiteral(data, i, "false")
		case 'n':
			end = skipLiteral(data, i, "null")
		default:
			end = skipNumber(data, i)
		}
		if end < 0 {
			return nil, errJSON
		}
		if parent >= 0 && stack[parent].object {
			// A member's value, for its object's placeholder test (an array or object opened
			// here is neither true nor a number).
			switch o := &stack[parent]; o.key {
			case keyPlaceholder:
				o.placeholder = c == 't'
			case keyNum:
				o.num = -1
				if c == '-' || c >= '0' && c <= '9' {
					o.num, o.numEnd = i, end
				}
			}
		}
		i = end
	}
	if len(stack) > 0 || values != 1 {
		return nil, errJSON
	}
	return dst, nil
}

// classifyKey tells the keys the placeholder test looks at from the others. raw is the key
// without its quotes; one with escapes is decoded first.
func classifyKey(raw []byte) keyKind {
	var room [16]byte
	key := raw
	for _, c := range raw {
		if c == '\\' {
			key = appendUnquoted(room[:0], raw)
			break
		}
	}
	switch string(key) {
	case "_placeholder":
		return keyPlaceholder
	case "num":
		return keyNum
	}
	return keyOther
}

// appendValue appends the MessagePack of data, following the plan made of it.
func appendValue(out, data []byte, attachments [][]byte, plan []container) []byte {
	k := 0
	for i := 0; i < len(data); {
		switch c := data[i]; c {
		case ' ', '\t', '\r', '\n', ':', ',', ']', '}':
			i++
		case '[':
			out = appendHeader(out, plan[k].count, codeFixArrayLow, codeArray16)
			k++
			i++
		case '{':
			p := plan[k]
			if p.attachment >= 0 {
				out = appendBinary(out, attachments[p.attachment])
				k, i = k+1+p.inner, p.end
				break
			}
			out = appendHeader(out, p.count, codeFixMapLow, codeMap16)
			k++
			i++
		case '"':
			end := skipString(data, i)
			out = appendStr(out, data[i+1:end-1], true)
			i = end
		case 't':
			out = append(out, codeTrue)
			i += len("true")
		case 'f':
			out = append(out, codeFalse)
			i += len("false")
		case 'n':
			out = append(out, codeNil)
			i += len("null")
		default:
			end := skipNumber(data, i)
			out = appendNumber(out, data[i:end])
			i = end
		}
	}
	return out
}

// skipString returns the index past the string whose quote is at data[i], or -1.
func skipString(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '"':
			return j + 1
		case '\\':
			j++
		}
	}
	return -1
}

func skipLiteral(data []byte, i int, lit string) int {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

func skipNumber(data []byte, i int) int {
	j := i
	for j < len(data) {
		switch data[j] {
		case '-', '+', '.', 'e', 'E', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			j++
			continue
		}
		break
	}
	if j == i {
		return -1
	}
	return j
}

// appendNumber appends a JSON number: an integer as the smallest MessagePack integer that
// holds it, anything else as a float64.
func appendNumber(out, num []byte) []byte {
	integer := true
	for _, c := range num {
		if c == '.' || c == 'e' || c == 'E' {
			integer = false
			break
		}
	}
	if integer {
		if v, ok := parseInt(num); ok {
			return appendInt(out, v)
		}
		if num[0] != '-' {
			if u, err := strconv.ParseUint(string(num), 10, 64); err == nil {
				return appendUint(out, u)
			}
		}
	}
	// Valid JSON fails only beyond float64's range, as ±Inf, which JavaScript's JSON.parse
	// makes of it too.
	f, _ := strconv.ParseFloat(string(num), 64)
	return appendFloat64(out, f)
}

// parseInt parses a decimal integer that fits an int64, without allocating.
func parseInt(num []byte) (int64, bool) {
	neg := len(num) > 0 && num[0] == '-'
	digits := num
	if neg {
		digits = num[1:]
	}
	if len(digits) == 0 || len(digits) > 18 { // 18 digits cannot overflow; longer: strconv
		v, err := strconv.ParseInt(string(num), 10, 64)
		return v, err == nil
	}
	var v int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

func appendInt(out []byte, v int64) []byte {
	switch {
	case v >= 0:
		return appendUint(out, uint64(v))
	case v >= -32:
		return append(out, byte(v))
	case v >= math.MinInt8:
		return append(out, codeInt8, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(out, codeInt8+1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(out, codeInt8+2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(out, codeInt8+3), uint64(v))
}

func appendUint(out []byte, v uint64) []byte {
	switch {
	case v < codeFixMapLow:
		return append(out, byte(v))
	case v <= math.MaxUint8:
		return append(out, codeUint8, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(out, codeUint8+1), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(out, codeUint8+2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(out, codeUint8+3), v)
}

func appendFloat64(out []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(out, codeFloat64), math.Float64bits(f))
}

// appendHeader appends an array's or map's header: the fixed form up to 15 elements, then the
// 16-bit and 32-bit ones.
func appendHeader(out []byte, n int, fixed, code16 byte) []byte {
	switch {
	case n < 16:
		return append(out, fixed|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(out, code16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(out, code16+1), uint32(n))
}

// appendLength appends a string's or binary value's header: the code of 8, 16 or 32 bits.
func appendLength(out []byte, n int, code8 byte) []byte {
	switch {
	case n <= math.MaxUint8:
		return append(out, code8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(out, code8+1), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(out, code8+2), uint32(n))
}

func appendBinary(out, b []byte) []byte {
	return append(appendLength(out, len(b), codeBin8), b...)
}

// strHeaderMax is the longest string header, str 32's.
const strHeaderMax = 5

// appendStr appends s as a MessagePack string: a JSON string's contents without its quotes
// when escaped, else bytes as they are, made UTF-8 either way.
func appendStr(out, s []byte, escaped bool) []byte {
	plain := utf8.Valid(s)
	if plain && escaped {
		for _, c := range s {
			if c == '\\' {
				plain = false
				break
			}
		}
	}
	if plain {
		return append(appendStringHeader(out, len(s)), s...)
	}
	// Decoded after room for the longest header, then moved up to the header it needs.
	at := len(out)
	out = append(out, make([]byte, strHeaderMax)...)
	if escaped {
		out = appendUnquoted(out, s)
	} else {
		out = appendUTF8(out, s)
	}
	n := len(out) - at - strHeaderMax
	header := appendStringHeader(make([]byte, 0, strHeaderMax), n)
	copy(out[at:], header)
	copy(out[at+len(header):], out[at+strHeaderMax:])
	return out[:at+len(header)+n]
}

func appendStringHeader(out []byte, n int) []byte {
	if n < 32 {
		return append(out, codeFixStrLow|byte(n))
	}
	return appendLength(out, n, codeStr8)
}

// appendUTF8 appends s with each byte that is not part of UTF-8 as U+FFFD.
func appendUTF8(out, s []byte) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, s[i:i+size]...)
		}
		i += size
	}
	return out
}

// appendUnquoted appends the contents of a JSON string decoded as encoding/json decodes it.
func appendUnquoted(out, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i += 2
			switch s[i-1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := getu4(s[i-2:])
				if r < 0 {
					out = utf8.AppendRune(out, utf8.RuneError) // not in valid JSON
					continue
				}
				i += 4
				if utf16.IsSurrogate(r) {
					if dec := utf16.DecodeRune(r, getu4(s[i:])); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default: // '"', '\\', '/'
				out = append(out, s[i-1])
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, s[i:i+size]...)
			}
			i += size
		}
	}
	return out
}

// getu4 decodes the \uXXXX escape at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
