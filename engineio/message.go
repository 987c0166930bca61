package engineio

import (
	"sync"

	"github.com/tether-rt/tether/websocket"
)

// Message is a message received: by a server from a client, or by a Client from its server.
type Message struct {
	Data   []byte
	Binary bool
}

// OutMessage is a message to send. It is encoded at most once per transport form, however many
// sessions it is sent to, so broadcasting it costs no encoding per recipient.
type OutMessage struct {
	data         []byte
	binary       bool
	uncompressed bool

	wsOnce   sync.Once
	ws       *websocket.PreparedMessage
	pollOnce sync.Once
	poll     []byte // the packet's text form in a polling payload
}

// NewMessage returns a message with the given payload. data is kept and must not be modified
// afterwards.
func NewMessage(data []byte, binary bool) *OutMessage {
	return &OutMessage{data: data, binary: binary}
}

// NewUncompressedMessage is NewMessage for a message never compressed on the wire, even when
// the session's WebSocket negotiated permessage-deflate.
func NewUncompressedMessage(data []byte, binary bool) *OutMessage {
	return &OutMessage{data: data, binary: binary, uncompressed: true}
}

// prepared returns the message framed for WebSocket: a text frame "4"+data, or a binary frame
// holding the bytes alone.
func (m *OutMessage) prepared() *websocket.PreparedMessage {
	m.wsOnce.Do(func() {
		prepare := websocket.NewPreparedMessage
		if m.uncompressed {
			prepare = websocket.NewUncompressedPreparedMessage
		}
		if m.binary {
			m.ws, _ = prepare(websocket.MessageBinary, m.data)
			return
		}
		text := make([]byte, 0, 1+len(m.data))
		text = append(append(text, '0'+byte(packetMessage)), m.data...)
		m.ws, _ = prepare(websocket.MessageText, text)
	})
	return m.ws
}

// pollingText returns the message's form in a long-polling payload.
func (m *OutMessage) pollingText() []byte {
	m.pollOnce.Do(func() {
		m.poll = packet{typ: packetMessage, data: m.data, binary: m.binary}.appendText(nil)
	})
	return m.poll
}
