package websocket

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tether-rt/tether/internal/hostmatch"
)

// AcceptOptions configures Accept. The zero value is a secure default: same-origin requests only,
// no subprotocol, no compression, a 1 MiB read limit.
type AcceptOptions struct {
	// Subprotocols lists the subprotocols the server speaks. The first subprotocol in the
	// client's list (its order of preference, RFC 6455 section 4.1) that is also here is chosen.
	Subprotocols []string

	// OriginPatterns lists the hosts allowed to connect from another origin, as path.Match
	// patterns such as "example.com", "*.example.com" or "*" for any; a pattern with "://"
	// matches "scheme://host" instead. Browsers send the Origin header, so a page on another
	// site cannot reach the server unless allowed here. Requests without Origin, and requests
	// whose Origin host equals the Host header, are always accepted.
	OriginPatterns []string

	// AllowedHosts, when set, lists the values the Host header may take (without the port),
	// as path.Match patterns such as "example.com" or "*.example.com"; other handshakes are
	// refused with 403. The origin check lets a page whose Origin host equals Host through,
	// and a page on a domain an attacker points at the server's address (DNS rebinding)
	// passes it: a server on loopback or a private address should list its names here.
	AllowedHosts []string

	// Compression enables permessage-deflate when the client offers it.
	Compression CompressionMode
	// CompressionThreshold is the size under which messages are sent uncompressed; 0 means 128.
	CompressionThreshold int

	// ReadLimit is the largest message accepted, in bytes; 0 means 1 MiB and -1 no limit.
	ReadLimit int64

	// KeepAlive, when positive, pings a peer from which nothing arrived for that long and closes
	// the connection if still nothing arrives within the same time after the ping.
	KeepAlive time.Duration

	// WriteTimeout bounds each write to the network: a frame the peer has not taken within it
	// (its receive window and our send buffer are full: it is not reading) fails the write and
	// closes the connection, with an error matching ErrWriteTimeout. 0 means
	// DefaultWriteTimeout (10 s). A context passed to a write can only shorten it.
	WriteTimeout time.Duration

	// OnPing and OnPong, when set, are called with the payload of each ping and pong received,
	// from the reading goroutine. Pings are answered whether or not OnPing is set.
	OnPing func(payload []byte)
	OnPong func(payload []byte)
}

// handshakeError is an HTTP status with the message Accept writes and returns.
type handshakeError struct {
	status int
	msg    string
}

func (e *handshakeError) Error() string { return "websocket: " + e.msg }

// Accept completes the WebSocket handshake for r and takes over the connection. When it fails,
// it has already answered the request with an HTTP error (403 for a refused origin, 426 for a
// request that is not a WebSocket upgrade, 400 for a malformed one) and returns why.
//
// Accept starts no goroutine. The handler may return after Accept and use the Conn elsewhere;
// doing so frees the buffers net/http keeps for a request, which matters for idle connections.
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	return accept(w, r, opts, 0, nil)
}

// AcceptWithMessage is Accept followed by a first message of type typ, written together with
// the handshake's response: one system call and one TCP segment instead of two, for protocols
// whose server speaks first (Engine.IO's open packet, say). The message goes uncompressed.
//
// Unlike Accept, it writes the 101 response itself once it has taken over the connection, so
// a ResponseWriter wrapper (logging middleware) sees no WriteHeader call; the header fields set
// through w.Header() are sent as net/http would send them. An invalid message type or a text
// message that is not valid UTF-8 is refused with 500 before the handshake.
func AcceptWithMessage(w http.ResponseWriter, r *http.Request, opts *AcceptOptions, typ MessageType, msg []byte) (*Conn, error) {
	op, err := dataOpcode(typ)
	if err == nil && op == opText && !utf8.Valid(msg) {
		err = ErrInvalidUTF8
	}
	if err != nil {
		return nil, refuse(w, &handshakeError{http.StatusInternalServerError, "first message: " + err.Error()})
	}
	return accept(w, r, opts, op, msg)
}

// accept is Accept, with AcceptWithMessage's first message when op is not zero.
func accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions, op opcode, msg []byte) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	if err := checkUpgradeRequest(r); err != nil {
		return nil, refuse(w, err)
	}
	if !hostmatch.Allowed(r.Host, opts.AllowedHosts) {
		return nil, refuse(w, &handshakeError{http.StatusForbidden, fmt.Sprintf("host %q is not allowed", r.Host)})
	}
	if err := checkOrigin(r, opts.OriginPatterns); err != nil {
		return nil, refuse(w, err)
	}
	if !canHijack(w) {
		return nil, refuse(w, &handshakeError{http.StatusInternalServerError,
			"the http.ResponseWriter does not support hijacking (wrap it with an Unwrap method, and use HTTP/1.1)"})
	}

	resp := handshakeFields{accept: acceptKey(headerGet(r.Header, hdrKey))}
	cfg := connConfig{
		subprotocol:   selectSubprotocol(r.Header, opts.Subprotocols),
		compressAbove: opts.CompressionThreshold,
		readLimit:     opts.ReadLimit,
		keepAlive:     opts.KeepAlive,
		writeTimeout:  opts.WriteTimeout,
		onPing:        opts.OnPing,
		onPong:        opts.OnPong,
	}
	resp.protocol = cfg.subprotocol
	if opts.Compression != CompressionDisabled {
		exts, err := parseExtensions(r.Header)
		if err != nil {
			return nil, refuse(w, &handshakeError{http.StatusBadRequest, "malformed Sec-WebSocket-Extensions: " + err.Error()})
		}
		if ext, neg, ok := acceptDeflate(exts, opts.Compression); ok {
			resp.extensions = ext
			cfg.neg = neg
		}
	}
	if op != 0 {
		// The fields go straight into the response: adding them to w's header map would
		// grow it, garbage on every handshake.
		return acceptAndWrite(w, resp, cfg, op, msg)
	}

	h := w.Header()
	// One backing array for the three values, each slice capped so that an append by
	// middleware cannot reach the next; the names are in canonical form already.
	vals := []string{"websocket", "Upgrade", resp.accept}
	h["Upgrade"] = vals[0:1:1]
	h["Connection"] = vals[1:2:2]
	h[hdrAccept] = vals[2:3:3]
	if resp.protocol != "" {
		h[hdrProtocol] = []string{resp.protocol}
	}
	if resp.extensions != "" {
		h[hdrExtensions] = []string{resp.extensions}
	}

	// Writing the status through w lets middleware see the 101; Hijack then flushes it.
	w.WriteHeader(http.StatusSwitchingProtocols)
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("websocket: hijack: %w", err)
	}
	if brw.Writer.Buffered() > 0 {
		if err := brw.Writer.Flush(); err != nil {
			nc.Close()
			return nil, fmt.Errorf("websocket: writing handshake response: %w", err)
		}
	}
	return newConn(nc, leftover(brw.Reader), cfg), nil
}

// leftover returns a copy of the bytes the client sent after its request that net/http has
// already read, if any: the connection keeps those, not net/http's buffers.
func leftover(r *bufio.Reader) []byte {
	n := r.Buffered()
	if n == 0 {
		return nil
	}
	p, _ := r.Peek(n)
	return bytes.Clone(p)
}

// handshakeFields are the values of the server's handshake response fields.
type handshakeFields struct {
	accept     string // Sec-WebSocket-Accept
	protocol   string // Sec-WebSocket-Protocol, or "" for none
	extensions string // Sec-WebSocket-Extensions, or "" for none
}

// acceptAndWrite takes over the connection, then writes the 101 response (the handshake's
// fields, then those of w's header but for the ones the handshake sets) and the first message
// in one write, bounded by the connection's write timeout.
func acceptAndWrite(w http.ResponseWriter, f handshakeFields, cfg connConfig, op opcode, msg []byte) (*Conn, error) {
	h := w.Header()
	// Nothing was written through w, so Hijack flushes nothing: the response is all ours.
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("websocket: hijack: %w", err)
	}
	b := make([]byte, 0, 256+len(msg))
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"...)
	b = append(append(append(b, hdrAccept...), ": "...), f.accept...)
	b = append(b, "\r\n"...)
	if f.protocol != "" {
		b = append(append(append(b, hdrProtocol...), ": "...), f.protocol...)
		b = append(b, "\r\n"...)
	}
	if f.extensions != "" {
		b = append(append(append(b, hdrExtensions...), ": "...), f.extensions...)
		b = append(b, "\r\n"...)
	}
	b = appendResponseHeader(b, h, f)
	b = append(b, "\r\n"...)
	b = appendHeader(b, header{fin: true, opcode: op, length: int64(len(msg))})
	b = append(b, msg...)
	timeout := cfg.writeTimeout
	if timeout <= 0 {
		timeout = DefaultWriteTimeout
	}
	_ = nc.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := nc.Write(b); err != nil {
		nc.Close()
		return nil, fmt.Errorf("websocket: writing handshake response: %w", err)
	}
	return newConn(nc, leftover(brw.Reader), cfg), nil
}

// appendResponseHeader appends the fields of h as net/http writes a response's: fields with an
// invalid name are left out, and line breaks in values become spaces, so that no value can
// split the response. The fields the handshake sets (f) replace those of the same name in h,
// as Accept's assignments to the header map do.
func appendResponseHeader(b []byte, h http.Header, f handshakeFields) []byte {
	for k, vs := range h {
		switch {
		case !validFieldName(k), k == "Upgrade", k == "Connection", k == hdrAccept,
			k == hdrProtocol && f.protocol != "", k == hdrExtensions && f.extensions != "":
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			start := len(b)
			b = append(b, strings.TrimSpace(v)...)
			for i := start; i < len(b); i++ {
				if b[i] == '\r' || b[i] == '\n' {
					b[i] = ' '
				}
			}
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// validFieldName reports whether k is a header field name: a non-empty token (RFC 9110
// section 5.6.2).
func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// refuse answers a failed handshake and returns the error.
func refuse(w http.ResponseWriter, err error) error {
	var he *handshakeError
	if !errors.As(err, &he) {
		he = &handshakeError{http.StatusBadRequest, err.Error()}
	}
	http.Error(w, he.Error(), he.status)
	return he
}

// checkUpgradeRequest checks the client's opening handshake (RFC 6455 section 4.2.1).
func checkUpgradeRequest(r *http.Request) error {
	if r.Method != http.MethodGet {
		return &handshakeError{http.StatusMethodNotAllowed, fmt.Sprintf("handshake method must be GET, not %s", r.Method)}
	}
	if !hasToken(r.Header, "Connection", "upgrade") || !hasToken(r.Header, "Upgrade", "websocket") {
		return &handshakeError{http.StatusUpgradeRequired, "not a WebSocket handshake: Connection: Upgrade and Upgrade: websocket are required"}
	}
	if !r.ProtoAtLeast(1, 1) {
		return &handshakeError{http.StatusBadRequest, "WebSocket handshake requires HTTP/1.1"}
	}
	if v := headerGet(r.Header, hdrVersion); v != "13" {
		return &handshakeError{http.StatusUpgradeRequired, fmt.Sprintf("unsupported Sec-WebSocket-Version %q: only 13 is supported", v)}
	}
	keys := headerValues(r.Header, hdrKey)
	if len(keys) != 1 {
		return &handshakeError{http.StatusBadRequest, "exactly one Sec-WebSocket-Key header is required"}
	}
	if !validKey(keys[0]) {
		return &handshakeError{http.StatusBadRequest, "Sec-WebSocket-Key must be 16 bytes in base64"}
	}
	return nil
}

// validKey reports whether a Sec-WebSocket-Key is 16 bytes in base64: 24 characters with
// padding. Decoding into an array on the stack checks the alphabet and the padding without
// an allocation; the length is checked first, as Decode would write past the array for a
// longer key.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var k [18]byte
	n, err := base64.StdEncoding.Decode(k[:], []byte(key))
	return err == nil && n == 16
}

// checkOrigin refuses cross-origin requests unless their origin matches a pattern.
func checkOrigin(r *http.Request, patterns []string) error {
	origin := headerGet(r.Header, "Origin")
	if origin == "" {
		return nil
	}
	host, withScheme := origin, origin
	if u, err := url.Parse(origin); err == nil && u.Host != "" {
		host, withScheme = u.Host, u.Scheme+"://"+u.Host
		if strings.EqualFold(u.Host, r.Host) {
			return nil
		}
	}
	for _, p := range patterns {
		target := host
		if strings.Contains(p, "://") {
			target = withScheme
		}
		ok, err := path.Match(strings.ToLower(p), strings.ToLower(target))
		if err != nil {
			return &handshakeError{http.StatusInternalServerError, fmt.Sprintf("bad origin pattern %q: %v", p, err)}
		}
		if ok {
			return nil
		}
	}
	return &handshakeError{http.StatusForbidden, fmt.Sprintf(
		"request origin %q is not allowed: cross-origin WebSocket requests are refused unless the origin matches AcceptOptions.OriginPatterns", origin)}
}

// canHijack reports whether w, or a writer it wraps, can hand over the connection. It follows
// Unwrap as http.ResponseController does, so the check holds before anything is written.
func canHijack(w http.ResponseWriter) bool {
	for {
		if _, ok := w.(http.Hijacker); ok {
			return true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}

func selectSubprotocol(h http.Header, supported []string) string {
	chosen := ""
	if len(supported) == 0 {
		return chosen
	}
	eachToken(h, hdrProtocol, func(offered string) bool {
		for _, s := range supported {
			if offered == s {
				chosen = s
				return false
			}
		}
		return true
	})
	return chosen
}
