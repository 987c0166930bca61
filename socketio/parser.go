package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/tether-rt/tether/engineio"
)

// packetType is a Socket.IO v5 packet type, the first character of a packet.
type packetType byte

const (
	packetConnect packetType = iota
	packetDisconnect
	packetEvent
	packetAck
	packetConnectError
	packetBinaryEvent
	packetBinaryAck
)

var packetNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

func (t packetType) String() string {
	if int(t) < len(packetNames) {
		return packetNames[t]
	}
	return fmt.Sprintf("packetType(%d)", byte(t))
}

func (t packetType) binary() bool { return t == packetBinaryEvent || t == packetBinaryAck }

// arrayPayload reports whether packets of type t carry a JSON array, which the parser splits.
func (t packetType) arrayPayload() bool {
	return t == packetEvent || t == packetBinaryEvent || t == packetAck || t == packetBinaryAck
}

// noID marks a packet without an acknowledgement id.
const noID = -1

// packet is a decoded Socket.IO packet. data is its JSON payload as received, binary
// placeholders ({"_placeholder":true,"num":N}) included; attachments holds the binary parts
// those placeholders point to, in order.
type packet struct {
	typ         packetType
	nsp         string
	id          int64 // noID when absent
	data        json.RawMessage
	attachments [][]byte
	// An incoming event's or acknowledgement's elements, split once by the parser: sub-slices
	// of data, which like attachments keeps the Engine.IO message's bytes as received.
	args []json.RawMessage
	// tooManyArgs is set when the array had more elements than the decoder's bound: args holds
	// the first ones only, and the packet is dropped.
	tooManyArgs bool
	// acked is set, atomically, by the first answer to an incoming event, which alone is sent.
	// A plain uint32 rather than an atomic.Bool, which packets copied by value could not
	// hold; it sits in the padding after tooManyArgs.
	acked uint32
}

// answer reports whether this is the first answer to the event, which alone is sent.
func (p *packet) answer() bool { return atomic.SwapUint32(&p.acked, 1) == 0 }

// size is the bytes a received packet holds: its data and attachments.
func (p *packet) size() int {
	n := len(p.data)
	for _, a := range p.attachments {
		n += len(a)
	}
	return n
}

// receivedPacket is a packet decoded from the wire with room for the elements of its array, in
// one allocation: most events have a name and a few arguments.
type receivedPacket struct {
	packet
	elems [4]json.RawMessage
}

// Event names the protocol reserves: a client may not emit them.
var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true, "disconnecting": true,
	"newListener": true, "removeListener": true,
}

var (
	errEmptyPacket    = errors.New("socketio: empty packet")
	errPacketType     = errors.New("socketio: unknown packet type")
	errAttachments    = errors.New("socketio: invalid attachment count")
	errTooManyBinary  = errors.New("socketio: too many binary attachments")
	errNamespace      = errors.New("socketio: invalid namespace")
	errAckID          = errors.New("socketio: invalid acknowledgement id")
	errPayload        = errors.New("socketio: invalid payload")
	errReservedEvent  = errors.New("socketio: reserved event name")
	errUnexpectedBin  = errors.New("socketio: binary message without a packet waiting for it")
	errMissingBinary  = errors.New("socketio: text packet while attachments were awaited")
	errBadPlaceholder = errors.New("socketio: invalid binary placeholder")
)

// appendHeader appends the packet's text form: type, attachment count, namespace, id and data.
// textSize is about the length of the packet's text form: exact but for the digits of its
// attachment count and id, which it overestimates.
func (p *packet) textSize() int {
	return 1 + 21 + 1 + len(p.nsp) + 1 + 20 + len(p.data)
}

func (p *packet) appendText(dst []byte) []byte {
	dst = append(dst, '0'+byte(p.typ))
	if p.typ.binary() {
		dst = strconv.AppendInt(dst, int64(len(p.attachments)), 10)
		dst = append(dst, '-')
	}
	if p.nsp != "" && p.nsp != "/" {
		dst = append(dst, p.nsp...)
		if p.id != noID || len(p.data) > 0 {
			dst = append(dst, ',')
		}
	}
	if p.id != noID {
		dst = strconv.AppendInt(dst, p.id, 10)
	}
	return append(dst, p.data...)
}

// decoder turns Engine.IO messages into packets: a text message starts a packet, and a binary
// packet is complete once its attachments have followed as binary messages.
type decoder struct {
	maxAttachments int
	maxValues      int // MaxDecodedValues as a bound, 0 for none: see checkPayloadInto
	pending        *packet
	want           int // attachments the pending packet still awaits
}

// text decodes a text message. It returns the packet, or nil while attachments are awaited.
func (d *decoder) text(b []byte) (*packet, error) {
	if d.pending != nil {
		return nil, errMissingBinary
	}
	p, n, err := decodeText(b, d.maxAttachments, d.maxValues)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return p, nil
	}
	d.pending, d.want = p, n
	p.attachments = make([][]byte, 0, n)
	return nil, nil
}

// binary takes an attachment. It returns the packet once the last one has arrived.
func (d *decoder) binary(b []byte) (*packet, error) {
	p := d.pending
	if p == nil {
		return nil, errUnexpectedBin
	}
	if b == nil {
		b = []byte{} // an empty attachment is binary all the same, not a JSON null
	}
	p.attachments = append(p.attachments, b)
	if len(p.attachments) < d.want {
		return nil, nil
	}
	d.pending, d.want = nil, 0
	return p, nil
}

// decodeText decodes a packet's text form and returns it with the number of attachments that
// must follow. maxValues bounds what is split and decoded of the payload (0: no bound), as in
// checkPayloadInto.
func decodeText(b []byte, maxAttachments, maxValues int) (*packet, int, error) {
	if len(b) == 0 {
		return nil, 0, errEmptyPacket
	}
	if b[0] < '0' || b[0] > '0'+byte(packetBinaryAck) {
		return nil, 0, errPacketType
	}
	r := &receivedPacket{packet: packet{typ: packetType(b[0] - '0'), nsp: "/", id: noID}}
	p := &r.packet
	rest := b[1:]

	attachments := 0
	if p.typ.binary() {
		dash := bytes.IndexByte(rest, '-')
		if dash <= 0 || dash > 6 {
			return nil, 0, errAttachments
		}
		n, ok := parseDigits(rest[:dash])
		if !ok || n < 1 {
			return nil, 0, errAttachments
		}
		if n > int64(maxAttachments) {
			return nil, 0, fmt.Errorf("%w: %d, at most %d", errTooManyBinary, n, maxAttachments)
		}
		attachments = int(n)
		rest = rest[dash+1:]
	}

	if len(rest) > 0 && rest[0] == '/' {
		end := bytes.IndexByte(rest, ',')
		if end < 0 {
			end = len(rest)
		}
		p.nsp = string(rest[:end])
		if !validNamespace(p.nsp) {
			return nil, 0, errNamespace
		}
		rest = rest[end:]
		if len(rest) > 0 {
			rest = rest[1:] // the comma
		}
	}

	digits := 0
	for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	if digits > 0 {
		id, ok := parseDigits(rest[:digits])
		if !ok {
			return nil, 0, errAckID
		}
		p.id = id
		rest = rest[digits:]
	}

	if len(rest) > 0 {
		// Events and acknowledgements are validated by splitting them, in checkPayload.
		if !p.typ.arrayPayload() && !validJSON(rest) {
			return nil, 0, errPayload
		}
		p.data = json.RawMessage(rest)
	}
	if err := checkPayloadInto(p, attachments, r.elems[:0], maxValues); err != nil {
		return nil, 0, err
	}
	return p, attachments, nil
}

// parseDigits parses a decimal number of at most 15 digits, so that it fits the 2^53 integers
// JavaScript clients count with.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// validNamespace accepts "/" followed by printable characters without a comma.
func validNamespace(nsp string) bool {
	for i := 0; i < len(nsp); i++ {
		if c := nsp[i]; c < 0x20 || c == 0x7f || c == ',' {
			return false
		}
	}
	return len(nsp) > 0 && nsp[0] == '/'
}

// checkPayload applies the protocol's rules on each packet type's payload. The elements of an
// event's or acknowledgement's array go to p.args.
func checkPayload(p *packet, attachments int) error {
	return checkPayloadInto(p, attachments, nil, 0)
}

// checkPayloadInto is checkPayload splitting arrays into room, reused if large enough. With
// maxValues positive, only the first maxValues elements of an array are split (the others are
// validated), setting p.tooManyArgs if there were more; and a suspected bad placeholder in a
// payload of more values than that is taken as bad without decoding the payload to make sure.
func checkPayloadInto(p *packet, attachments int, room []json.RawMessage, maxValues int) error {
	first := firstByte(p.data)
	switch p.typ {
	case packetConnect:
		if first != 0 && first != '{' {
			return fmt.Errorf("%w: CONNECT data must be an object", errPayload)
		}
	case packetDisconnect:
		if first != 0 {
			return fmt.Errorf("%w: DISCONNECT has no data", errPayload)
		}
	case packetConnectError:
		if first != '{' && first != '"' {
			return fmt.Errorf("%w: CONNECT_ERROR data must be an object or a string", errPayload)
		}
	case packetEvent, packetBinaryEvent:
		args, n, ok := splitArray(room, p.data, maxValues)
		if !ok || len(args) == 0 {
			return fmt.Errorf("%w: EVENT data must be a non-empty array", errPayload)
		}
		p.args, p.tooManyArgs = args, n > len(args)
		switch args[0][0] { // elements have no whitespace around them
		case '"':
			if name, reserved := reservedEventName(args[0]); reserved {
				return fmt.Errorf("%w %q", errReservedEvent, name)
			}
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			// A numeric event name, which the JavaScript client allows.
		default:
			return fmt.Errorf("%w: the event name must be a string", errPayload)
		}
	case packetAck, packetBinaryAck:
		if first != '[' {
			if len(p.data) > 0 && !validJSON(p.data) {
				return errPayload
			}
			return fmt.Errorf("%w: ACK data must be an array", errPayload)
		}
		args, n, ok := splitArray(room, p.data, maxValues)
		if !ok {
			return errPayload
		}
		p.args, p.tooManyArgs = args, n > len(args)
	}
	if attachments > 0 {
		return checkPlaceholders(p.data, attachments, maxValues)
	}
	return nil
}

// reservedEventName reports whether raw, a JSON string the scanner has validated, is a name
// the protocol reserves, and returns the name if it is.
func reservedEventName(raw []byte) (string, bool) {
	// Without escapes, decoding changes nothing but invalid UTF-8 (into U+FFFD), which no
	// reserved name has: the bytes are looked up as they are, which allocates nothing.
	if bytes.IndexByte(raw, '\\') < 0 && !reservedEvents[string(raw[1:len(raw)-1])] {
		return "", false
	}
	name, _ := jsonString(raw)
	return name, reservedEvents[name]
}

func firstByte(b []byte) byte {
	if i := skipSpace(b, 0); i < len(b) {
		return b[i]
	}
	return 0
}

// checkPlaceholders makes sure every placeholder points at an attachment that will follow.
// data has been validated.
func checkPlaceholders(data json.RawMessage, attachments, maxValues int) error {
	bad, err := findBadPlaceholder(data, attachments)
	if err != nil || !bad {
		return err
	}
	// The bad placeholder may be under a key given twice, whose first value decoding drops: the
	// decoded value decides. Decoding costs 20 to 450 bytes a value, so a payload of more than
	// maxValues values is not decoded: such a duplicate, which no client sends, is not worth it.
	if maxValues > 0 {
		if _, ok := countValues(data, maxValues); !ok {
			return errBadPlaceholder
		}
	}
	return checkPlaceholdersDecoded(data, attachments)
}

// checkPlaceholdersDecoded is checkPlaceholders on the value encoding/json decodes, the
// definition the scan follows.
func checkPlaceholdersDecoded(data json.RawMessage, attachments int) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return errPayload
	}
	var walk func(any) error
	walk = func(v any) error {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				if err := walk(e); err != nil {
					return err
				}
			}
		case map[string]any:
			if ph, ok := v["_placeholder"]; ok && ph == true {
				num, ok := v["num"].(float64)
				if !ok || num < 0 || num >= float64(attachments) || num != float64(int(num)) {
					return errBadPlaceholder
				}
				return nil
			}
			for _, e := range v {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(v)
}

// JSONParser is the protocol's own parser as a Parser: a packet is a text message (type,
// attachment count, namespace, id, JSON) followed by one binary message per attachment. It is
// what a nil ServerOptions.Parser or ClientOptions.Parser means, and given explicitly it takes
// the same path: packets do not go through its methods. They are there for programs that
// handle packets themselves, such as a parser that wraps this one.
type JSONParser struct{}

var _ Parser = JSONParser{}

// Encode returns the packet's text message and its attachments.
func (JSONParser) Encode(p *WirePacket) ([]engineio.Message, error) {
	if p.Type > PacketBinaryAck {
		return nil, errPacketType
	}
	q := packet{typ: packetType(p.Type), nsp: p.Namespace, id: p.ID, data: p.Data, attachments: p.Attachments}
	ms := make([]engineio.Message, 0, 1+len(p.Attachments))
	ms = append(ms, engineio.Message{Data: q.appendText(make([]byte, 0, q.textSize()))})
	for _, a := range p.Attachments {
		ms = append(ms, engineio.Message{Data: a, Binary: true})
	}
	return ms, nil
}

// NewDecoder returns a decoder that reads a packet's text message, then awaits its
// attachments.
func (JSONParser) NewDecoder(limits DecoderLimits) Decoder {
	return &jsonDecoder{dec: decoder{maxAttachments: limits.MaxAttachments}}
}

type jsonDecoder struct {
	dec decoder
	p   WirePacket
}

func (d *jsonDecoder) Decode(m engineio.Message) (*WirePacket, error) {
	var p *packet
	var err error
	if m.Binary {
		p, err = d.dec.binary(m.Data)
	} else {
		p, err = d.dec.text(m.Data)
	}
	if p == nil || err != nil {
		return nil, err
	}
	d.p = WirePacket{Type: PacketType(p.typ), Namespace: p.nsp, ID: p.id, Data: p.data, Attachments: p.attachments}
	return &d.p, nil
}
