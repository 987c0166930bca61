package engineio

import (
	"encoding/base64"
	"sync"
	"unicode/utf8"

	"github.com/tether-rt/tether/websocket"
)

// Message is a message received: by a server from a client, or by a Client from its server.
type Message struct {
	Data   []byte
	Binary bool
}

// OutMessage is a message to send. It is encoded at most once per transport form, however many
// sessions it is sent to, so broadcasting it costs no encoding per recipient.
//
// Its bytes are held once, in buf: room for a WebSocket frame header, then the packet as a
// text frame carries it ("4" and the text) or, for binary, the bytes alone. The WebSocket frame
// is built in place and a text message's polling form is the same bytes, so a message queued
// for many slow clients costs its size once, not once per form.
type OutMessage struct {
	buf          []byte
	binary       bool
	uncompressed bool

	wsOnce   sync.Once
	ws       *websocket.PreparedMessage
	pollOnce sync.Once
	poll     []byte // a binary message's form in a polling payload: "b" and base64
}

// NewMessage returns a message with the given payload. Text that is not valid UTF-8 is sent with
// each ill-formed sequence replaced by U+FFFD, as a JavaScript server would send it, since a
// WebSocket peer fails the connection on invalid text. data is copied.
func NewMessage(data []byte, binary bool) *OutMessage {
	m := &OutMessage{binary: binary}
	h := websocket.PreparedHeadroom
	if binary {
		m.buf = append(make([]byte, h, h+len(data)), data...)
		return m
	}
	buf := make([]byte, h, h+1+len(data))
	buf = append(buf, '0'+byte(packetMessage))
	if utf8.Valid(data) {
		m.buf = append(buf, data...)
	} else {
		m.buf = appendValidUTF8(buf, data)
	}
	return m
}

// NewUncompressedMessage is NewMessage for a message never compressed on the wire, even when
// the session's WebSocket negotiated permessage-deflate.
func NewUncompressedMessage(data []byte, binary bool) *OutMessage {
	m := NewMessage(data, binary)
	m.uncompressed = true
	return m
}

// data returns the message's payload: the text or the bytes, without the packet type.
func (m *OutMessage) data() []byte {
	if m.binary {
		return m.buf[websocket.PreparedHeadroom:]
	}
	return m.buf[websocket.PreparedHeadroom+1:]
}

// size is what the message counts for in a session's send queue.
func (m *OutMessage) size() int { return len(m.buf) - websocket.PreparedHeadroom }

// prepared returns the message framed for WebSocket: a text frame "4"+data, or a binary frame
// holding the bytes alone.
func (m *OutMessage) prepared() *websocket.PreparedMessage {
	m.wsOnce.Do(func() {
		typ := websocket.MessageText
		if m.binary {
			typ = websocket.MessageBinary
		}
		// Cannot fail: the headroom is there and the text was made valid UTF-8.
		m.ws, _ = websocket.NewPreparedMessageInPlace(typ, m.buf, m.uncompressed)
	})
	return m.ws
}

// pollingText returns the message's form in a long-polling payload.
func (m *OutMessage) pollingText() []byte {
	if !m.binary {
		return m.buf[websocket.PreparedHeadroom:]
	}
	m.pollOnce.Do(func() {
		m.poll = base64.StdEncoding.AppendEncode(append(make([]byte, 0, 1+base64.StdEncoding.EncodedLen(len(m.data()))), 'b'), m.data())
	})
	return m.poll
}
