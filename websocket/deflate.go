package websocket

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// CompressionMode selects permessage-deflate (RFC 7692).
//
// Tether always compresses its own messages without context takeover: a compressor that keeps
// its window between messages costs hundreds of KiB per connection, while one taken from a pool
// per message costs nothing when idle. The mode therefore decides what the peer may do.
type CompressionMode int

const (
	// CompressionDisabled neither offers nor accepts permessage-deflate. It is the default.
	CompressionDisabled CompressionMode = iota
	// CompressionNoContextTakeover negotiates permessage-deflate with context takeover off in both
	// directions, so neither side keeps compression state between messages.
	CompressionNoContextTakeover
	// CompressionContextTakeover lets the peer compress each message against the ones before it,
	// which compresses small similar messages better and costs this side a 32 KiB window per
	// connection while such messages arrive.
	CompressionContextTakeover
)

const (
	deflateName          = "permessage-deflate"
	defaultCompressAbove = 128                // shorter messages gain nothing from compression
	deflateWindow        = 1 << 15            // the largest LZ77 window, used for decompression
	deflateTail          = "\x00\x00\xff\xff" // the end of a sync flush, removed from each message
)

// deflateParams is the permessage-deflate configuration agreed for one connection.
type deflateParams struct {
	serverNoContextTakeover bool
	clientNoContextTakeover bool
	serverMaxWindowBits     int // 0: not given
	clientMaxWindowBits     int // 0: not given; -1: given without a value (client offers only)
}

// extension is one element of a Sec-WebSocket-Extensions header.
type extension struct {
	name   string
	params []extensionParam
}

type extensionParam struct {
	name, value string
	hasValue    bool
}

// parseExtensions parses every Sec-WebSocket-Extensions header line into extensions, in order.
func parseExtensions(h http.Header) ([]extension, error) {
	var exts []extension
	for _, line := range h.Values("Sec-WebSocket-Extensions") {
		for _, item := range strings.Split(line, ",") {
			parts := strings.Split(item, ";")
			name := strings.TrimSpace(parts[0])
			if name == "" {
				if len(parts) == 1 && strings.TrimSpace(item) == "" {
					continue // tolerate empty list elements, as RFC 7230's #rule does
				}
				return nil, errors.New("extension without a name")
			}
			ext := extension{name: strings.ToLower(name)}
			for _, p := range parts[1:] {
				k, v, has := strings.Cut(p, "=")
				k = strings.ToLower(strings.TrimSpace(k))
				if k == "" {
					return nil, fmt.Errorf("extension %s: empty parameter", name)
				}
				v = strings.TrimSpace(v)
				if has && len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				ext.params = append(ext.params, extensionParam{name: k, value: v, hasValue: has})
			}
			exts = append(exts, ext)
		}
	}
	return exts, nil
}

// parseWindowBits parses a *_max_window_bits value, which RFC 7692 limits to 8..15.
func parseWindowBits(p extensionParam) (int, bool) {
	if !p.hasValue {
		return 0, false
	}
	n, err := strconv.Atoi(p.value)
	if err != nil || n < 8 || n > 15 || strconv.Itoa(n) != p.value {
		return 0, false
	}
	return n, true
}

// parseDeflateParams validates the parameters of one permessage-deflate element. fromClient
// selects the rules for an offer (client_max_window_bits may come without a value) or for a
// response (every window size has a value).
func parseDeflateParams(params []extensionParam, fromClient bool) (deflateParams, error) {
	var d deflateParams
	seen := map[string]bool{}
	for _, p := range params {
		if seen[p.name] {
			return d, fmt.Errorf("duplicate parameter %s", p.name)
		}
		seen[p.name] = true
		switch p.name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if p.hasValue {
				return d, fmt.Errorf("parameter %s takes no value", p.name)
			}
			if p.name == "server_no_context_takeover" {
				d.serverNoContextTakeover = true
			} else {
				d.clientNoContextTakeover = true
			}
		case "server_max_window_bits":
			n, ok := parseWindowBits(p)
			if !ok {
				return d, fmt.Errorf("invalid server_max_window_bits %q", p.value)
			}
			d.serverMaxWindowBits = n
		case "client_max_window_bits":
			if !p.hasValue && fromClient {
				d.clientMaxWindowBits = -1
				continue
			}
			n, ok := parseWindowBits(p)
			if !ok {
				return d, fmt.Errorf("invalid client_max_window_bits %q", p.value)
			}
			d.clientMaxWindowBits = n
		default:
			return d, fmt.Errorf("unknown parameter %s", p.name)
		}
	}
	return d, nil
}

// acceptDeflate picks the first permessage-deflate offer the server can honour and returns the
// response header value and the connection's settings. ok is false when no offer is acceptable.
func acceptDeflate(exts []extension, mode CompressionMode) (response string, neg negotiated, ok bool) {
	for _, ext := range exts {
		if ext.name != deflateName {
			continue
		}
		offer, err := parseDeflateParams(ext.params, true)
		if err != nil {
			continue // RFC 7692 section 5: decline an offer with invalid parameters, try the next
		}
		var b strings.Builder
		b.WriteString(deflateName)
		// We never keep compression context, and saying so lets the client drop its window.
		b.WriteString("; server_no_context_takeover")
		if offer.serverMaxWindowBits != 0 {
			fmt.Fprintf(&b, "; server_max_window_bits=%d", offer.serverMaxWindowBits)
		}
		peerNoContext := offer.clientNoContextTakeover || mode == CompressionNoContextTakeover
		if peerNoContext {
			b.WriteString("; client_no_context_takeover")
		}
		neg = negotiated{
			deflate:        true,
			peerNoContext:  peerNoContext,
			ownSmallWindow: offer.serverMaxWindowBits != 0 && offer.serverMaxWindowBits < 15,
		}
		return b.String(), neg, true
	}
	return "", negotiated{}, false
}

// deflateOffer is the Sec-WebSocket-Extensions value a client sends for mode.
func deflateOffer(mode CompressionMode) string {
	// client_no_context_takeover: we never keep compression context, so say so.
	if mode == CompressionNoContextTakeover {
		return deflateName + "; client_no_context_takeover; server_no_context_takeover; client_max_window_bits"
	}
	return deflateName + "; client_no_context_takeover; client_max_window_bits"
}

// checkDeflateResponse validates the server's answer to our offer.
func checkDeflateResponse(exts []extension, mode CompressionMode) (negotiated, error) {
	var neg negotiated
	for i, ext := range exts {
		if ext.name != deflateName || mode == CompressionDisabled {
			return neg, fmt.Errorf("server accepted extension %q that was not offered", ext.name)
		}
		if i > 0 {
			return neg, errors.New("server accepted permessage-deflate twice")
		}
		resp, err := parseDeflateParams(ext.params, false)
		if err != nil {
			return neg, fmt.Errorf("permessage-deflate: %w", err)
		}
		// A server may keep its context even when asked not to; that only costs us a window.
		neg = negotiated{
			deflate:        true,
			peerNoContext:  resp.serverNoContextTakeover,
			ownSmallWindow: resp.clientMaxWindowBits != 0 && resp.clientMaxWindowBits < 15,
		}
	}
	return neg, nil
}

// negotiated is what the handshake settled about compression.
type negotiated struct {
	deflate        bool
	peerNoContext  bool // the peer resets its compressor per message: no window to keep
	ownSmallWindow bool // the peer's window is under 32 KiB: compress without back-references
}

// compressor deflates one message at a time into a byte slice. Pooled.
type compressor struct {
	fw  *flate.Writer
	out sliceWriter
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// compressorPools holds compressors by kind: [0] LZ77 at BestSpeed, [1] Huffman only, which has no
// back-references at all and so suits any window size the peer asked for.
var compressorPools = [2]sync.Pool{
	{New: func() any { return newCompressor(flate.BestSpeed) }},
	{New: func() any { return newCompressor(flate.HuffmanOnly) }},
}

func newCompressor(level int) *compressor {
	c := &compressor{}
	c.fw, _ = flate.NewWriter(&c.out, level) // the level is valid, so there is no error
	return c
}

func getCompressor(smallWindow bool) (*compressor, int) {
	i := 0
	if smallWindow {
		i = 1
	}
	return compressorPools[i].Get().(*compressor), i
}

// appendDeflate appends the compressed form of p to dst without the sync flush tail, as one
// message of RFC 7692 section 7.2.1.
func appendDeflate(dst, p []byte, smallWindow bool) []byte {
	c, kind := getCompressor(smallWindow)
	c.out.b = dst
	c.fw.Reset(&c.out)
	_, _ = c.fw.Write(p) // writes to a slice cannot fail
	_ = c.fw.Flush()
	out := c.out.b
	c.out.b = nil
	compressorPools[kind].Put(c)
	return out[:len(out)-len(deflateTail)]
}

// decompressorPool holds flate readers; each is Reset onto a message's payload.
var decompressorPool = sync.Pool{New: func() any { return flate.NewReader(strings.NewReader("")) }}

func getDecompressor(src flate.Reader, dict []byte) io.ReadCloser {
	d := decompressorPool.Get().(io.ReadCloser)
	_ = d.(flate.Resetter).Reset(src, dict) // Reset of a flate reader never fails
	return d
}

func putDecompressor(d io.ReadCloser) { decompressorPool.Put(d) }

// appendWindow keeps the last 32 KiB of decompressed output, the dictionary for the next message
// when the peer uses context takeover.
func appendWindow(window, p []byte) []byte {
	if len(p) >= deflateWindow {
		return append(window[:0], p[len(p)-deflateWindow:]...)
	}
	if over := len(window) + len(p) - deflateWindow; over > 0 {
		window = window[:copy(window, window[over:])]
	}
	return append(window, p...)
}
