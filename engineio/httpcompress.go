package engineio

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// HTTPCompressionOptions configure the compression of long-polling responses, as Node's
// engine.io httpCompression option: a response of at least Threshold bytes is sent with gzip
// or deflate when the request's Accept-Encoding takes one. Request bodies are never
// compressed by clients, and are read as they come.
type HTTPCompressionOptions struct {
	// Disable sends every response as it is.
	Disable bool
	// Threshold is the size of the smallest response compressed, in bytes; default 1024, as
	// Node.
	Threshold int
	// Level is a compress/flate level; 0 means flate.DefaultCompression (6, as Node's zlib).
	Level int
}

const defaultCompressionThreshold = 1024

// Content codings of HTTP; "deflate" is the zlib format (RFC 9110, 8.4.1.2).
const (
	codingGzip    = "gzip"
	codingDeflate = "deflate"
)

// httpCompressor compresses poll answers, reusing its writers and buffers.
type httpCompressor struct {
	threshold int
	level     int
	gzips     sync.Pool // *gzip.Writer
	zlibs     sync.Pool // *zlib.Writer
	bufs      sync.Pool // *bytes.Buffer
}

// newHTTPCompressor returns nil when o disables compression.
func newHTTPCompressor(o *HTTPCompressionOptions) *httpCompressor {
	c := &httpCompressor{threshold: defaultCompressionThreshold, level: flate.DefaultCompression}
	if o != nil {
		if o.Disable {
			return nil
		}
		if o.Threshold > 0 {
			c.threshold = o.Threshold
		}
		if o.Level != 0 {
			c.level = o.Level
		}
	}
	return c
}

// compressed returns body compressed for the request, with the coding to announce and a
// function that gives the returned slice's memory back once the answer is written; or body
// itself, "" and nil when it stays as it is (too small, not wanted, not understood).
func (c *httpCompressor) compressed(r *http.Request, body []byte) ([]byte, string, func()) {
	if c == nil || len(body) < c.threshold {
		return body, "", nil
	}
	coding := pickCoding(r.Header.Values("Accept-Encoding"))
	if coding == "" {
		return body, "", nil
	}
	buf, _ := c.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	var zw interface {
		io.Writer
		Close() error
	}
	var done func()
	switch coding {
	case codingGzip:
		w, _ := c.gzips.Get().(*gzip.Writer)
		if w == nil {
			var err error
			if w, err = gzip.NewWriterLevel(buf, c.level); err != nil {
				return body, "", nil // an invalid level: say nothing, send as is
			}
		} else {
			w.Reset(buf)
		}
		zw, done = w, func() { c.gzips.Put(w) }
	default:
		w, _ := c.zlibs.Get().(*zlib.Writer)
		if w == nil {
			var err error
			if w, err = zlib.NewWriterLevel(buf, c.level); err != nil {
				return body, "", nil
			}
		} else {
			w.Reset(buf)
		}
		zw, done = w, func() { c.zlibs.Put(w) }
	}
	// Writes to a bytes.Buffer do not fail.
	_, _ = zw.Write(body)
	_ = zw.Close()
	done()
	return buf.Bytes(), coding, func() { c.bufs.Put(buf) }
}

// pickCoding chooses gzip or deflate from Accept-Encoding header values: the one with the
// highest quality above zero, gzip on a tie (the order of Node's choice), "" for neither.
func pickCoding(values []string) string {
	// The quality each coding was given by name (-1: not named), and by "*".
	gzipQ, deflateQ, starQ := -1.0, -1.0, -1.0
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			quality := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil || f < 0 || f > 1 {
						f = 0
					}
					quality = f
				}
			}
			switch name = strings.TrimSpace(name); {
			case strings.EqualFold(name, codingGzip), strings.EqualFold(name, "x-gzip"):
				gzipQ = max(gzipQ, quality)
			case strings.EqualFold(name, codingDeflate):
				deflateQ = max(deflateQ, quality)
			case name == "*":
				starQ = max(starQ, quality)
			}
		}
	}
	if gzipQ < 0 {
		gzipQ = starQ
	}
	if deflateQ < 0 {
		deflateQ = starQ
	}
	switch {
	case gzipQ > 0 && gzipQ >= deflateQ:
		return codingGzip
	case deflateQ > 0:
		return codingDeflate
	}
	return ""
}
