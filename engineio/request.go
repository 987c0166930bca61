package engineio

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RequestInfo is what the handshake request said, kept for the layers above (authentication,
// logging) for a session's whole life: the request itself is gone once the handshake is
// answered.
//
// It is kept compactly because every idle session holds one: the request target and the
// header fields share one string, and Header and Query build their maps from it on each call.
// A browser's header map alone is about 1.2 KiB of heap; its fields as text are about a third
// of that.
type RequestInfo struct {
	// text is the request target (path and query), then each header value as
	// "Key:value\n", the values of a key in the order they came.
	text       string
	remoteAddr string
	ctx        context.Context
	time       time.Time
	// The counts are int32 (a header is bounded by the server's MaxHeaderBytes), which
	// keeps the struct in the 96-byte size class.
	uriLen int32
	fields int32 // the number of header values in text
	keys   int32 // the number of distinct keys
	secure bool
}

// NewRequestInfo copies what a session keeps of r: its target, header, remote address and
// TLS state, the time of the call, and its context's values without its cancellation
// (context.WithoutCancel). The server calls it for each handshake; tests and alternative
// session implementations of the layers above may call it too. It keeps nothing of r
// itself.
func NewRequestInfo(r *http.Request) *RequestInfo {
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		// An absolute-form target, or a request made in-process: keep the origin form.
		uri = r.URL.RequestURI()
	}
	n, fields, keys := len(uri), int32(0), int32(0)
	for k, vs := range r.Header {
		if !validKey(k) {
			continue
		}
		keys++
		for _, v := range vs {
			n += len(k) + len(v) + 2
			fields++
		}
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(uri)
	for k, vs := range r.Header {
		if !validKey(k) {
			continue
		}
		for _, v := range vs {
			b.WriteString(k)
			b.WriteByte(':')
			// net/http refuses values with CR or LF; a request built in-process may have
			// them, and a newline would split the field in two here.
			if hasNewline(v) {
				v = strings.Map(func(r rune) rune {
					if r == '\r' || r == '\n' {
						return ' '
					}
					return r
				}, v)
			}
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	return &RequestInfo{
		text:       b.String(),
		uriLen:     int32(len(uri)),
		fields:     fields,
		keys:       keys,
		remoteAddr: r.RemoteAddr,
		time:       time.Now(),
		secure:     r.TLS != nil,
		ctx:        context.WithoutCancel(r.Context()),
	}
}

// URI returns the request's target as the client sent it: the path and the query, such as
// "/engine.io/?EIO=4&transport=websocket".
func (ri *RequestInfo) URI() string { return ri.text[:ri.uriLen] }

// Query returns the request's query parameters, parsed anew on each call (malformed pairs
// are left out, as url.URL.Query does).
func (ri *RequestInfo) Query() url.Values {
	_, q, _ := strings.Cut(ri.URI(), "?")
	v, _ := url.ParseQuery(q)
	return v
}

// Header returns the request's header fields in a new map on each call; the caller may keep
// or change it.
func (ri *RequestInfo) Header() http.Header {
	h := make(http.Header, ri.keys)
	values := make([]string, ri.fields) // one backing array for all the values, as net/http does
	rest := ri.text[ri.uriLen:]
	prev, start := "", 0
	for i := 0; rest != ""; i++ {
		line, more, _ := strings.Cut(rest, "\n")
		rest = more
		k, v, _ := strings.Cut(line, ":")
		values[i] = v
		// The values of a key are adjacent in text, so they are adjacent in values too. The
		// slice's capacity ends with it: an append by the caller cannot reach the next key's.
		if k != prev {
			prev, start = k, i
		}
		h[k] = values[start : i+1 : i+1]
	}
	return h
}

// validKey reports whether a header key can be kept as text: a request built in-process may
// have any key, and one with a colon or a newline would be read back wrong.
func validKey(k string) bool { return k != "" && strings.IndexByte(k, ':') < 0 && !hasNewline(k) }

// hasNewline reports whether s has a CR or an LF. Two IndexByte calls are faster than
// ContainsAny, which builds a set on each call: this runs for every header field of every
// handshake.
func hasNewline(s string) bool {
	return strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0
}

// RemoteAddr returns the client's network address as net/http gave it (http.Request.RemoteAddr).
func (ri *RequestInfo) RemoteAddr() string { return ri.remoteAddr }

// Time returns when the handshake request arrived.
func (ri *RequestInfo) Time() time.Time { return ri.time }

// Secure reports whether the request came over TLS.
func (ri *RequestInfo) Secure() bool { return ri.secure }

// Context returns the handshake request's context without its cancellation
// (context.WithoutCancel): the values HTTP middleware put there, such as an authenticated
// user, for the session's whole life.
func (ri *RequestInfo) Context() context.Context { return ri.ctx }
