package engineio

import (
	"encoding/json"
	"net/http"
)

// CloseReason tells why a session ended. The values are those of the JavaScript server, which
// the layers above and their users already know.
type CloseReason string

// Reasons a session ends.
const (
	CloseTransportClose  CloseReason = "transport close"      // the client closed: close packet or clean WebSocket close
	CloseTransportError  CloseReason = "transport error"      // the connection broke, or the client broke the protocol's rules on requests
	ClosePingTimeout     CloseReason = "ping timeout"         // no pong within PingTimeout of a ping
	CloseParseError      CloseReason = "parse error"          // an undecodable packet
	ClosePayloadTooLarge CloseReason = "payload too large"    // a POST body or WebSocket message over MaxPayload
	CloseSendQueueFull   CloseReason = "send queue full"      // the client did not keep up with SendQueueSize packets
	CloseServerClose     CloseReason = "forced close"         // Session.Close
	CloseServerShutdown  CloseReason = "server shutting down" // Server.Shutdown
)

func (r CloseReason) Error() string { return "engineio: session closed: " + string(r) }

// protocolError is an error the protocol defines for refused requests.
type protocolError struct {
	code    int
	message string
	status  int
}

var (
	errUnknownTransport   = &protocolError{0, "Transport unknown", http.StatusBadRequest}
	errUnknownSession     = &protocolError{1, "Session ID unknown", http.StatusBadRequest}
	errBadHandshakeMethod = &protocolError{2, "Bad handshake method", http.StatusBadRequest}
	errBadRequest         = &protocolError{3, "Bad request", http.StatusBadRequest}
	errForbidden          = &protocolError{4, "Forbidden", http.StatusForbidden}
	errUnsupportedVersion = &protocolError{5, "Unsupported protocol version", http.StatusBadRequest}
)

func (e *protocolError) Error() string { return "engineio: " + e.message }

// writeError answers with the protocol's JSON error body.
func writeError(w http.ResponseWriter, e *protocolError, message string) {
	if message == "" {
		message = e.message
	}
	body, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{e.code, message})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}
