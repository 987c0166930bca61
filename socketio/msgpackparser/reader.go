package msgpackparser

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The MessagePack codes (github.com/msgpack/msgpack/blob/master/spec.md) this package reads
// and writes. The fixed forms carry their value or length in the code's low bits.
const (
	codeFixMapLow   = 0x80 // to 0x8f, 0 to 15 pairs
	codeFixArrayLow = 0x90 // to 0x9f, 0 to 15 elements
	codeFixStrLow   = 0xa0 // to 0xbf, 0 to 31 bytes
	codeNil         = 0xc0
	codeReserved    = 0xc1
	codeFalse       = 0xc2
	codeTrue        = 0xc3
	codeBin8        = 0xc4 // then bin 16, bin 32
	codeExt8        = 0xc7 // then ext 16, ext 32
	codeFloat32     = 0xca
	codeFloat64     = 0xcb
	codeUint8       = 0xcc // then uint 16, 32, 64
	codeInt8        = 0xd0 // then int 16, 32, 64
	codeFixExt1     = 0xd4 // then fixext 2, 4, 8, 16
	codeStr8        = 0xd9 // then str 16, str 32
	codeArray16     = 0xdc // then array 32
	codeMap16       = 0xde // then map 32
	codeNegFixLow   = 0xe0 // to 0xff, -32 to -1
)

// A MessagePack reader over one message's bytes: it reads a value's header (a token) and
// leaves a container's elements to its caller, so that nothing recurses and nothing is copied:
// strings and binary values are sub-slices of the message.

var (
	errShort    = errors.New("msgpackparser: the message ends inside a value")
	errReserved = errors.New("msgpackparser: reserved MessagePack code 0xc1")
	errLength   = errors.New("msgpackparser: a length beyond the end of the message")
)

// kind is what a token is.
type kind uint8

const (
	kindNil kind = iota
	kindBool
	kindInt   // i
	kindUint  // u, beyond the int64 range or written as an unsigned integer
	kindFloat // f
	kindStr   // b
	kindBin   // b
	kindArray // n elements follow
	kindMap   // n key-value pairs follow
	kindExt   // ext, b; fixed for the fixext codes
)

var kindNames = [...]string{"nil", "boolean", "integer", "integer", "float", "string", "binary", "array", "map", "extension"}

func (k kind) String() string { return kindNames[k] }

// token is one value's header, or the whole of a scalar.
type token struct {
	kind  kind
	bool  bool
	i     int64
	u     uint64
	f     float64
	b     []byte // a string's or binary value's bytes, an extension's data
	n     int    // a container's elements (pairs for a map)
	ext   int8   // an extension's type
	fixed bool   // an extension of the fixext codes, whose length is in the code
}

// notepack.io, the MessagePack of npm's socket.io-msgpack-parser, gives extension type 0 its
// own meanings: fixext 1 is undefined, fixext 8 a Date (milliseconds since 1970 as an int64),
// and the variable-length ext codes an ArrayBuffer (how browsers' binary values travel).

// undefined reports whether t is JavaScript's undefined as notepack.io writes it.
func (t *token) undefined() bool { return t.kind == kindExt && t.ext == 0 && t.fixed && len(t.b) == 1 }

// date reports whether t is a JavaScript Date as notepack.io writes it.
func (t *token) date() bool { return t.kind == kindExt && t.ext == 0 && t.fixed && len(t.b) == 8 }

// arrayBuffer reports whether t is binary written as an extension, as notepack.io writes an
// ArrayBuffer or typed array.
func (t *token) arrayBuffer() bool { return t.kind == kindExt && t.ext == 0 && !t.fixed }

// reader reads tokens from b.
type reader struct {
	b   []byte
	pos int
}

func (r *reader) left() int { return len(r.b) - r.pos }

// take returns the next n bytes.
func (r *reader) take(n int) ([]byte, error) {
	if n < 0 || n > r.left() {
		return nil, errShort
	}
	b := r.b[r.pos : r.pos+n : r.pos+n]
	r.pos += n
	return b, nil
}

// size reads a big-endian length or number of n bytes (1, 2, 4 or 8).
func (r *reader) size(n int) (uint64, error) {
	b, err := r.take(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), nil
	}
	return binary.BigEndian.Uint64(b), nil
}

// peek returns the next byte, or false at the end.
func (r *reader) peek() (byte, bool) {
	if r.pos >= len(r.b) {
		return 0, false
	}
	return r.b[r.pos], true
}

// undefinedNext reports whether the next value is notepack.io's undefined, and if so skips it.
func (r *reader) undefinedNext() bool {
	if r.left() >= 3 && r.b[r.pos] == codeFixExt1 && r.b[r.pos+1] == 0 {
		r.pos += 3
		return true
	}
	return false
}

// next reads one token. A container's length is checked against the bytes left (an element
// takes one at least), so that a claimed length costs nothing before its elements are there.
func (r *reader) next() (token, error) {
	if r.pos >= len(r.b) {
		return token{}, errShort
	}
	c := r.b[r.pos]
	r.pos++
	switch {
	case c < codeFixMapLow || c >= codeNegFixLow:
		return token{kind: kindInt, i: int64(int8(c))}, nil
	case c < codeFixArrayLow:
		return r.container(kindMap, uint64(c-codeFixMapLow))
	case c < codeFixStrLow:
		return r.container(kindArray, uint64(c-codeFixArrayLow))
	case c < codeNil:
		b, err := r.take(int(c - codeFixStrLow))
		return token{kind: kindStr, b: b}, err
	}
	switch c {
	case codeNil:
		return token{kind: kindNil}, nil
	case codeFalse, codeTrue:
		return token{kind: kindBool, bool: c == codeTrue}, nil
	case codeBin8, codeBin8 + 1, codeBin8 + 2:
		return r.bytes(kindBin, 1<<(c-codeBin8))
	case codeStr8, codeStr8 + 1, codeStr8 + 2:
		return r.bytes(kindStr, 1<<(c-codeStr8))
	case codeExt8, codeExt8 + 1, codeExt8 + 2:
		n, err := r.size(1 << (c - codeExt8))
		if err != nil {
			return token{}, err
		}
		return r.ext(int(min(n, math.MaxInt32)), false)
	case codeFixExt1, codeFixExt1 + 1, codeFixExt1 + 2, codeFixExt1 + 3, codeFixExt1 + 4:
		return r.ext(1<<(c-codeFixExt1), true)
	case codeFloat32:
		n, err := r.size(4)
		return token{kind: kindFloat, f: float64(math.Float32frombits(uint32(n)))}, err
	case codeFloat64:
		n, err := r.size(8)
		return token{kind: kindFloat, f: math.Float64frombits(n)}, err
	case codeUint8, codeUint8 + 1, codeUint8 + 2, codeUint8 + 3:
		n, err := r.size(1 << (c - codeUint8))
		if n <= math.MaxInt64 {
			return token{kind: kindInt, i: int64(n)}, err
		}
		return token{kind: kindUint, u: n}, err
	case codeInt8, codeInt8 + 1, codeInt8 + 2, codeInt8 + 3:
		bytes := 1 << (c - codeInt8)
		n, err := r.size(bytes)
		shift := 64 - 8*bytes // sign extension
		return token{kind: kindInt, i: int64(n<<shift) >> shift}, err
	case codeArray16, codeArray16 + 1:
		n, err := r.size(2 << (c - codeArray16))
		if err != nil {
			return token{}, err
		}
		return r.container(kindArray, n)
	case codeMap16, codeMap16 + 1:
		n, err := r.size(2 << (c - codeMap16))
		if err != nil {
			return token{}, err
		}
		return r.container(kindMap, n)
	}
	return token{}, errReserved // codeReserved, the only code left
}

func (r *reader) bytes(k kind, lenSize int) (token, error) {
	n, err := r.size(lenSize)
	if err != nil {
		return token{}, err
	}
	if n > uint64(r.left()) {
		return token{}, errLength
	}
	b, err := r.take(int(n))
	return token{kind: k, b: b}, err
}

func (r *reader) ext(n int, fixed bool) (token, error) {
	typ, err := r.take(1)
	if err != nil {
		return token{}, err
	}
	if n > r.left() {
		return token{}, errLength
	}
	b, err := r.take(n)
	return token{kind: kindExt, ext: int8(typ[0]), b: b, fixed: fixed}, err
}

func (r *reader) container(k kind, n uint64) (token, error) {
	per := uint64(1)
	if k == kindMap {
		per = 2
	}
	if n > uint64(r.left())/per {
		return token{}, errLength
	}
	return token{kind: k, n: int(n)}, nil
}

// skip reads past one value, whatever it holds. A count of the values still to read stands
// in for a stack, so that any nesting costs nothing.
func (r *reader) skip() error {
	for pending := 1; pending > 0; pending-- {
		t, err := r.next()
		if err != nil {
			return err
		}
		switch t.kind {
		case kindArray:
			pending += t.n
		case kindMap:
			pending += 2 * t.n
		}
	}
	return nil
}

// integer reads an integer: a MessagePack integer, or a float with an integer value, which
// JavaScript does not tell apart.
func (r *reader) integer() (int64, error) {
	t, err := r.next()
	if err != nil {
		return 0, err
	}
	switch t.kind {
	case kindInt:
		return t.i, nil
	case kindUint:
		return 0, fmt.Errorf("%d beyond the int64 range", t.u)
	case kindFloat:
		if t.f == math.Trunc(t.f) && math.Abs(t.f) < 1<<63 {
			return int64(t.f), nil
		}
		return 0, fmt.Errorf("%v is not an integer", t.f)
	}
	return 0, fmt.Errorf("a %s, not an integer", t.kind)
}
