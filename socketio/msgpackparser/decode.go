package msgpackparser

import (
	"errors"
	"fmt"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/socketio"
)

var (
	errText      = errors.New("msgpackparser: a text message: every packet is a binary MessagePack message")
	errNotMap    = errors.New("msgpackparser: a packet is a MessagePack map")
	errTrailing  = errors.New("msgpackparser: bytes after the packet")
	errType      = errors.New("msgpackparser: invalid packet type")
	errNamespace = errors.New("msgpackparser: invalid namespace")
	errID        = errors.New("msgpackparser: invalid packet id")
)

// decoder decodes the packets of one connection. Every packet is one message: it keeps no
// state from one to the next but buffers for their reuse.
type decoder struct {
	conv   converter
	packet socketio.WirePacket
	json   []byte // the data's JSON as it is converted, copied out at its size
}

// scratchKeep bounds the conversion buffer a decoder keeps between packets, so that one large
// packet does not cost every idle connection its size.
const scratchKeep = 64 << 10

// Decode decodes one message, a map {type, nsp, data?, id?}, and refuses what npm's
// socket.io-msgpack-parser refuses: a type other than 0 to 4 (CONNECT to CONNECT_ERROR), a
// namespace that is not a string, an id that is not an integer. Other keys are ignored. The
// data is converted to JSON (see the package documentation); the server checks it next, as
// the JSON parser's.
func (d *decoder) Decode(m engineio.Message) (*socketio.WirePacket, error) {
	if !m.Binary {
		return nil, errText
	}
	r := reader{b: m.Data}
	t, err := r.next()
	if err != nil {
		return nil, err
	}
	if t.kind != kindMap {
		return nil, errNotMap
	}
	typ, id := int64(-1), int64(-1)
	var nsp []byte
	haveNsp := false
	var data []byte
	var attachments [][]byte
	lookAlike := false
	for range t.n {
		key, err := d.conv.readKey(&r)
		if err != nil {
			return nil, err
		}
		switch string(key) {
		case "type":
			if typ, err = r.integer(); err != nil {
				return nil, fmt.Errorf("%w: %v", errType, err)
			}
		case "nsp":
			v, err := r.next()
			if err != nil {
				return nil, err
			}
			if v.kind != kindStr {
				return nil, fmt.Errorf("%w: a %s", errNamespace, v.kind)
			}
			nsp, haveNsp = v.b, true
		case "id":
			if r.undefinedNext() {
				id = -1
				continue
			}
			if id, err = r.integer(); err != nil {
				return nil, fmt.Errorf("%w: %v", errID, err)
			}
			if id < 0 {
				return nil, fmt.Errorf("%w: %d", errID, id)
			}
		case "data":
			data, attachments = nil, nil
			if r.undefinedNext() {
				continue
			}
			d.conv.attachments, d.conv.lookAlike = nil, false
			out, err := d.conv.convert(&r, d.json[:0])
			if cap(out) <= scratchKeep {
				d.json = out[:0]
			} else {
				d.json = nil
			}
			if err != nil {
				return nil, err
			}
			data, attachments, lookAlike = append([]byte(nil), out...), d.conv.attachments, d.conv.lookAlike
		default:
			if err := r.skip(); err != nil {
				return nil, err
			}
		}
	}
	if r.left() > 0 {
		return nil, errTrailing
	}
	if typ < int64(socketio.PacketConnect) || typ > int64(socketio.PacketConnectError) {
		return nil, errType
	}
	if !haveNsp {
		return nil, fmt.Errorf("%w: none", errNamespace)
	}
	if lookAlike && len(attachments) > 0 {
		return nil, errLookAlike
	}
	if string(data) == "null" && (typ == int64(socketio.PacketConnect) || typ == int64(socketio.PacketDisconnect)) {
		data = nil // python-socketio's msgpack packets carry data: None for none
	}
	d.packet = socketio.WirePacket{Type: socketio.PacketType(typ), Namespace: namespace(nsp), ID: id, Data: data, Attachments: attachments}
	return &d.packet, nil
}

// namespace returns nsp as a string, without allocating for the main namespace.
func namespace(nsp []byte) string {
	if string(nsp) == "/" {
		return "/"
	}
	return string(nsp)
}
