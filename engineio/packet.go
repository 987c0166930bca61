package engineio

import (
	"encoding/base64"
	"errors"
	"fmt"
	"unicode/utf8"
)

// packetType is an Engine.IO v4 packet type, sent as one ASCII digit.
type packetType byte

const (
	packetOpen packetType = iota
	packetClose
	packetPing
	packetPong
	packetMessage
	packetUpgrade
	packetNoop
)

var packetNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

func (t packetType) String() string {
	if int(t) < len(packetNames) {
		return packetNames[t]
	}
	return fmt.Sprintf("packetType(%d)", byte(t))
}

// packet is one Engine.IO packet. Only message packets can be binary.
type packet struct {
	typ    packetType
	data   []byte
	binary bool
}

// recordSeparator joins the packets of an HTTP long-polling payload.
const recordSeparator = 0x1e

var (
	errEmptyPacket   = errors.New("engineio: empty packet")
	errUnknownPacket = errors.New("engineio: unknown packet type")
	errBadBase64     = errors.New("engineio: invalid base64 in binary packet")
)

// decodeText decodes a packet received as text: a WebSocket text frame, or one packet of a
// polling payload, where "b" starts a base64-encoded binary message. The data aliases b.
func decodeText(b []byte, polling bool) (packet, error) {
	if len(b) == 0 {
		return packet{}, errEmptyPacket
	}
	if polling && b[0] == 'b' {
		// Never nil: an empty binary message is still a binary message.
		data, err := base64.StdEncoding.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(b)-1)), b[1:])
		if err != nil {
			return packet{}, errBadBase64
		}
		return packet{typ: packetMessage, data: data, binary: true}, nil
	}
	t := packetType(b[0] - '0')
	if b[0] < '0' || t > packetNoop {
		return packet{}, fmt.Errorf("%w %q", errUnknownPacket, b[0])
	}
	return packet{typ: t, data: b[1:]}, nil
}

// appendText appends the packet's text form: its type digit and data, or for a binary
// message in a polling payload "b" and the data in base64.
func (p packet) appendText(dst []byte) []byte {
	if p.binary {
		dst = append(dst, 'b')
		return base64.StdEncoding.AppendEncode(dst, p.data)
	}
	dst = append(dst, '0'+byte(p.typ))
	return append(dst, p.data...)
}

// appendPayload appends packets as one long-polling payload, joined by the record separator.
func appendPayload(dst []byte, pkts []packet) []byte {
	for i, p := range pkts {
		if i > 0 {
			dst = append(dst, recordSeparator)
		}
		dst = p.appendText(dst)
	}
	return dst
}

// decodePayload splits a long-polling payload into packets and hands each to fn, in order,
// stopping at the first error. Packets alias body except decoded binary data.
//
// Text that is not valid UTF-8 is taken with each ill-formed sequence replaced by U+FFFD, as
// a JavaScript peer decodes it: WebSocket frames are checked by the websocket package, and
// text from polling must be as clean before it reaches anyone else (a broadcast would put it
// in other clients' text frames, which they would reject).
func decodePayload(body []byte, fn func(packet) error) error {
	if len(body) == 0 {
		return errEmptyPacket
	}
	if !utf8.Valid(body) {
		body = appendValidUTF8(make([]byte, 0, len(body)+len(body)/2), body)
	}
	for len(body) > 0 {
		end := len(body)
		for i, c := range body {
			if c == recordSeparator {
				end = i
				break
			}
		}
		p, err := decodeText(body[:end], true)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if end == len(body) {
			break
		}
		body = body[end+1:]
		if len(body) == 0 {
			return errEmptyPacket // a trailing separator
		}
	}
	return nil
}
