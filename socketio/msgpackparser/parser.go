// Package msgpackparser is the MessagePack wire format of npm's socket.io-msgpack-parser (v3,
// over notepack.io) for package socketio: give Parser{} as ServerOptions.Parser or
// ClientOptions.Parser, on both ends. Every packet is one binary Engine.IO message holding a
// MessagePack map {type, data, nsp, id}: binary values travel inside it, as MessagePack
// binary, rather than as attachments; the types are CONNECT to CONNECT_ERROR only (events and
// acknowledgements with binary are EVENT and ACK).
//
// Inside the server and the client a packet's data stays JSON with binary placeholders, so
// that handlers, Args, acknowledgements, adapters and broadcasts work as with the JSON
// parser; this package converts at the edge:
//
//   - integers keep their value, uint64 and int64 included (a float with an integer value,
//     1.0, is written as JSON writes it, 1, and sent back as an integer, as notepack.io
//     sends any JavaScript number that is an integer); NaN and the infinities, which JSON has
//     not, become null, as JSON.stringify makes them;
//   - map keys must be strings or integers (an integer key becomes its decimal string, as
//     JavaScript makes it); any other key refuses the packet;
//   - binary values, and notepack.io's ArrayBuffers (extension type 0), become attachments;
//     a Date (notepack.io's fixext 8 of type 0) becomes its ISO 8601 string, what
//     JSON.stringify makes of it, which time.Time decodes; undefined is left out of maps and
//     is null in arrays; another extension is [type, binary], as notepack.io decodes it;
//   - strings keep their bytes; JSON strings sent are decoded as encoding/json decodes them.
//
// What the Node parser refuses is refused, and the connection closed (socketio's "parse
// error"): a text message, a packet that is not a map, a type other than 0 to 4, a namespace
// that is not a string, an id that is not an integer, invalid MessagePack or bytes after the
// packet. The server then holds the packet to the JSON parser's rules. Beyond Node's parser,
// decoding is bounded: at most DecoderLimits.MaxAttachments binary values per packet,
// nesting at most 10,000 deep (as encoding/json), lengths never beyond the message (nothing
// is allocated for a length claimed), and a map that reads as a binary placeholder
// ({_placeholder: true, ...}) in a packet with binary values is refused, since the JSON form
// could not tell it from one. CONNECT and DISCONNECT take a nil data as none, as
// python-socketio's msgpack serializer sends them.
package msgpackparser

import (
	"fmt"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/socketio"
)

// Parser is the MessagePack parser, a socketio.Parser. Its zero value is ready to use.
type Parser struct{}

var _ socketio.Parser = Parser{}

// Encode returns the packet as one binary message.
func (Parser) Encode(p *socketio.WirePacket) ([]engineio.Message, error) {
	typ := p.Type
	switch typ {
	case socketio.PacketBinaryEvent:
		typ = socketio.PacketEvent
	case socketio.PacketBinaryAck:
		typ = socketio.PacketAck
	}
	if typ > socketio.PacketConnectError {
		return nil, fmt.Errorf("msgpackparser: packet type %s", p.Type)
	}
	data := trimSpace(p.Data)
	size := 32 + len(p.Namespace) + len(data)
	for _, a := range p.Attachments {
		size += 5 + len(a)
	}
	out := make([]byte, 0, size)
	keys := 2
	if len(data) > 0 {
		keys++
	}
	if p.ID >= 0 {
		keys++
	}
	out = append(out, codeFixMapLow|byte(keys))
	out = appendUint(append(out, "\xa4type"...), uint64(typ))
	if len(data) > 0 {
		var room [8]container
		plan, err := plan(room[:0], data, len(p.Attachments))
		if err != nil {
			return nil, err
		}
		out = appendValue(append(out, "\xa4data"...), data, p.Attachments, plan)
	}
	out = appendStr(append(out, "\xa3nsp"...), []byte(p.Namespace), false)
	if p.ID >= 0 {
		out = appendInt(append(out, "\xa2id"...), p.ID)
	}
	return []engineio.Message{{Data: out, Binary: true}}, nil
}

// NewDecoder returns a decoder for one connection.
func (Parser) NewDecoder(limits socketio.DecoderLimits) socketio.Decoder {
	return &decoder{conv: converter{maxAttachments: limits.MaxAttachments}}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
