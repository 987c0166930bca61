// Package httpserver builds the net/http servers of the tether command with
// the limits every server facing the network needs, which a zero
// http.Server lacks: a keep-alive connection that sends no request is closed
// after an idle timeout, a request's headers must arrive within a time limit
// and fit in a small number of bytes, running out of file descriptors is
// reported and survived, and net/http's error log goes to slog.
//
// The defaults, next to Node's http.Server (which Socket.IO servers run on):
//
//	                       Tether                Node
//	header timeout         10 s                  60 s (headersTimeout)
//	idle timeout           30 s                  5 s (keepAliveTimeout)
//	request head           16 KiB                16 KiB (--max-http-header-size)
//	receiving a request    the handler's choice  300 s (requestTimeout)
//
// The idle timeout is longer than Node's so that a long-polling client's
// second connection, which carries a pong every ping interval (25 s by
// default), stays open between pongs.
//
// http.Server.ReadTimeout and WriteTimeout stay unset. A long-polling GET
// waits up to a ping interval for something to send, and a WriteTimeout
// shorter than that would cut its answer. A deadline on a request's body is
// the handler's to set, through http.ResponseController.SetReadDeadline;
// nothing here overrides it. net/http clears it once the body has been read
// to its end, and replaces it with the idle and header deadlines between
// requests. (A WebSocket is not concerned by any of these: net/http clears a
// connection's deadlines when it hands it over.)
package httpserver

import (
	"log"
	"log/slog"
	"net/http"
	"time"
)

const (
	// DefaultHeaderTimeout bounds the time from a request's first byte (or,
	// on a new connection, from its accept) to the end of its headers.
	DefaultHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes a keep-alive connection that has sent no new
	// request for this long after its last response.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultMaxHeaderBytes bounds a request's head, its request line and
	// headers, as Node's --max-http-header-size does.
	DefaultMaxHeaderBytes = 16 << 10
)

// readSlop is how many bytes net/http reads past http.Server.MaxHeaderBytes
// before it refuses a request head as too large: the size of its read buffer.
const readSlop = 4096

// MinMaxHeaderBytes is the smallest Limits.MaxHeaderBytes net/http can
// enforce; smaller values are raised to it.
const MinMaxHeaderBytes = readSlop + 1

// Limits are the per-connection limits of a server. A zero or negative field
// means its default.
type Limits struct {
	// HeaderTimeout bounds the time from a request's first byte (from the
	// accept, on a new connection) to the end of its headers; the connection
	// is then closed. Default DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no new request
	// for this long. Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's head (request line and headers, in
	// bytes): a longer one is answered 431 Request Header Fields Too Large
	// and the connection closed. Default DefaultMaxHeaderBytes.
	MaxHeaderBytes int
}

// withDefaults returns l with every unset field at its default.
func (l Limits) withDefaults() Limits {
	if l.HeaderTimeout <= 0 {
		l.HeaderTimeout = DefaultHeaderTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	l.MaxHeaderBytes = max(l.MaxHeaderBytes, MinMaxHeaderBytes)
	return l
}

// New returns an http.Server for h with limits, logging to logger (nil: no
// logs). Serve it on a listener wrapped by Listener.
//
// net/http's error log goes to logger at debug level, as most of it is about
// what clients did (a failed TLS handshake, say), except the lines no client
// can cause by itself: a handler's panic is logged at error level and a
// handler's misuse of its ResponseWriter at warning level.
func New(h http.Handler, limits Limits, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	limits = limits.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: limits.HeaderTimeout,
		IdleTimeout:       limits.IdleTimeout,
		// net/http accepts a head of up to MaxHeaderBytes plus readSlop bytes.
		MaxHeaderBytes: limits.MaxHeaderBytes - readSlop,
		ErrorLog:       log.New(errorLog{logger}, "", 0),
	}
}
