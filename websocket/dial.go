package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DialOptions configures Dial. The zero value dials with no subprotocol, no compression and a
// 1 MiB read limit.
type DialOptions struct {
	// Header holds extra request headers, such as Origin, Authorization or Cookie. A Host
	// header replaces the URL's host in the request.
	Header http.Header

	// Subprotocols lists the subprotocols to offer, in order of preference.
	Subprotocols []string

	// Compression offers permessage-deflate.
	Compression CompressionMode
	// CompressionThreshold is the size under which messages are sent uncompressed; 0 means 128.
	CompressionThreshold int

	// ReadLimit is the largest message accepted, in bytes; 0 means 1 MiB and -1 no limit.
	ReadLimit int64

	// KeepAlive, when positive, pings a server from which nothing arrived for that long and
	// closes the connection if still nothing arrives within the same time after the ping.
	KeepAlive time.Duration

	// WriteTimeout bounds each write to the network: a frame the server has not taken within it
	// (its receive window and our send buffer are full: it is not reading) fails the write and
	// closes the connection, with an error matching ErrWriteTimeout. 0 means
	// DefaultWriteTimeout (10 s). A context passed to a write can only shorten it.
	WriteTimeout time.Duration

	// OnPing and OnPong, when set, are called with the payload of each ping and pong received,
	// from the reading goroutine.
	OnPing func(payload []byte)
	OnPong func(payload []byte)

	// TLSConfig is used for wss:// URLs; nil means the default configuration.
	TLSConfig *tls.Config

	// NetDialContext dials the TCP connection; nil means a net.Dialer.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// HandshakeError is returned by Dial when the server does not complete the WebSocket
// handshake: it answered with another status than 101, or its 101 answer was wrong.
type HandshakeError struct {
	StatusCode int
	Status     string
	Header     http.Header
	Body       []byte // the start of the response body, at most 1 KiB
	Reason     string // what was wrong, for a 101 answer
}

func (e *HandshakeError) Error() string {
	if e.Reason != "" {
		return "websocket: bad handshake response: " + e.Reason
	}
	msg := fmt.Sprintf("websocket: handshake failed: server answered %s", e.Status)
	if body := strings.TrimSpace(string(e.Body)); body != "" {
		msg += ": " + body
	}
	return msg
}

// maxErrorBody caps the body kept from a refused handshake.
const maxErrorBody = 1 << 10

// Dial opens a WebSocket connection to a ws:// or wss:// URL. ctx bounds the connection and the
// handshake, not the connection's later life. On success it also returns the server's
// handshake response; when the server refuses, the error is a *HandshakeError and the response
// is returned too.
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: invalid URL %q: %w", rawURL, err)
	}
	var port string
	switch u.Scheme {
	case "ws":
		port = "80"
	case "wss":
		port = "443"
	default:
		return nil, nil, fmt.Errorf("websocket: invalid URL %q: the scheme must be ws or wss", rawURL)
	}
	if u.Hostname() == "" {
		return nil, nil, fmt.Errorf("websocket: invalid URL %q: no host", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), port)
	}

	dial := opts.NetDialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: dial %s: %w", addr, err)
	}
	stop := watchCtx(ctx, nc, bothSides)
	c, resp, err := handshake(ctx, nc, u, opts)
	if stop != nil && stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("websocket: handshake with %s: %w", addr, ctx.Err())
		}
		return nil, resp, err
	}
	return c, resp, nil
}

// handshake runs the client's opening handshake on nc (RFC 6455 section 4.1).
func handshake(ctx context.Context, nc net.Conn, u *url.URL, opts *DialOptions) (*Conn, *http.Response, error) {
	if u.Scheme == "wss" {
		cfg := opts.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"} // the upgrade is an HTTP/1.1 mechanism
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, fmt.Errorf("websocket: TLS handshake: %w", err)
		}
		nc = tc
	}

	var keyBytes [16]byte
	_, _ = rand.Read(keyBytes[:])
	key := base64.StdEncoding.EncodeToString(keyBytes[:])

	var req bytes.Buffer
	host := u.Host
	if h := opts.Header.Get("Host"); h != "" {
		host = h
	}
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), host)
	req.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n")
	fmt.Fprintf(&req, "Sec-WebSocket-Key: %s\r\n", key)
	if len(opts.Subprotocols) > 0 {
		fmt.Fprintf(&req, "Sec-WebSocket-Protocol: %s\r\n", strings.Join(opts.Subprotocols, ", "))
	}
	if opts.Compression != CompressionDisabled {
		fmt.Fprintf(&req, "Sec-WebSocket-Extensions: %s\r\n", deflateOffer(opts.Compression))
	}
	extra := opts.Header.Clone()
	for _, k := range []string{"Host", "Upgrade", "Connection", "Sec-Websocket-Version", "Sec-Websocket-Key",
		"Sec-Websocket-Protocol", "Sec-Websocket-Extensions"} {
		extra.Del(k)
	}
	if err := extra.Write(&req); err != nil {
		return nil, nil, fmt.Errorf("websocket: request header: %w", err)
	}
	req.WriteString("\r\n")
	if _, err := nc.Write(req.Bytes()); err != nil {
		return nil, nil, fmt.Errorf("websocket: sending handshake: %w", err)
	}

	br := bufio.NewReaderSize(nc, 1024)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet, URL: u})
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: reading handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		return nil, resp, &HandshakeError{StatusCode: resp.StatusCode, Status: resp.Status, Header: resp.Header, Body: body}
	}
	bad := func(format string, args ...any) (*Conn, *http.Response, error) {
		return nil, resp, &HandshakeError{StatusCode: resp.StatusCode, Status: resp.Status, Header: resp.Header,
			Reason: fmt.Sprintf(format, args...)}
	}
	if !hasToken(resp.Header, "Upgrade", "websocket") || !hasToken(resp.Header, "Connection", "upgrade") {
		return bad("missing Upgrade: websocket or Connection: Upgrade")
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != acceptKey(key) {
		return bad("Sec-WebSocket-Accept %q does not match the key", got)
	}
	cfg := connConfig{
		client:        true,
		compressAbove: opts.CompressionThreshold,
		readLimit:     opts.ReadLimit,
		keepAlive:     opts.KeepAlive,
		writeTimeout:  opts.WriteTimeout,
		onPing:        opts.OnPing,
		onPong:        opts.OnPong,
	}
	if sp := resp.Header.Get("Sec-WebSocket-Protocol"); sp != "" {
		offered := false
		for _, p := range opts.Subprotocols {
			offered = offered || p == sp
		}
		if !offered {
			return bad("server chose subprotocol %q, which was not offered", sp)
		}
		cfg.subprotocol = sp
	}
	exts, err := parseExtensions(resp.Header)
	if err != nil {
		return bad("malformed Sec-WebSocket-Extensions: %v", err)
	}
	if cfg.neg, err = checkDeflateResponse(exts, opts.Compression); err != nil {
		return bad("%v", err)
	}
	var prefix []byte // frames the server sent right behind its response
	if n := br.Buffered(); n > 0 {
		p, _ := br.Peek(n)
		prefix = bytes.Clone(p)
	}
	return newConn(nc, prefix, cfg), resp, nil
}
