package engineio

import (
	"encoding/base64"
	"sync"
	"unicode/utf8"

	"github.com/tether-rt/tether/websocket"
)

// Message is a message's payload and kind: what a server receives from a client, or a Client
// from its server (to send one, make a PreparedMessage, or call Client.Send).
type Message struct {
	Data   []byte
	Binary bool
}

// PreparedMessage is a message to send. It is encoded at most once per transport form, however many
// sessions it is sent to, so broadcasting it costs no encoding per recipient.
//
// A text message's bytes are held once, in text: room for a WebSocket frame header, then the
// packet as both transports carry it ("4" and the text). The WebSocket frame is built in place,
// so a message queued for many slow clients costs its size once, not once per form.
type PreparedMessage struct {
	text         []byte // a text message: headroom, then the packet
	data         []byte // a binary message's bytes
	binary       bool
	uncompressed bool

	wsOnce   sync.Once
	ws       *websocket.PreparedMessage
	pollOnce sync.Once
	poll     []byte // a binary message's form in a polling payload: "b" and base64

	// The Engine.IO v3 forms, each made only when a v3 session first needs it.
	wsV3Once   sync.Once
	wsV3       *websocket.PreparedMessage // a binary message's frame: the type byte, then the bytes
	wsB64Once  sync.Once
	wsB64      *websocket.PreparedMessage // a binary message as a text frame, "b4" and base64
	pollV3Once sync.Once
	pollV3     []byte // a binary message in a text payload: "b4" and base64
	lenV3Once  sync.Once
	lenV3      int // a text packet's length in UTF-16 code units
}

// textHeadroom is what precedes a text message's payload in PreparedMessage.text.
const textHeadroom = websocket.PreparedHeadroom + 1

// NewPreparedMessage returns a message with the given payload. Text that is not valid UTF-8 is sent with
// each ill-formed sequence replaced by U+FFFD, as a JavaScript server would send it, since a
// WebSocket peer fails the connection on invalid text. A text payload is copied; a binary one
// is kept and must not be modified afterwards.
func NewPreparedMessage(data []byte, binary bool) *PreparedMessage {
	if binary {
		return &PreparedMessage{data: data, binary: true}
	}
	buf := make([]byte, textHeadroom, textHeadroom+len(data))
	buf[textHeadroom-1] = '0' + byte(packetMessage)
	return &PreparedMessage{text: appendText(buf, data)}
}

// appendText appends a text payload to buf, made valid UTF-8.
func appendText(buf, payload []byte) []byte {
	if utf8.Valid(payload) {
		return append(buf, payload...)
	}
	return appendValidUTF8(buf, payload)
}

// NewUncompressedPreparedMessage is NewPreparedMessage for a message never compressed on the wire, even when
// the session's WebSocket negotiated permessage-deflate.
func NewUncompressedPreparedMessage(data []byte, binary bool) *PreparedMessage {
	m := NewPreparedMessage(data, binary)
	m.uncompressed = true
	return m
}

// NewPreparedMessageFunc is NewPreparedMessage for a payload that appendPayload appends to the slice it is
// given: a text message is then encoded where it will be sent from, without NewPreparedMessage's copy.
// sizeHint is the payload's expected size, for the first allocation. With uncompressed set,
// the message is never compressed (see NewUncompressedPreparedMessage).
func NewPreparedMessageFunc(sizeHint int, appendPayload func(dst []byte) []byte, binary, uncompressed bool) *PreparedMessage {
	if binary {
		return &PreparedMessage{data: appendPayload(make([]byte, 0, sizeHint)), binary: true, uncompressed: uncompressed}
	}
	buf := make([]byte, textHeadroom, textHeadroom+max(sizeHint, 0))
	buf[textHeadroom-1] = '0' + byte(packetMessage)
	buf = appendPayload(buf)
	if payload := buf[textHeadroom:]; !utf8.Valid(payload) {
		buf = appendValidUTF8(buf[:textHeadroom:textHeadroom], payload)
	}
	return &PreparedMessage{text: buf, uncompressed: uncompressed}
}

// payload returns the message's payload: the text or the bytes, without the packet type.
func (m *PreparedMessage) payload() []byte {
	if m.binary {
		return m.data
	}
	return m.text[textHeadroom:]
}

// size is what the message counts for in a session's send queue.
func (m *PreparedMessage) size() int { return len(m.payload()) }

// prepared returns the message framed for WebSocket: a text frame "4"+data, or a binary frame
// holding the bytes alone.
func (m *PreparedMessage) prepared() *websocket.PreparedMessage {
	m.wsOnce.Do(func() {
		// Cannot fail: the type is valid, the headroom there and the text valid UTF-8.
		if m.binary {
			if m.uncompressed {
				m.ws, _ = websocket.NewUncompressedPreparedMessage(websocket.MessageBinary, m.data)
			} else {
				m.ws, _ = websocket.NewPreparedMessage(websocket.MessageBinary, m.data)
			}
			return
		}
		m.ws, _ = websocket.NewPreparedMessageInPlace(websocket.MessageText, m.text, m.uncompressed)
	})
	return m.ws
}

// pollingText returns the message's form in a long-polling payload.
func (m *PreparedMessage) pollingText() []byte {
	if !m.binary {
		return m.text[websocket.PreparedHeadroom:]
	}
	m.pollOnce.Do(func() {
		m.poll = base64.StdEncoding.AppendEncode(append(make([]byte, 0, 1+base64.StdEncoding.EncodedLen(len(m.data))), 'b'), m.data)
	})
	return m.poll
}

// wsForm is how a session's WebSocket carries binary messages.
type wsForm uint8

const (
	wsFormV4       wsForm = iota // a binary frame of the bytes
	wsFormV3                     // a binary frame of the packet type, then the bytes
	wsFormV3Base64               // a text frame, "b4" and base64, for a v3 client that asked (b64)
)

// preparedFor returns the message framed for a WebSocket carrying binary messages in form.
func (m *PreparedMessage) preparedFor(form wsForm) *websocket.PreparedMessage {
	if form == wsFormV4 || !m.binary {
		return m.prepared()
	}
	if form == wsFormV3Base64 {
		m.wsB64Once.Do(func() {
			text := m.pollingTextV3()
			frame := make([]byte, websocket.PreparedHeadroom, websocket.PreparedHeadroom+len(text))
			// Cannot fail: the text is ASCII, after the headroom.
			m.wsB64, _ = websocket.NewPreparedMessageInPlace(websocket.MessageText, append(frame, text...), m.uncompressed)
		})
		return m.wsB64
	}
	m.wsV3Once.Do(func() {
		frame := append(make([]byte, 0, 1+len(m.data)), byte(packetMessage))
		frame = append(frame, m.data...)
		// Cannot fail: the type is valid.
		if m.uncompressed {
			m.wsV3, _ = websocket.NewUncompressedPreparedMessage(websocket.MessageBinary, frame)
		} else {
			m.wsV3, _ = websocket.NewPreparedMessage(websocket.MessageBinary, frame)
		}
	})
	return m.wsV3
}

// pollingTextV3 returns a binary message's form in a v3 text payload.
func (m *PreparedMessage) pollingTextV3() []byte {
	m.pollV3Once.Do(func() {
		dst := append(make([]byte, 0, 2+base64.StdEncoding.EncodedLen(len(m.data))), 'b', '0'+byte(packetMessage))
		m.pollV3 = base64.StdEncoding.AppendEncode(dst, m.data)
	})
	return m.pollV3
}

// utf16Len returns the length of a text message's packet as JavaScript counts it, for the
// length header of a v3 text payload.
func (m *PreparedMessage) utf16Len() int {
	m.lenV3Once.Do(func() { m.lenV3 = utf16Len(m.pollingText()) })
	return m.lenV3
}
