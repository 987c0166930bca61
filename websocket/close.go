package websocket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// StatusCode is a WebSocket close code (RFC 6455 section 7.4).
type StatusCode int

// Close codes defined by RFC 6455 and the IANA registry.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatusRcvd            StatusCode = 1005 // never sent; reported when a close frame has no code
	StatusAbnormalClosure         StatusCode = 1006 // never sent; reported when the connection was lost
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	StatusBadGateway              StatusCode = 1014
	StatusTLSHandshake            StatusCode = 1015 // never sent
)

// ErrClosed is returned when a connection is used after Close or CloseNow was called on it.
var ErrClosed = errors.New("websocket: use of closed connection")

// ErrWriteTimeout is in the chain of the error of a write the peer did not take within the
// connection's WriteTimeout, and of every later operation's: the connection was closed.
var ErrWriteTimeout = errors.New("websocket: write timed out: the peer is not reading")

// ErrInvalidUTF8 is returned for a text message that is not valid UTF-8. Nothing of it was
// sent: RFC 6455 requires text messages to be UTF-8, and a peer receiving invalid text fails
// the connection (1007).
var ErrInvalidUTF8 = errors.New("websocket: text message is not valid UTF-8")

// CloseError reports why a connection ended. Reads and writes return it, wrapped or not, once the
// connection is closed; match it with errors.As or read the code with CloseStatus.
type CloseError struct {
	Code   StatusCode
	Reason string
	// Local is true when this side ended the connection: the peer broke the protocol, a limit was
	// exceeded, the keep-alive expired or the connection was lost (Code is then 1006). It is false
	// when the code and reason come from the peer's close frame.
	Local bool

	cause error // the underlying I/O error, when the connection was lost
}

func (e *CloseError) Error() string {
	who := "peer"
	if e.Local {
		who = "this side"
	}
	msg := fmt.Sprintf("websocket: closed by %s with %d", who, int(e.Code))
	if name := e.Code.String(); !strings.HasPrefix(name, "status") {
		msg += " (" + name + ")"
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap returns the I/O error that ended the connection, if any.
func (e *CloseError) Unwrap() error { return e.cause }

// CloseStatus returns the code of the *CloseError in err's chain, or -1 if there is none.
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// String returns the code's name from RFC 6455, or "status N" for codes without one.
func (c StatusCode) String() string {
	switch c {
	case StatusNormalClosure:
		return "normal closure"
	case StatusGoingAway:
		return "going away"
	case StatusProtocolError:
		return "protocol error"
	case StatusUnsupportedData:
		return "unsupported data"
	case StatusNoStatusRcvd:
		return "no status"
	case StatusAbnormalClosure:
		return "abnormal closure"
	case StatusInvalidFramePayloadData:
		return "invalid payload data"
	case StatusPolicyViolation:
		return "policy violation"
	case StatusMessageTooBig:
		return "message too big"
	case StatusMandatoryExtension:
		return "mandatory extension"
	case StatusInternalError:
		return "internal error"
	case StatusServiceRestart:
		return "service restart"
	case StatusTryAgainLater:
		return "try again later"
	case StatusBadGateway:
		return "bad gateway"
	case StatusTLSHandshake:
		return "TLS handshake"
	}
	return fmt.Sprintf("status %d", int(c))
}

// sendable reports whether c may appear in a close frame on the wire (RFC 6455 section 7.4).
func (c StatusCode) sendable() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// maxCloseReason is the longest reason that fits a control frame after the two-byte code.
const maxCloseReason = maxControlPayload - 2

// parseClosePayload decodes a received close frame's payload and validates it.
func parseClosePayload(p []byte) (StatusCode, string, *CloseError) {
	switch {
	case len(p) == 0:
		return StatusNoStatusRcvd, "", nil
	case len(p) == 1:
		return 0, "", protocolErr(StatusProtocolError, "close frame payload of one byte")
	}
	code := StatusCode(binary.BigEndian.Uint16(p))
	if !code.sendable() {
		return 0, "", protocolErr(StatusProtocolError, fmt.Sprintf("invalid close code %d", int(code)))
	}
	reason := p[2:]
	if !utf8.Valid(reason) {
		return 0, "", protocolErr(StatusInvalidFramePayloadData, "close reason is not valid UTF-8")
	}
	return code, string(reason), nil
}

// appendClosePayload encodes a close frame payload. The reason is cut to fit a control frame,
// at a rune boundary so that it stays valid UTF-8.
func appendClosePayload(dst []byte, code StatusCode, reason string) []byte {
	if code == StatusNoStatusRcvd {
		return dst
	}
	if len(reason) > maxCloseReason {
		cut := maxCloseReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}

// protocolErr is the error for a rule the peer broke; the connection is failed with code.
func protocolErr(code StatusCode, reason string) *CloseError {
	return &CloseError{Code: code, Reason: reason, Local: true}
}
