package socketio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/tether-rt/tether/engineio"
)

// Packet is an event on its way to one socket or many: encoded once, whatever the number of
// recipients. Adapters receive Packets to deliver, and make them from what other nodes send.
type Packet struct {
	pkt    packet
	offset string // the recovery offset WithOffset added, if any

	once sync.Once
	// uncompressed and framed sit in once's padding: a Packet holds the custom parsers'
	// messages (wire) in the 176 bytes it took before them.
	uncompressed bool
	// framed is set when msgs were made with the packet (newRelayPacket), before anything
	// else could see it: messages then skips once, whose first Do locks a mutex.
	framed bool
	msgs   []*engineio.PreparedMessage
	wire   atomic.Pointer[wireCache] // the messages of a custom Parser (wire.go)
}

// NewPacket encodes an event for namespace nsp: args are encoded with encoding/json, every
// []byte among them travelling as a binary attachment.
func NewPacket(nsp, event string, args ...any) (*Packet, error) {
	if reservedEvents[event] {
		return nil, fmt.Errorf("%w %q", ErrReservedEvent, event)
	}
	data, attachments, err := encodeEvent(event, args)
	if err != nil {
		return nil, fmt.Errorf("socketio: encoding event %q: %w", event, err)
	}
	return newEventPacket(nsp, data, attachments), nil
}

// newRelayPacket is NewPacket for an event to one socket whose arguments are all Args without
// attachments, as a relay emits what a client sent: its array is written straight into the
// Engine.IO message's buffer, behind the packet's header, instead of into a buffer of its own
// then copied there (an allocation and a copy per emit). The packet's Data is that part of the
// message. It returns nil for any other event, which NewPacket encodes.
func newRelayPacket(nsp, event string, args []any, uncompressed bool) *Packet {
	if reservedEvents[event] || !plainJSONString(event) {
		return nil
	}
	size := len(event) + 4 // ["event"]
	for _, v := range args {
		a, ok := v.(Args)
		if !ok || len(a.attachments) > 0 {
			return nil
		}
		for _, raw := range a.raw {
			size += len(raw) + 1
		}
	}
	named := nsp != "" && nsp != "/"
	if named {
		size += len(nsp) + 1
	}
	p := &Packet{pkt: packet{typ: packetEvent, nsp: nsp, id: noID}, uncompressed: uncompressed}
	m := engineio.NewPreparedMessageFunc(1+size, func(dst []byte) []byte {
		dst = append(dst, '0'+byte(packetEvent))
		if named {
			dst = append(append(dst, nsp...), ',')
		}
		start := len(dst)
		dst = append(append(append(dst, '[', '"'), event...), '"')
		for _, v := range args {
			for _, raw := range v.(Args).raw {
				dst = append(append(dst, ','), raw...)
			}
		}
		dst = append(dst, ']')
		p.pkt.data = dst[start:len(dst):len(dst)] // full: an append to Data copies
		return dst
	}, false, uncompressed)
	p.msgs, p.framed = []*engineio.PreparedMessage{m}, true
	return p
}

func newEventPacket(nsp string, data json.RawMessage, attachments [][]byte) *Packet {
	typ := packetEvent
	if len(attachments) > 0 {
		typ = packetBinaryEvent
	}
	return &Packet{pkt: packet{typ: typ, nsp: nsp, id: noID, data: data, attachments: attachments}}
}

// Namespace returns the name of the namespace the packet is for.
func (p *Packet) Namespace() string { return p.pkt.nsp }

// Data returns the event as a JSON array, [event, args...], with binary placeholders.
func (p *Packet) Data() json.RawMessage { return p.pkt.data }

// Attachments returns the binary values the placeholders of Data point at, in order.
func (p *Packet) Attachments() [][]byte { return p.pkt.attachments }

// ID returns the acknowledgement id the packet asks for, or -1 when it asks for none.
func (p *Packet) ID() int64 { return p.pkt.id }

// Event returns the event's name.
func (p *Packet) Event() string {
	var room [1]json.RawMessage
	head, _, ok := splitArray(room[:0], p.pkt.data, 1)
	if !ok || len(head) == 0 {
		return ""
	}
	return eventName(head[0])
}

// Args returns the event's arguments after its name.
func (p *Packet) Args() Args {
	raw, _, ok := splitArray(nil, p.pkt.data, 0) // sub-slices: no copy of the arguments
	if !ok || len(raw) == 0 {
		return Args{}
	}
	return Args{raw: raw[1:], attachments: p.pkt.attachments}
}

// withID returns a copy of the packet asking for an acknowledgement with id.
func (p *Packet) withID(id int64) *Packet {
	q := &Packet{pkt: p.pkt, uncompressed: p.uncompressed}
	q.pkt.id = id
	return q
}

// WithOffset returns a copy of the packet with a recovery offset as its last argument, as the
// JavaScript client expects: it keeps the last one it saw to send when it reconnects. Adapters
// that number packets themselves use it.
func (p *Packet) WithOffset(offset string) *Packet {
	q := &Packet{pkt: p.pkt, uncompressed: p.uncompressed, offset: offset}
	data := bytes.TrimRight(p.pkt.data, " \t\r\n")
	out := make([]byte, 0, len(data)+len(offset)+4)
	out = append(out, data[:len(data)-1]...)
	out = append(out, ',')
	out = strconv.AppendQuote(out, offset)
	q.pkt.data = append(out, ']')
	return q
}

// messages returns the packet's Engine.IO messages, encoded on first use: the text form, then
// each attachment.
func (p *Packet) messages() []*engineio.PreparedMessage {
	if p.framed {
		return p.msgs
	}
	p.once.Do(func() {
		newMessage := engineio.NewPreparedMessage
		if p.uncompressed {
			newMessage = engineio.NewUncompressedPreparedMessage
		}
		msgs := make([]*engineio.PreparedMessage, 0, 1+len(p.pkt.attachments))
		// Encoded straight into the message's buffer: a large broadcast is held once.
		msgs = append(msgs, engineio.NewPreparedMessageFunc(p.pkt.textSize(), p.pkt.appendText, false, p.uncompressed))
		for _, a := range p.pkt.attachments {
			msgs = append(msgs, newMessage(a, true))
		}
		p.msgs = msgs
	})
	return p.msgs
}

// ackPacket encodes an acknowledgement's arguments.
func ackPacket(nsp string, id int64, args []any) (packet, error) {
	if args == nil {
		args = []any{}
	}
	data, attachments, err := encodeArgs(args)
	if err != nil {
		return packet{}, err
	}
	return ackPacketOf(nsp, id, data, attachments), nil
}

// ackArgsPacket is ackPacket for one Args, the acknowledgement of a handler that returns the
// arguments as received: their array is written as it is, without the boxing of the Args
// into a []any and the look for binary values among them.
func ackArgsPacket(nsp string, id int64, a Args) packet {
	size := 2
	for _, raw := range a.raw {
		size += len(raw) + 1
	}
	return ackPacketOf(nsp, id, appendArgsArray(make([]byte, 0, size), a), a.attachments)
}

// appendArgsArray appends the JSON array of a's elements to dst.
func appendArgsArray(dst []byte, a Args) []byte {
	dst = append(dst, '[')
	for i, raw := range a.raw {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, raw...)
	}
	return append(dst, ']')
}

func ackPacketOf(nsp string, id int64, data json.RawMessage, attachments [][]byte) packet {
	typ := packetAck
	if len(attachments) > 0 {
		typ = packetBinaryAck
	}
	return packet{typ: typ, nsp: nsp, id: id, data: data, attachments: attachments}
}
