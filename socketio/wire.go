package socketio

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/logattr"
)

// Custom parsers. The protocol's own parser (parser.go) writes a packet as a text message
// followed by one binary message per attachment; a Parser may write it otherwise, as npm's
// socket.io-msgpack-parser does (one binary MessagePack message). Inside the server and the
// client a packet stays JSON with binary placeholders plus attachments, whatever the parser:
// handlers, Args, acknowledgements, adapters and broadcasts work unchanged, and a parser
// converts at the edge. The JSON parser is not reached through this interface, so that its
// path costs what it did.

// Parser turns Socket.IO packets into Engine.IO messages and back: the wire format of the
// packets, chosen with ServerOptions.Parser or ClientOptions.Parser (nil is the protocol's
// JSON parser). Both ends of a connection must use the same. A Parser is used from many
// goroutines at once.
type Parser interface {
	// Encode returns the Engine.IO messages of p, in the order they are sent. It must not
	// change p; a message's Data may share the bytes of p.Attachments.
	Encode(p *WirePacket) ([]engineio.Message, error)
	// NewDecoder returns a decoder for the messages of one connection.
	NewDecoder(limits DecoderLimits) Decoder
}

// Decoder turns the Engine.IO messages of one connection into packets. It is used by one
// goroutine, the connection's reader.
type Decoder interface {
	// Decode takes the connection's next message. It returns a packet once one is complete,
	// nil while it awaits more messages (the JSON parser's attachments), or an error, which
	// closes the connection with the reason "parse error". The packet is valid until the next
	// call; its Data and Attachments, which may share m.Data's bytes, are the caller's to keep.
	// The caller checks the packet as it checks the JSON parser's: namespace, acknowledgement
	// id, payload by type, placeholders.
	Decode(m engineio.Message) (*WirePacket, error)
}

// DecoderLimits are the bounds the server or client sets on what one connection sends.
type DecoderLimits struct {
	// MaxAttachments bounds the binary values of one packet (ServerOptions.MaxAttachments,
	// ClientOptions.MaxAttachments): a packet with more is an error.
	MaxAttachments int
}

// PacketType is a Socket.IO packet's type.
type PacketType byte

// The packet types of Socket.IO v5.
const (
	PacketConnect      PacketType = PacketType(packetConnect)
	PacketDisconnect   PacketType = PacketType(packetDisconnect)
	PacketEvent        PacketType = PacketType(packetEvent)
	PacketAck          PacketType = PacketType(packetAck)
	PacketConnectError PacketType = PacketType(packetConnectError)
	PacketBinaryEvent  PacketType = PacketType(packetBinaryEvent)
	PacketBinaryAck    PacketType = PacketType(packetBinaryAck)
)

func (t PacketType) String() string { return packetType(t).String() }

// WirePacket is a packet as a Parser encodes and decodes it.
type WirePacket struct {
	// Type is the packet's type. Encode gets BINARY_EVENT and BINARY_ACK for events and
	// acknowledgements with attachments; from Decode, EVENT and BINARY_EVENT (and ACK and
	// BINARY_ACK) are the same, Attachments decides.
	Type PacketType
	// Namespace is the namespace's name, "/" for the main one.
	Namespace string
	// ID is the acknowledgement id, -1 for none.
	ID int64
	// Data is the payload as JSON, empty for none: for events [name, args...], for
	// acknowledgements [args...], for CONNECT the auth or answer object, for CONNECT_ERROR an
	// object (or a string). Each binary value is a placeholder {"_placeholder":true,"num":N}
	// standing for Attachments[N].
	Data json.RawMessage
	// Attachments are the binary values, in the order of their numbers.
	Attachments [][]byte
}

// maxAckID is the largest acknowledgement id accepted: the fifteen digits the JSON parser
// reads, which JavaScript's numbers hold exactly.
const maxAckID = 999_999_999_999_999

// wireFormat is a custom parser as one Server or Client uses it. Its address tells apart the
// encodings a Packet keeps.
type wireFormat struct {
	parser Parser
}

// newWireFormat returns nil for the JSON parser.
func newWireFormat(p Parser) *wireFormat {
	if _, ok := p.(JSONParser); ok || p == nil {
		return nil
	}
	return &wireFormat{parser: p}
}

// packetReader decodes a connection's messages with the JSON parser, or the custom one.
type packetReader struct {
	json           decoder
	custom         Decoder // nil for the JSON parser
	maxAttachments int
	maxValues      int
}

func newPacketReader(w *wireFormat, maxAttachments, maxValues int) packetReader {
	r := packetReader{
		json:           decoder{maxAttachments: maxAttachments, maxValues: maxValues},
		maxAttachments: maxAttachments,
		maxValues:      maxValues,
	}
	if w != nil {
		r.custom = w.parser.NewDecoder(DecoderLimits{MaxAttachments: maxAttachments})
	}
	return r
}

// read decodes one message; it returns nil while a packet awaits more messages.
func (r *packetReader) read(m engineio.Message) (*packet, error) {
	if r.custom == nil {
		if m.Binary {
			return r.json.binary(m.Data)
		}
		return r.json.text(m.Data)
	}
	wp, err := r.custom.Decode(m)
	if err != nil || wp == nil {
		return nil, err
	}
	return fromWire(wp, r.maxAttachments, r.maxValues)
}

// fromWire checks a packet from a custom decoder as decodeText checks the JSON parser's, and
// makes it a packet: the same rules apply whatever the parser.
func fromWire(wp *WirePacket, maxAttachments, maxValues int) (*packet, error) {
	if wp.Type > PacketBinaryAck {
		return nil, errPacketType
	}
	n := len(wp.Attachments)
	typ := packetType(wp.Type)
	switch typ {
	case packetEvent, packetBinaryEvent:
		typ = packetEvent
		if n > 0 {
			typ = packetBinaryEvent
		}
	case packetAck, packetBinaryAck:
		typ = packetAck
		if n > 0 {
			typ = packetBinaryAck
		}
	default:
		if n > 0 {
			return nil, fmt.Errorf("%w: %s with binary values", errAttachments, typ)
		}
	}
	if n > maxAttachments {
		return nil, fmt.Errorf("%w: %d, at most %d", errTooManyBinary, n, maxAttachments)
	}
	if !validNamespace(wp.Namespace) {
		return nil, errNamespace
	}
	if wp.ID < noID || wp.ID > maxAckID {
		return nil, errAckID
	}
	for i, a := range wp.Attachments {
		if a == nil {
			wp.Attachments[i] = []byte{} // binary all the same, not a JSON null
		}
	}
	r := &receivedPacket{packet: packet{typ: typ, nsp: wp.Namespace, id: wp.ID, data: wp.Data, attachments: wp.Attachments}}
	p := &r.packet
	if len(p.data) > 0 && !typ.arrayPayload() && !validJSON(p.data) {
		return nil, errPayload
	}
	if err := checkPayloadInto(p, n, r.elems[:0], maxValues); err != nil {
		return nil, err
	}
	return p, nil
}

// toWire returns the packet as a Parser takes it.
func (p *packet) toWire() *WirePacket {
	return &WirePacket{Type: PacketType(p.typ), Namespace: p.nsp, ID: p.id, Data: p.data, Attachments: p.attachments}
}

// wireCache holds a Packet's messages as the first custom parser to send it encoded them:
// a broadcast is encoded once for all the recipients of a server. A Packet points at it, made
// on first use, so that a Packet of the JSON parser is not larger for it.
type wireCache struct {
	once sync.Once
	w    *wireFormat
	msgs []*engineio.PreparedMessage
	err  error
}

// encodedFor returns the packet's messages in the wire format w (nil: JSON).
func (p *Packet) encodedFor(w *wireFormat) ([]*engineio.PreparedMessage, error) {
	if w == nil {
		return p.messages(), nil
	}
	c := p.wire.Load()
	if c == nil {
		c = &wireCache{}
		if !p.wire.CompareAndSwap(nil, c) {
			c = p.wire.Load()
		}
	}
	c.once.Do(func() {
		c.w = w
		c.msgs, c.err = w.encode(&p.pkt, p.uncompressed)
	})
	if c.w == w {
		return c.msgs, c.err
	}
	return w.encode(&p.pkt, p.uncompressed) // a Packet sent by two servers: rare, not kept
}

// encode encodes a packet into messages for the sessions' queues.
func (w *wireFormat) encode(p *packet, uncompressed bool) ([]*engineio.PreparedMessage, error) {
	ms, err := w.parser.Encode(p.toWire())
	if err != nil {
		return nil, fmt.Errorf("socketio: encoding a %s packet: %w", p.typ, err)
	}
	newMessage := engineio.NewPreparedMessage
	if uncompressed {
		newMessage = engineio.NewUncompressedPreparedMessage
	}
	out := make([]*engineio.PreparedMessage, len(ms))
	for i, m := range ms {
		out[i] = newMessage(m.Data, m.Binary)
	}
	return out, nil
}

// sendEncoded sends a packet through the server's custom parser: what encoding fails for is
// logged, since the sender of a broadcast does not see each recipient's error.
func (c *conn) sendEncoded(p *Packet, volatile bool) error {
	msgs, err := p.encodedFor(c.srv.wire)
	if err != nil {
		c.srv.peers.at(slog.LevelWarn, "socketio: packet not sent", logattr.SID, c.es.ID(), logattr.Err, err)
		return err
	}
	if volatile {
		return c.es.SendVolatile(msgs...)
	}
	return c.es.Send(msgs...)
}

// sendEncoded writes a packet through the client's custom parser, its messages together.
func (cc *clientConn) sendEncoded(w *wireFormat, p *packet) error {
	ms, err := w.parser.Encode(p.toWire())
	if err != nil {
		return fmt.Errorf("socketio: encoding a %s packet: %w", p.typ, err)
	}
	cc.sendMu.Lock()
	defer cc.sendMu.Unlock()
	for _, m := range ms {
		// As in send: Send waits only while Engine.IO's queue is full, until the connection
		// closes.
		if err := cc.eio.Send(context.Background(), m.Data, m.Binary); err != nil {
			return err
		}
	}
	return nil
}
