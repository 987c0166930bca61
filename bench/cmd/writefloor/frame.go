package main

import (
	"encoding/binary"
	"strconv"
)

// broadcastFrame returns the bytes a Tether server puts on the wire when the
// bench's broadcast scenario emits event with one string argument of size
// bytes: an unmasked, final WebSocket text frame holding the Engine.IO message
// packet "4", the Socket.IO event packet "2" and the JSON array
// ["event","arg"]. The argument has the shape the load generator sends
// (sequence, send time, then 'x' up to size), all ASCII, so no byte of it is
// escaped and its length alone decides the frame's.
func broadcastFrame(event string, size int) []byte {
	arg := strconv.AppendInt(nil, 1, 10)
	arg = append(arg, ':')
	arg = strconv.AppendInt(arg, 1_700_000_000_000_000_000, 10)
	arg = append(arg, ':')
	for len(arg) < size {
		arg = append(arg, 'x')
	}
	payload := []byte(`42["`)
	payload = append(payload, event...)
	payload = append(payload, `","`...)
	payload = append(payload, arg...)
	payload = append(payload, `"]`...)

	frame := []byte{0x81} // FIN, text
	switch n := len(payload); {
	case n < 126:
		frame = append(frame, byte(n))
	case n < 1<<16:
		frame = append(frame, 126)
		frame = binary.BigEndian.AppendUint16(frame, uint16(n))
	default:
		frame = append(frame, 127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(n))
	}
	return append(frame, payload...)
}
