package engineio

import "net/http"

// The codes of the requests the protocol refuses, as Node's engine.io numbers them
// (Server.errors) and sends them in the answer's JSON body.
const (
	CodeUnknownTransport           = 0 // the transport parameter names no transport allowed
	CodeUnknownSession             = 1 // the sid parameter names no open session
	CodeBadHandshakeMethod         = 2 // a handshake that is not a GET
	CodeBadRequest                 = 3 // a request the protocol does not allow
	CodeForbidden                  = 4 // refused by AllowRequest, AllowedHosts or the origin checks
	CodeUnsupportedProtocolVersion = 5 // an EIO parameter the server does not speak
)

// RequestError is a request the server refused before it reached a session: what
// ServerOptions.OnConnectionError receives (Node's "connection_error" event).
type RequestError struct {
	Code    int    // one of the Code constants
	Message string // the message sent to the client, in the answer's JSON body
	Status  int    // the HTTP status of the answer
}

func (e *RequestError) Error() string { return "engineio: request refused: " + e.Message }

// refuse answers r with the protocol's error e, telling OnConnectionError first.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, e *protocolError, message string) {
	if o := s.opts.Observer; o != nil {
		o.RequestRefused(e.code)
	}
	if s.opts.OnConnectionError != nil {
		m := message
		if m == "" {
			m = e.message
		}
		s.opts.OnConnectionError(r, &RequestError{Code: e.code, Message: m, Status: e.status})
	}
	writeError(w, e, message)
}

// setHeaders lets the Headers hook, and the InitialHeaders hook for a handshake, set the
// answer's headers before anything else is written.
func (s *Server) setHeaders(w http.ResponseWriter, r *http.Request, handshake bool) {
	if handshake && s.opts.InitialHeaders != nil {
		s.opts.InitialHeaders(w.Header(), r)
	}
	if s.opts.Headers != nil {
		s.opts.Headers(w.Header(), r)
	}
}

// ClientsCount returns the number of sessions open now (Node's server.clientsCount): a session
// stops counting when it closes, before OnClose is called.
func (s *Server) ClientsCount() int { return int(s.clients.Load()) }
