package msgpackparser

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// MessagePack to JSON with binary placeholders, the form the server and client keep packets
// in. Values become what JSON.stringify makes of what notepack.io decodes (the packet a Node
// server with socket.io-msgpack-parser would handle), except where JSON loses what Go keeps:
// integers keep every digit (uint64 included), and binary values become placeholders with
// attachments rather than JSON objects.

// maxDepth bounds the nesting of arrays and maps, as encoding/json (and the JSON parser's
// scanner, which the packet meets next) bounds JSON's.
const maxDepth = 10000

var (
	errDepth     = fmt.Errorf("msgpackparser: arrays and maps nested more than %d deep", maxDepth)
	errLookAlike = errors.New("msgpackparser: a map reading as a binary placeholder ({_placeholder: true}) beside binary values")
)

// stackKeep bounds the frames a converter keeps between packets: deep nesting is rare.
const stackKeep = 256

// frame is an array or map being converted.
type frame struct {
	left   int // elements, or pairs, still to read
	object bool
	wrote  bool // an element is written: the next takes a comma
}

// converter converts one packet's data, keeping its attachments.
type converter struct {
	maxAttachments int
	attachments    [][]byte
	lookAlike      bool // a map with "_placeholder": true was met
	stack          []frame
	key            []byte // an integer key's digits
}

// convert appends the JSON of the value at r to out. Keys of maps must be strings or
// integers (an integer key becomes its decimal string, as in JavaScript); a map entry whose
// value is undefined is left out and an undefined element is null, as JSON.stringify does.
func (c *converter) convert(r *reader, out []byte) ([]byte, error) {
	stack := c.stack[:0]
	defer func() {
		if cap(stack) <= stackKeep {
			c.stack = stack[:0]
		}
	}()
	out, err := c.value(r, out, &stack)
	for err == nil && len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.left == 0 {
			if top.object {
				out = append(out, '}')
			} else {
				out = append(out, ']')
			}
			stack = stack[:len(stack)-1]
			continue
		}
		top.left--
		if !top.object {
			if top.wrote {
				out = append(out, ',')
			}
			top.wrote = true
			out, err = c.value(r, out, &stack)
			continue
		}
		var key []byte
		if key, err = c.readKey(r); err != nil {
			break
		}
		if r.undefinedNext() {
			continue
		}
		if top.wrote {
			out = append(out, ',')
		}
		top.wrote = true
		out = appendJSONString(out, key)
		out = append(out, ':')
		if string(key) == "_placeholder" {
			if b, ok := r.peek(); ok && b == codeTrue {
				c.lookAlike = true
			}
		}
		out, err = c.value(r, out, &stack)
	}
	return out, err
}

// readKey reads a map's key: a string's bytes, or an integer's digits.
func (c *converter) readKey(r *reader) ([]byte, error) {
	t, err := r.next()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case kindStr:
		return t.b, nil
	case kindInt:
		c.key = strconv.AppendInt(c.key[:0], t.i, 10)
		return c.key, nil
	case kindUint:
		c.key = strconv.AppendUint(c.key[:0], t.u, 10)
		return c.key, nil
	}
	return nil, fmt.Errorf("msgpackparser: a map key that is a %s: only strings and integers are taken", t.kind)
}

// value appends one value's JSON, or opens its container on the stack.
func (c *converter) value(r *reader, out []byte, stack *[]frame) ([]byte, error) {
	t, err := r.next()
	if err != nil {
		return out, err
	}
	switch t.kind {
	case kindNil:
		return append(out, "null"...), nil
	case kindBool:
		return strconv.AppendBool(out, t.bool), nil
	case kindInt:
		return strconv.AppendInt(out, t.i, 10), nil
	case kindUint:
		return strconv.AppendUint(out, t.u, 10), nil
	case kindFloat:
		return appendJSONFloat(out, t.f), nil
	case kindStr:
		return appendJSONString(out, t.b), nil
	case kindBin:
		return c.binary(out, t.b)
	case kindArray, kindMap:
		if len(*stack) >= maxDepth {
			return out, errDepth
		}
		object := t.kind == kindMap
		if object {
			out = append(out, '{')
		} else {
			out = append(out, '[')
		}
		*stack = append(*stack, frame{left: t.n, object: object})
		return out, nil
	}
	// An extension, as notepack.io decodes it.
	switch {
	case t.undefined():
		return append(out, "null"...), nil // where it is not left out: an array's element
	case t.date():
		return appendJSONDate(out, int64(beUint64(t.b))), nil
	case t.arrayBuffer():
		return c.binary(out, t.b)
	}
	// Any other extension is the pair [type, data].
	out = strconv.AppendInt(append(out, '['), int64(t.ext), 10)
	out, err = c.binary(append(out, ','), t.b)
	return append(out, ']'), err
}

// binary appends a placeholder for b and keeps b as an attachment.
func (c *converter) binary(out, b []byte) ([]byte, error) {
	if len(c.attachments) >= c.maxAttachments {
		return out, fmt.Errorf("msgpackparser: more than %d binary values", c.maxAttachments)
	}
	out = append(out, `{"_placeholder":true,"num":`...)
	out = strconv.AppendInt(out, int64(len(c.attachments)), 10)
	c.attachments = append(c.attachments, b)
	return append(out, '}'), nil
}

func beUint64(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}

// appendJSONFloat appends f as encoding/json writes a float64; NaN and the infinities, which JSON
// has not, are null, as JSON.stringify writes them.
func appendJSONFloat(out []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(out, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	out = strconv.AppendFloat(out, f, format, -1, 64)
	if format == 'e' {
		// e-07 as e-7, as encoding/json and JavaScript write it.
		if n := len(out); n >= 4 && out[n-4] == 'e' && out[n-3] == '-' && out[n-2] == '0' {
			out[n-2] = out[n-1]
			out = out[:n-1]
		}
	}
	return out
}

// maxDate is the largest distance from 1970 a JavaScript Date holds, in milliseconds.
const maxDate = 8.64e15

// appendJSONDate appends what JSON.stringify makes of a Date: its toISOString, or null for an
// invalid one.
func appendJSONDate(out []byte, ms int64) []byte {
	if ms > maxDate || ms < -maxDate {
		return append(out, "null"...)
	}
	t := time.UnixMilli(ms).UTC()
	out = append(out, '"')
	if y := t.Year(); y < 0 || y > 9999 {
		// JavaScript's extended years: a sign and six digits.
		sign := byte('+')
		if y < 0 {
			sign, y = '-', -y
		}
		out = append(out, sign)
		out = append(out, fmt.Sprintf("%06d", y)...)
		out = t.AppendFormat(out, "-01-02T15:04:05.000Z")
	} else {
		out = t.AppendFormat(out, "2006-01-02T15:04:05.000Z")
	}
	return append(out, '"')
}

// appendJSONString appends s as a JSON string. Bytes that are not UTF-8 are kept as they are,
// as the JSON parser keeps them; decoding them (encoding/json, notepack.io) makes each U+FFFD.
func appendJSONString(out, s []byte) []byte {
	out = append(out, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		out = append(out, s[start:i]...)
		switch c {
		case '"', '\\':
			out = append(out, '\\', c)
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	out = append(out, s[start:]...)
	return append(out, '"')
}

const hexDigits = "0123456789abcdef"
