package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strings"
)

// acceptGUID is the constant RFC 6455 section 1.3 appends to the client's key.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// The handshake's header names as net/http's maps hold them. Looking them up with these,
// rather than with Header.Get and the RFC's spelling, saves canonicalizing the name (an
// allocation each time, since "WebSocket" is not in canonical form) on every handshake.
var (
	hdrKey        = http.CanonicalHeaderKey("Sec-WebSocket-Key")
	hdrVersion    = http.CanonicalHeaderKey("Sec-WebSocket-Version")
	hdrProtocol   = http.CanonicalHeaderKey("Sec-WebSocket-Protocol")
	hdrExtensions = http.CanonicalHeaderKey("Sec-WebSocket-Extensions")
	hdrAccept     = http.CanonicalHeaderKey("Sec-WebSocket-Accept")
)

// acceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func acceptKey(key string) string {
	// A client's key is 24 characters: the buffer stays on the stack.
	buf := make([]byte, 0, 64)
	buf = append(append(buf, key...), acceptGUID...)
	sum := sha1.Sum(buf)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// headerValues returns the values of header name, which must be in canonical form, falling
// back to a canonicalizing lookup for a map built by hand with another spelling.
func headerValues(h http.Header, name string) []string {
	if vs, ok := h[name]; ok {
		return vs
	}
	return h.Values(name)
}

// headerGet is Header.Get for a name in canonical form, with headerValues' fallback.
func headerGet(h http.Header, name string) string {
	if vs := headerValues(h, name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// eachToken calls f with each trimmed, non-empty comma-separated element of every value of
// header name (canonical form), until f returns false. It allocates nothing.
func eachToken(h http.Header, name string, f func(token string) bool) {
	for _, v := range headerValues(h, name) {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if t = strings.TrimSpace(t); t != "" && !f(t) {
				return
			}
		}
	}
}

// headerTokens returns the comma-separated elements of every value of header name, trimmed.
func headerTokens(h http.Header, name string) []string {
	var tokens []string
	eachToken(h, http.CanonicalHeaderKey(name), func(t string) bool {
		tokens = append(tokens, t)
		return true
	})
	return tokens
}

// hasToken reports whether header name lists token, compared without regard to case.
func hasToken(h http.Header, name, token string) bool {
	found := false
	eachToken(h, http.CanonicalHeaderKey(name), func(t string) bool {
		found = strings.EqualFold(t, token)
		return !found
	})
	return found
}
