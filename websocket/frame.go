package websocket

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// opcode is a frame's opcode (RFC 6455 section 5.2).
type opcode byte

const (
	opContinuation opcode = 0x0
	opText         opcode = 0x1
	opBinary       opcode = 0x2
	opClose        opcode = 0x8
	opPing         opcode = 0x9
	opPong         opcode = 0xA
)

func (op opcode) isControl() bool { return op&0x8 != 0 }

// maxControlPayload is the largest payload a control frame may carry.
const maxControlPayload = 125

// maxHeaderSize is the longest frame header: 2 bytes, 8 of extended length, 4 of mask key.
const maxHeaderSize = 14

// header is a decoded frame header.
type header struct {
	fin     bool
	rsv1    bool
	opcode  opcode
	masked  bool
	length  int64
	maskKey uint32 // in wire byte order read as little-endian, for mask()
}

// headerReader is the buffered input readHeader needs.
type headerReader interface {
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
}

// readHeader reads and checks one frame header from br. It enforces the rules that need no
// connection state: reserved bits other than RSV1, reserved opcodes, control frame size and
// fragmentation, and the 63-bit, minimally encoded payload length.
func readHeader(br headerReader) (header, error) {
	var h header
	b, err := br.Peek(2)
	if err != nil {
		return h, err
	}
	b0, b1 := b[0], b[1]
	h.fin = b0&0x80 != 0
	h.rsv1 = b0&0x40 != 0
	h.opcode = opcode(b0 & 0x0f)
	h.masked = b1&0x80 != 0
	n := 2
	switch l := b1 & 0x7f; l {
	case 126:
		n += 2
	case 127:
		n += 8
	default:
		h.length = int64(l)
	}
	if h.masked {
		n += 4
	}
	if b0&0x30 != 0 {
		return h, protocolErr(StatusProtocolError, "reserved bits RSV2/RSV3 set")
	}
	switch h.opcode {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
	default:
		return h, protocolErr(StatusProtocolError, fmt.Sprintf("reserved opcode %#x", byte(h.opcode)))
	}
	if b, err = br.Peek(n); err != nil {
		return h, err
	}
	p := b[2:]
	switch b1 & 0x7f {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(p))
		if h.length < 126 {
			return h, protocolErr(StatusProtocolError, "payload length not minimally encoded")
		}
		p = p[2:]
	case 127:
		l := binary.BigEndian.Uint64(p)
		if l > math.MaxInt64 {
			return h, protocolErr(StatusProtocolError, "payload length has its most significant bit set")
		}
		if l <= math.MaxUint16 {
			return h, protocolErr(StatusProtocolError, "payload length not minimally encoded")
		}
		h.length = int64(l)
		p = p[8:]
	}
	if h.masked {
		h.maskKey = binary.LittleEndian.Uint32(p)
	}
	if h.opcode.isControl() {
		if !h.fin {
			return h, protocolErr(StatusProtocolError, "fragmented control frame")
		}
		if h.length > maxControlPayload {
			return h, protocolErr(StatusProtocolError, "control frame payload longer than 125 bytes")
		}
	}
	_, _ = br.Discard(n)
	return h, nil
}

// appendHeader encodes h at the end of dst.
func appendHeader(dst []byte, h header) []byte {
	b0 := byte(h.opcode)
	if h.fin {
		b0 |= 0x80
	}
	if h.rsv1 {
		b0 |= 0x40
	}
	var b1 byte
	if h.masked {
		b1 = 0x80
	}
	switch {
	case h.length < 126:
		dst = append(dst, b0, b1|byte(h.length))
	case h.length <= math.MaxUint16:
		dst = append(dst, b0, b1|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(h.length))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(h.length))
	}
	if h.masked {
		dst = binary.LittleEndian.AppendUint32(dst, h.maskKey)
	}
	return dst
}

// mask XORs b with the rotating mask key and returns the key rotated for the bytes that follow
// b, so a payload can be masked in pieces. Masking and unmasking are the same operation.
func mask(key uint32, b []byte) uint32 {
	if len(b) >= 8 {
		key64 := uint64(key)<<32 | uint64(key)
		for len(b) >= 32 {
			v := binary.LittleEndian.Uint64(b)
			binary.LittleEndian.PutUint64(b, v^key64)
			v = binary.LittleEndian.Uint64(b[8:])
			binary.LittleEndian.PutUint64(b[8:], v^key64)
			v = binary.LittleEndian.Uint64(b[16:])
			binary.LittleEndian.PutUint64(b[16:], v^key64)
			v = binary.LittleEndian.Uint64(b[24:])
			binary.LittleEndian.PutUint64(b[24:], v^key64)
			b = b[32:]
		}
		for len(b) >= 8 {
			v := binary.LittleEndian.Uint64(b)
			binary.LittleEndian.PutUint64(b, v^key64)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= byte(key)
		key = bits.RotateLeft32(key, -8)
	}
	return key
}
