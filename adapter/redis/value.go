package redis

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// value is a decoded MessagePack or JSON value. Node's adapters send both encodings, and
// Socket.IO packets carry binary that MessagePack holds natively and JSON does not, so every
// message goes through this one tree: object keys keep their order (a client iterating an
// object sees what the sender built) and binary stays binary.
type value struct {
	kind  kind
	b     bool
	i     int64
	f     float64
	s     string // string, or the number's text for kindNumber
	bin   []byte
	items []value  // array elements, or object values
	keys  []string // object keys, beside items
}

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindInt
	kindFloat
	kindNumber // a JSON number kept as written
	kindString
	kindBinary
	kindArray
	kindObject
)

// maxDepth bounds nesting: messages come from the network.
const maxDepth = 64

// maxExt bounds a MessagePack extension, allocated before it is read.
const maxExt = 16 << 20

var errTooDeep = errors.New("value nested too deeply")

func str(s string) value         { return value{kind: kindString, s: s} }
func integer(i int64) value      { return value{kind: kindInt, i: i} }
func boolean(b bool) value       { return value{kind: kindBool, b: b} }
func binary(b []byte) value      { return value{kind: kindBinary, bin: b} }
func array(items ...value) value { return value{kind: kindArray, items: items} }
func object(kv ...any) value {
	v := value{kind: kindObject}
	for i := 0; i+1 < len(kv); i += 2 {
		v.set(kv[i].(string), kv[i+1].(value))
	}
	return v
}

func strs(ss []string) value {
	v := value{kind: kindArray, items: make([]value, len(ss))}
	for i, s := range ss {
		v.items[i] = str(s)
	}
	return v
}

// set adds a key to an object.
func (v *value) set(key string, val value) {
	v.keys = append(v.keys, key)
	v.items = append(v.items, val)
}

// get returns an object's value for key, and whether it has one.
func (v value) get(key string) (value, bool) {
	if v.kind != kindObject {
		return value{}, false
	}
	for i, k := range v.keys {
		if k == key {
			return v.items[i], true
		}
	}
	return value{}, false
}

// field returns an object's value for key, null when absent.
func (v value) field(key string) value {
	f, _ := v.get(key)
	return f
}

// text returns a string, or a number as JavaScript writes it (rooms may be numbers in Node).
func (v value) text() (string, bool) {
	switch v.kind {
	case kindString, kindNumber:
		return v.s, true
	case kindInt:
		return strconv.FormatInt(v.i, 10), true
	case kindFloat:
		b, err := json.Marshal(v.f)
		return string(b), err == nil
	}
	return "", false
}

// int returns a number as an integer.
func (v value) int() (int64, bool) {
	switch v.kind {
	case kindInt:
		return v.i, true
	case kindFloat:
		return int64(v.f), v.f == math.Trunc(v.f)
	case kindNumber:
		i, err := strconv.ParseInt(v.s, 10, 64)
		if err != nil {
			f, err := strconv.ParseFloat(v.s, 64)
			return int64(f), err == nil
		}
		return i, true
	case kindString: // the streams adapter writes message types as strings
		i, err := strconv.ParseInt(v.s, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// truthy reports a JavaScript truthy boolean flag.
func (v value) truthy() bool { return v.kind == kindBool && v.b }

// stringList returns an array of strings (or numbers) as strings.
func (v value) stringList() []string {
	if v.kind != kindArray {
		return nil
	}
	out := make([]string, 0, len(v.items))
	for _, it := range v.items {
		if s, ok := it.text(); ok {
			out = append(out, s)
		}
	}
	return out
}

// decodeMsgpack decodes one MessagePack value.
func decodeMsgpack(b []byte) (value, error) {
	d := msgpack.NewDecoder(bytes.NewReader(b))
	v, err := readMsgpack(d, 0)
	if err != nil {
		return value{}, fmt.Errorf("msgpack: %w", err)
	}
	return v, nil
}

func readMsgpack(d *msgpack.Decoder, depth int) (value, error) {
	if depth > maxDepth {
		return value{}, errTooDeep
	}
	c, err := d.PeekCode()
	if err != nil {
		return value{}, err
	}
	switch {
	case c == msgpcode.Nil:
		return value{}, d.DecodeNil()
	case c == msgpcode.True || c == msgpcode.False:
		b, err := d.DecodeBool()
		return boolean(b), err
	case c == msgpcode.Float || c == msgpcode.Double:
		f, err := d.DecodeFloat64()
		return value{kind: kindFloat, f: f}, err
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
		if c == msgpcode.Uint64 {
			u, err := d.DecodeUint64()
			if u > math.MaxInt64 {
				return value{kind: kindFloat, f: float64(u)}, err
			}
			return integer(int64(u)), err
		}
		i, err := d.DecodeInt64()
		return integer(i), err
	case msgpcode.IsString(c):
		s, err := d.DecodeString()
		return str(s), err
	case msgpcode.IsBin(c):
		b, err := d.DecodeBytes()
		if b == nil {
			b = []byte{}
		}
		return binary(b), err
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil || n < 0 {
			return value{}, err
		}
		v := value{kind: kindArray, items: make([]value, 0, min(n, 1024))}
		for range n {
			it, err := readMsgpack(d, depth+1)
			if err != nil {
				return value{}, err
			}
			v.items = append(v.items, it)
		}
		return v, nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil || n < 0 {
			return value{}, err
		}
		v := value{kind: kindObject}
		for range n {
			k, err := readMsgpack(d, depth+1)
			if err != nil {
				return value{}, err
			}
			key, ok := k.text()
			if !ok {
				return value{}, fmt.Errorf("map key of kind %d", k.kind)
			}
			it, err := readMsgpack(d, depth+1)
			if err != nil {
				return value{}, err
			}
			v.set(key, it)
		}
		return v, nil
	case msgpcode.IsExt(c):
		return readExt(d)
	}
	return value{}, fmt.Errorf("unexpected code %#x", c)
}

// readExt decodes the extensions JavaScript encoders use: timestamps (Date), which become
// the ISO string JSON.stringify writes, and notepack's old ArrayBuffer (type 0, more than one
// byte), which is binary. Its undefined (type 0, one byte) and any other extension are null.
func readExt(d *msgpack.Decoder) (value, error) {
	typ, n, err := d.DecodeExtHeader()
	if err != nil {
		return value{}, err
	}
	if n < 0 || n > maxExt {
		return value{}, fmt.Errorf("extension of %d bytes", n)
	}
	data := make([]byte, n)
	if err := d.ReadFull(data); err != nil {
		return value{}, err
	}
	switch {
	case typ == -1:
		var sec, nsec int64
		switch n {
		case 4:
			sec = int64(uint32(be(data)))
		case 8:
			x := be(data)
			nsec, sec = int64(x>>34), int64(x&(1<<34-1))
		case 12:
			nsec, sec = int64(uint32(be(data[:4]))), int64(be(data[4:]))
		default:
			return value{}, nil
		}
		return str(time.Unix(sec, nsec).UTC().Format("2006-01-02T15:04:05.000Z")), nil
	case typ == 0 && n > 1:
		return binary(data), nil
	}
	return value{}, nil
}

func be(b []byte) uint64 {
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}

// encodeMsgpack appends v in MessagePack to buf, integers in their smallest form as
// JavaScript encoders write them.
func (v value) encodeMsgpack(buf *bytes.Buffer) error {
	e := msgpack.NewEncoder(buf)
	e.UseCompactInts(true)
	e.UseCompactFloats(false)
	return v.writeMsgpack(e)
}

func (v value) writeMsgpack(e *msgpack.Encoder) error {
	switch v.kind {
	case kindNull:
		return e.EncodeNil()
	case kindBool:
		return e.EncodeBool(v.b)
	case kindInt:
		return e.EncodeInt(v.i)
	case kindFloat:
		return writeFloat(e, v.f)
	case kindNumber:
		if i, err := strconv.ParseInt(v.s, 10, 64); err == nil {
			return e.EncodeInt(i)
		}
		f, err := strconv.ParseFloat(v.s, 64)
		if err != nil {
			return err
		}
		return writeFloat(e, f)
	case kindString:
		return e.EncodeString(v.s)
	case kindBinary:
		return e.EncodeBytes(v.bin)
	case kindArray:
		if err := e.EncodeArrayLen(len(v.items)); err != nil {
			return err
		}
		for _, it := range v.items {
			if err := it.writeMsgpack(e); err != nil {
				return err
			}
		}
		return nil
	case kindObject:
		if err := e.EncodeMapLen(len(v.items)); err != nil {
			return err
		}
		for i, it := range v.items {
			if err := e.EncodeString(v.keys[i]); err != nil {
				return err
			}
			if err := it.writeMsgpack(e); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("value of kind %d", v.kind)
}

// writeFloat writes integral floats as integers, as JavaScript (which has one number type)
// does.
func writeFloat(e *msgpack.Encoder, f float64) error {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return e.EncodeInt(int64(f))
	}
	return e.EncodeFloat64(f)
}

// decodeJSON decodes one JSON value, numbers kept as written.
func decodeJSON(b []byte) (value, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := readJSON(d, 0)
	if err != nil {
		return value{}, fmt.Errorf("json: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return value{}, errors.New("json: data after the value")
	}
	return v, nil
}

func readJSON(d *json.Decoder, depth int) (value, error) {
	if depth > maxDepth {
		return value{}, errTooDeep
	}
	tok, err := d.Token()
	if err != nil {
		return value{}, err
	}
	switch t := tok.(type) {
	case nil:
		return value{}, nil
	case bool:
		return boolean(t), nil
	case json.Number:
		return value{kind: kindNumber, s: string(t)}, nil
	case string:
		return str(t), nil
	case json.Delim:
		switch t {
		case '[':
			v := value{kind: kindArray}
			for d.More() {
				it, err := readJSON(d, depth+1)
				if err != nil {
					return value{}, err
				}
				v.items = append(v.items, it)
			}
			_, err := d.Token()
			return v, err
		case '{':
			v := value{kind: kindObject}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return value{}, err
				}
				it, err := readJSON(d, depth+1)
				if err != nil {
					return value{}, err
				}
				v.set(k.(string), it)
			}
			_, err := d.Token()
			return v, err
		}
	}
	return value{}, fmt.Errorf("unexpected token %v", tok)
}

// binaryForm says how appendJSON writes binary values.
type binaryForm uint8

const (
	// placeholders: binary becomes a Socket.IO placeholder and is appended to attachments.
	placeholders binaryForm = iota
	// bufferObjects: binary becomes {"type":"Buffer","data":[...]}, what JSON.stringify makes
	// of a Node Buffer.
	bufferObjects
)

// appendJSON appends v as JSON.
func (v value) appendJSON(out []byte, form binaryForm, attachments *[][]byte) []byte {
	switch v.kind {
	case kindNull:
		return append(out, "null"...)
	case kindBool:
		return strconv.AppendBool(out, v.b)
	case kindInt:
		return strconv.AppendInt(out, v.i, 10)
	case kindFloat:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return append(out, "null"...) // as JSON.stringify
		}
		b, _ := json.Marshal(v.f) // ES6 number formatting, as JavaScript
		return append(out, b...)
	case kindNumber:
		return append(out, v.s...)
	case kindString:
		return appendString(out, v.s)
	case kindBinary:
		if form == placeholders && attachments != nil {
			out = append(out, `{"_placeholder":true,"num":`...)
			out = strconv.AppendInt(out, int64(len(*attachments)), 10)
			*attachments = append(*attachments, v.bin)
			return append(out, '}')
		}
		out = append(out, `{"type":"Buffer","data":[`...)
		for i, c := range v.bin {
			if i > 0 {
				out = append(out, ',')
			}
			out = strconv.AppendUint(out, uint64(c), 10)
		}
		return append(out, "]}"...)
	case kindArray:
		out = append(out, '[')
		for i, it := range v.items {
			if i > 0 {
				out = append(out, ',')
			}
			out = it.appendJSON(out, form, attachments)
		}
		return append(out, ']')
	case kindObject:
		out = append(out, '{')
		for i, it := range v.items {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendString(out, v.keys[i])
			out = append(out, ':')
			out = it.appendJSON(out, form, attachments)
		}
		return append(out, '}')
	}
	return append(out, "null"...)
}

// appendString appends s as a JSON string, without escaping HTML characters as
// JSON.stringify does not.
func appendString(out []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
	}
	if plain {
		out = append(out, '"')
		out = append(out, s...)
		return append(out, '"')
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return append(out, bytes.TrimRight(b.Bytes(), "\n")...)
}

// json returns v as JSON, binary as Buffer objects.
func (v value) json() []byte { return v.appendJSON(nil, bufferObjects, nil) }

// resolve replaces Socket.IO placeholders by the attachments they point at.
func (v value) resolve(attachments [][]byte) (value, error) {
	switch v.kind {
	case kindArray:
		out := v
		out.items = make([]value, len(v.items))
		for i, it := range v.items {
			r, err := it.resolve(attachments)
			if err != nil {
				return value{}, err
			}
			out.items[i] = r
		}
		return out, nil
	case kindObject:
		if ph, ok := v.get("_placeholder"); ok && ph.truthy() && len(v.keys) == 2 {
			n, ok := v.field("num").int()
			if !ok || n < 0 || n >= int64(len(attachments)) {
				return value{}, fmt.Errorf("placeholder %d of %d attachments", n, len(attachments))
			}
			return binary(attachments[n]), nil
		}
		out := v
		out.items = make([]value, len(v.items))
		for i, it := range v.items {
			r, err := it.resolve(attachments)
			if err != nil {
				return value{}, err
			}
			out.items[i] = r
		}
		return out, nil
	}
	return v, nil
}

// hasBinary reports whether v holds binary anywhere.
func (v value) hasBinary() bool {
	if v.kind == kindBinary {
		return true
	}
	for _, it := range v.items {
		if it.hasBinary() {
			return true
		}
	}
	return false
}

// fromData turns a Socket.IO event's wire form (JSON with placeholders, and attachments)
// into a value with its binary in place.
func fromData(data json.RawMessage, attachments [][]byte) (value, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return value{}, err
	}
	if len(attachments) == 0 {
		return v, nil
	}
	return v.resolve(attachments)
}

// toData turns a value back into the wire form of an event.
func (v value) toData() (json.RawMessage, [][]byte) {
	var attachments [][]byte
	data := v.appendJSON(nil, placeholders, &attachments)
	return data, attachments
}

// fromAny encodes a Go value through encoding/json, []byte as binary at the top level (the
// way our own Socket.IO arguments are given).
func fromAny(x any) (value, error) {
	if b, ok := x.([]byte); ok {
		return binary(b), nil
	}
	raw, err := json.Marshal(x)
	if err != nil {
		return value{}, err
	}
	return decodeJSON(raw)
}

// toAny decodes a value into plain Go values: objects as map[string]any, numbers as float64
// (as encoding/json does), binary as []byte.
func (v value) toAny() any {
	switch v.kind {
	case kindBool:
		return v.b
	case kindInt:
		return float64(v.i)
	case kindFloat:
		return v.f
	case kindNumber:
		f, _ := strconv.ParseFloat(v.s, 64)
		return f
	case kindString:
		return v.s
	case kindBinary:
		return v.bin
	case kindArray:
		out := make([]any, len(v.items))
		for i, it := range v.items {
			out[i] = it.toAny()
		}
		return out
	case kindObject:
		out := make(map[string]any, len(v.items))
		for i, it := range v.items {
			out[v.keys[i]] = it.toAny()
		}
		return out
	}
	return nil
}

// base64Text decodes a base64 string (the streams adapter's binary messages).
func base64Text(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
