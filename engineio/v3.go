package engineio

import (
	"encoding/base64"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Engine.IO v3 wire forms (protocol revision 3, what socket.io-client 2.x speaks), served to
// clients that ask for EIO=3 when ServerOptions.AllowEIO3 is set. They follow Node's
// engine.io-parser 2.2 (engine.io/build/parser-v3): the packets are those of v4, but a
// long-polling payload is length-prefixed rather than separated, binary goes in a binary
// payload or as "b4"+base64, and a binary WebSocket frame starts with its packet type byte.

var (
	errBadLength = errors.New("engineio: v3 payload: bad length")
	errBadBinary = errors.New("engineio: v3 payload: bad binary packet")
)

// maxLengthDigits bounds a length header: a payload is at most MaxPayload bytes anyway, and
// Node gives up past 310 digits.
const maxLengthDigits = 10

// utf16Len is the length of valid UTF-8 text as JavaScript counts a string's length: UTF-16
// code units, which v3 text payloads use for their length headers.
func utf16Len(b []byte) int {
	n := 0
	for len(b) > 0 {
		if b[0] < utf8.RuneSelf {
			n++
			b = b[1:]
			continue
		}
		r, size := utf8.DecodeRune(b)
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		b = b[size:]
	}
	return n
}

// utf16Prefix returns how many bytes of valid UTF-8 text b make up its first n UTF-16 code
// units, or false when b is shorter or the n-th unit splits a surrogate pair.
func utf16Prefix(b []byte, n int) (int, bool) {
	i := 0
	for n > 0 {
		if i >= len(b) {
			return 0, false
		}
		if b[i] < utf8.RuneSelf {
			i++
			n--
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		units := 1
		if r >= 0x10000 {
			units = 2
		}
		if units > n {
			return 0, false
		}
		i += size
		n -= units
	}
	return i, true
}

// decodeTextV3 decodes one v3 packet received as text: "b" and a type digit start a
// base64-encoded binary packet, anywhere text is allowed. The data aliases b unless binary.
func decodeTextV3(b []byte) (packet, error) {
	if len(b) > 0 && b[0] == 'b' {
		if len(b) < 2 || b[1] != '0'+byte(packetMessage) {
			return packet{}, errBadBinary
		}
		data, err := base64.StdEncoding.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(b)-2)), b[2:])
		if err != nil {
			return packet{}, errBadBase64
		}
		return packet{typ: packetMessage, data: data, binary: true}, nil
	}
	return decodeText(b, false)
}

// decodeBinaryFrameV3 decodes a v3 binary packet: its type byte, then the data. Only message
// packets carry binary data.
func decodeBinaryFrameV3(b []byte) (packet, error) {
	if len(b) == 0 || b[0] != byte(packetMessage) {
		return packet{}, errBadBinary
	}
	return packet{typ: packetMessage, data: b[1:], binary: true}, nil
}

// decodePayloadV3 splits a v3 text payload, "<length>:<packet>" repeated with lengths in
// UTF-16 code units, and hands each packet to fn in order, stopping at the first error.
// Ill-formed UTF-8 is replaced first, as Node's request decoding does.
func decodePayloadV3(body []byte, fn func(packet) error) error {
	if len(body) == 0 {
		return errEmptyPacket
	}
	if !utf8.Valid(body) {
		body = appendValidUTF8(make([]byte, 0, len(body)+len(body)/2), body)
	}
	for len(body) > 0 {
		colon := -1
		for i := 0; i < len(body) && i <= maxLengthDigits; i++ {
			if body[i] == ':' {
				colon = i
				break
			}
		}
		if colon <= 0 {
			return errBadLength
		}
		n, err := strconv.Atoi(string(body[:colon]))
		if err != nil || n < 0 {
			return errBadLength
		}
		body = body[colon+1:]
		size, ok := utf16Prefix(body, n)
		if !ok {
			return errBadLength
		}
		if size > 0 { // Node skips empty packets
			p, err := decodeTextV3(body[:size])
			if err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		body = body[size:]
	}
	return nil
}

// decodeBinaryPayloadV3 splits a v3 binary payload (a POST of application/octet-stream):
// each packet is 0 (text) or 1 (binary), its length as one byte per decimal digit, 255, then
// its bytes; text packets are UTF-8, binary ones start with their type byte.
func decodeBinaryPayloadV3(body []byte, fn func(packet) error) error {
	if len(body) == 0 {
		return errEmptyPacket
	}
	for len(body) > 0 {
		isText := body[0] == 0
		if body[0] > 1 {
			return errBadLength
		}
		n, i := 0, 1
		for ; i < len(body) && body[i] != 255; i++ {
			if body[i] > 9 || i > maxLengthDigits {
				return errBadLength
			}
			n = n*10 + int(body[i])
		}
		if i == 1 || i == len(body) || n > len(body)-i-1 {
			return errBadLength
		}
		data := body[i+1 : i+1+n]
		body = body[i+1+n:]
		var p packet
		var err error
		if isText {
			if !utf8.Valid(data) {
				data = appendValidUTF8(nil, data)
			}
			p, err = decodeTextV3(data)
		} else {
			p, err = decodeBinaryFrameV3(data)
		}
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// appendLengthV3 appends a text payload's length header: n and a colon.
func appendLengthV3(dst []byte, n int) []byte {
	return append(strconv.AppendInt(dst, int64(n), 10), ':')
}

// appendBinaryHeaderV3 appends a binary payload's packet header: the kind (0 text, 1 binary),
// the length one decimal digit per byte, and 255.
func appendBinaryHeaderV3(dst []byte, binary bool, n int) []byte {
	kind := byte(0)
	if binary {
		kind = 1
	}
	dst = append(dst, kind)
	start := len(dst)
	dst = strconv.AppendInt(dst, int64(n), 10)
	for i := start; i < len(dst); i++ {
		dst[i] -= '0'
	}
	return append(dst, 255)
}

// appendPacketV3 appends an outgoing packet to a v3 polling payload: binaryPayload selects the
// binary payload format, which only a client that supports binary is sent, and only for a
// batch with a binary message in it, as Node does.
func appendPacketV3(dst []byte, p outPacket, binaryPayload bool) []byte {
	if p.typ == packetMessage {
		m := p.msg
		switch {
		case m.binary && binaryPayload:
			dst = appendBinaryHeaderV3(dst, true, len(m.data)+1)
			dst = append(dst, byte(packetMessage))
			return append(dst, m.data...)
		case m.binary:
			text := m.pollingTextV3()
			return append(appendLengthV3(dst, len(text)), text...)
		case binaryPayload:
			text := m.pollingText()
			return append(appendBinaryHeaderV3(dst, false, len(text)), text...)
		default:
			text := m.pollingText()
			return append(appendLengthV3(dst, m.utf16Len()), text...)
		}
	}
	text := packet{typ: p.typ, data: p.data}.appendText(nil)
	if binaryPayload {
		return append(appendBinaryHeaderV3(dst, false, len(text)), text...)
	}
	return append(appendLengthV3(dst, utf16Len(text)), text...)
}
