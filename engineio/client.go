package engineio

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tether-rt/tether/websocket"
)

const (
	// clientQueueSize bounds both the packets waiting to be sent and the messages waiting to be read.
	clientQueueSize = 256
	// clientCtrlQueueSize bounds the pongs waiting to be sent; they overtake queued messages.
	clientCtrlQueueSize = 8
	// clientCloseWait bounds how long Close waits for queued packets and the close packet to go out.
	clientCloseWait = 5 * time.Second
	// clientProbeTimeout bounds the WebSocket dial and probe of an upgrade, like the server's
	// default upgrade timeout.
	clientProbeTimeout = 10 * time.Second
	// clientDefaultReadLimit is DialOptions.ReadLimit's default.
	clientDefaultReadLimit = 16 << 20
)

// CloseClientClose is the reason a Client reports once its own Close was called. The
// JavaScript client says "forced close", as the server does for Session.Close
// (CloseServerClose); the value differs here so that the two can be told apart.
const CloseClientClose CloseReason = "client close"

var (
	// ErrInvalidUTF8 is returned by Send for a text message that is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("engineio: text message is not valid UTF-8")
	// ErrMessageTooLarge is returned by Send for a message larger than the server accepts (its
	// maxPayload), which would end the session.
	ErrMessageTooLarge = errors.New("engineio: message larger than the server's maxPayload")

	errClientDone    = errors.New("engineio: client closed")
	errBadHandshake  = errors.New("engineio: bad open packet")
	errClientTooLong = errors.New("engineio: response larger than the read limit")
)

// DialOptions configures Dial. The zero value opens the session over HTTP long-polling and
// upgrades it to WebSocket when the server offers it.
type DialOptions struct {
	// Transports lists the transports the client may use; the first one opens the session.
	// nil means {"polling", "websocket"}: long-polling first, then an upgrade to WebSocket.
	// {"websocket"} connects over WebSocket only; {"polling"} never upgrades.
	Transports []string

	// Header holds extra headers sent with every HTTP request and the WebSocket handshake.
	Header http.Header

	// Query holds extra query parameters sent with every request. EIO, transport and sid are
	// set by the client.
	Query url.Values

	// HTTPClient sends the long-polling requests; nil means a client of its own, whose idle
	// connections Close releases. Its Timeout, if set, must exceed the server's ping interval,
	// since a poll waits that long when there is nothing to receive.
	HTTPClient *http.Client

	// TLSConfig is the TLS configuration of https:// requests and wss:// WebSockets alike
	// (private CAs, client certificates). nil means that of HTTPClient's *http.Transport, if
	// it has one, for both; otherwise the defaults. Given with an HTTPClient, it applies to the
	// WebSocket only: the HTTPClient's transport is the program's.
	TLSConfig *tls.Config

	// Jar holds cookies for every request and for the WebSocket handshake: what the server
	// sets (a load balancer's sticky cookie, say) goes back with each request, over either
	// transport. nil means HTTPClient's Jar, if any.
	Jar http.CookieJar

	// WebSocket configures the WebSocket transport. Its Header is sent in addition to Header;
	// a zero ReadLimit means ReadLimit below.
	WebSocket *websocket.DialOptions

	// ReadLimit is the largest long-polling response or WebSocket message accepted from the
	// server, in bytes; a larger one closes the client with reason "payload too large".
	// 0 means 16 MiB.
	ReadLimit int64
}

// CloseError is the error a closed Client returns from Read and Send: Reason says why the
// connection ended and Err, when not nil, is the error behind it.
type CloseError struct {
	Reason CloseReason
	Err    error
}

func (e *CloseError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("engineio: connection closed (%s): %v", string(e.Reason), e.Err)
	}
	return fmt.Sprintf("engineio: connection closed (%s)", string(e.Reason))
}

// Unwrap returns the error that ended the connection, if any.
func (e *CloseError) Unwrap() error { return e.Err }

// Is reports whether target is the CloseReason of e, so that errors.Is(err, ClosePingTimeout)
// works.
func (e *CloseError) Is(target error) bool {
	r, ok := target.(CloseReason)
	return ok && r == e.Reason
}

// HandshakeError is returned by Dial when the server refuses to open a session.
type HandshakeError struct {
	StatusCode int    // the HTTP status of the refusal
	Code       int    // the Engine.IO error code from the response body, or -1 if there is none
	Message    string // the message from the response body, or the body itself
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("engineio: handshake refused: %d %s (code %d)", e.StatusCode, e.Message, e.Code)
}

// newHandshakeError reads the JSON error body Engine.IO servers send with a refusal.
func newHandshakeError(status int, body []byte) *HandshakeError {
	e := &HandshakeError{StatusCode: status, Code: -1, Message: strings.TrimSpace(string(body))}
	var v struct {
		Code    *int   `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil && v.Code != nil {
		e.Code, e.Message = *v.Code, v.Message
	}
	return e
}

// clientOpen is the JSON of the server's open packet.
type clientOpen struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"` // milliseconds
	PingTimeout  int64    `json:"pingTimeout"`  // milliseconds
	MaxPayload   int      `json:"maxPayload"`
}

// Client is an Engine.IO v4 client connection, from Dial.
//
// Send and Read are safe to call from many goroutines. Messages are delivered in the order the
// server sent them, across a transport upgrade too. Incoming messages wait in a bounded queue
// until read: a client that stops reading stops answering the server's pings, and the server
// closes it after its ping timeout.
type Client struct {
	id           string
	pingInterval time.Duration
	pingTimeout  time.Duration
	maxPayload   int
	upgrades     []string

	base      *url.URL   // scheme http or https, the path, no query
	query     url.Values // EIO and the user's parameters
	header    http.Header
	httpc     *http.Client
	ownHTTP   *http.Transport // the transport of an HTTPClient of our own, nil for the user's
	wsOpts    websocket.DialOptions
	jar       http.CookieJar // nil: no cookies kept
	readLimit int64

	sendq chan packet  // messages from Send
	ctrlq chan packet  // pongs
	recvq chan Message // messages for Read

	ctx       context.Context // canceled when the client closes: aborts requests, reads, writes
	cancel    context.CancelFunc
	closing   chan struct{} // closed by Close: the writer sends what is queued, then the close packet
	flushed   chan struct{} // closed by the writer once the close packet is out
	flushOnce sync.Once
	closeOnce sync.Once
	done      chan struct{} // closed once the client is closed; err is set by then
	heartbeat *time.Timer   // fires when the server's ping is late
	pings     atomic.Int64  // pings received, for tests
	wg        sync.WaitGroup

	mu        sync.Mutex
	transport string
	ws        *websocket.Conn // the WebSocket transport once in use
	err       *CloseError
	local     bool // Close was called: the reason is CloseClientClose whatever ends the connection

	// carry is a packet taken from a queue that did not fit in the last long-polling request. It
	// belongs to whichever writer goroutine runs, and there is only one at a time.
	carry *packet
}

// Dial opens an Engine.IO session at rawURL, an http:// or https:// URL whose path defaults to
// /engine.io/, or a ws:// or wss:// URL to connect over WebSocket only. ctx bounds the
// handshake, not the life of the client. opts may be nil.
//
// The session opens over long-polling unless opts.Transports starts with "websocket"; when
// WebSocket is allowed and the server offers it, the client then upgrades in the background.
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Client, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("engineio: %w", err)
	}
	transports := opts.Transports
	if len(transports) == 0 {
		transports = []string{TransportPolling, TransportWebSocket}
	}
	for _, t := range transports {
		if t != TransportPolling && t != TransportWebSocket {
			return nil, fmt.Errorf("engineio: unknown transport %q", t)
		}
	}
	switch u.Scheme {
	case "http", "https":
	case "ws", "wss":
		u.Scheme = "http" + strings.TrimPrefix(u.Scheme, "ws")
		transports = []string{TransportWebSocket}
	default:
		return nil, fmt.Errorf("engineio: unsupported URL scheme %q", u.Scheme)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/engine.io/"
	}

	c := newClient(u, opts)
	var initial []packet
	if transports[0] == TransportWebSocket {
		err = c.openWebSocket(ctx)
	} else {
		initial, err = c.openPolling(ctx)
	}
	if err != nil {
		c.cancel()
		if c.ownHTTP != nil {
			c.ownHTTP.CloseIdleConnections()
		}
		return nil, err
	}
	c.heartbeat = time.AfterFunc(c.pingInterval+c.pingTimeout, c.pingTimedOut)
	if c.ws != nil {
		c.startWebSocket(c.ws)
		return c, nil
	}
	upgrade := slices.Contains(transports, TransportWebSocket) && slices.Contains(c.upgrades, TransportWebSocket)
	poll := c.startPolling(initial, upgrade)
	if upgrade {
		c.wg.Add(1)
		go c.upgrade(poll)
	}
	return c, nil
}

func newClient(u *url.URL, opts *DialOptions) *Client {
	query := url.Values{}
	for k, v := range u.Query() {
		query[k] = v
	}
	for k, v := range opts.Query {
		query[k] = v
	}
	query.Set("EIO", "4")
	base := *u
	base.RawQuery, base.Fragment = "", ""

	c := &Client{
		base:      &base,
		query:     query,
		header:    opts.Header,
		httpc:     opts.HTTPClient,
		readLimit: opts.ReadLimit,
		sendq:     make(chan packet, clientQueueSize),
		ctrlq:     make(chan packet, clientCtrlQueueSize),
		recvq:     make(chan Message, clientQueueSize),
		closing:   make(chan struct{}),
		flushed:   make(chan struct{}),
		done:      make(chan struct{}),
	}
	if c.readLimit == 0 {
		c.readLimit = clientDefaultReadLimit
	}
	tlsConfig, jar := opts.TLSConfig, opts.Jar
	if c.httpc == nil {
		c.ownHTTP = http.DefaultTransport.(*http.Transport).Clone()
		c.ownHTTP.TLSClientConfig = tlsConfig
		c.httpc = &http.Client{Transport: c.ownHTTP, Jar: jar}
	} else {
		if t, ok := c.httpc.Transport.(*http.Transport); ok && tlsConfig == nil {
			tlsConfig = t.TLSClientConfig
		}
		if jar == nil {
			jar = c.httpc.Jar
		} else if c.httpc.Jar == nil {
			hc := *c.httpc // the program's client, with the jar for the polls
			hc.Jar = jar
			c.httpc = &hc
		}
	}
	c.jar = jar
	if opts.WebSocket != nil {
		c.wsOpts = *opts.WebSocket
	}
	if c.wsOpts.TLSConfig == nil {
		c.wsOpts.TLSConfig = tlsConfig
	}
	h := c.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	for k, v := range c.wsOpts.Header {
		h[k] = append(h[k], v...)
	}
	c.wsOpts.Header = h
	if c.wsOpts.ReadLimit == 0 {
		c.wsOpts.ReadLimit = c.readLimit
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// applyOpen takes the session's settings from the open packet's JSON.
func (c *Client) applyOpen(data []byte) error {
	var o clientOpen
	if err := json.Unmarshal(data, &o); err != nil {
		return fmt.Errorf("%w: %v", errBadHandshake, err)
	}
	if o.SID == "" || o.PingInterval <= 0 || o.PingTimeout <= 0 {
		return fmt.Errorf("%w: %s", errBadHandshake, data)
	}
	c.id, c.upgrades = o.SID, o.Upgrades
	c.pingInterval = time.Duration(o.PingInterval) * time.Millisecond
	c.pingTimeout = time.Duration(o.PingTimeout) * time.Millisecond
	c.maxPayload = o.MaxPayload
	if c.maxPayload <= 0 {
		c.maxPayload = 1_000_000 // the protocol's default
	}
	return nil
}

// url returns the endpoint URL for a transport, with the session ID once there is one.
func (c *Client) url(transport string) string {
	q := url.Values{}
	for k, v := range c.query {
		q[k] = v
	}
	q.Set("transport", transport)
	if c.id != "" {
		q.Set("sid", c.id)
	}
	u := *c.base
	if transport == TransportWebSocket {
		u.Scheme = "ws" + strings.TrimPrefix(u.Scheme, "http")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// ID returns the session ID the server assigned.
func (c *Client) ID() string { return c.id }

// Transport returns the transport in use: "polling" or "websocket".
func (c *Client) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// Send queues a message for the server: text (valid UTF-8) or binary. It waits while the send
// queue is full, until ctx ends or the client closes. data is copied. A nil error means the
// message was queued, not that the server received it; messages queued before Close are sent
// before the close packet.
//
// The server's maxPayload bounds a message: on long-polling, binary messages travel in base64
// and so can be only three quarters of it.
func (c *Client) Send(ctx context.Context, data []byte, binary bool) error {
	if !binary && !utf8.Valid(data) {
		return ErrInvalidUTF8
	}
	p := packet{typ: packetMessage, data: data, binary: binary}
	// The transport only ever changes from polling to WebSocket, where packets are not larger.
	size := clientPollSize(p)
	if c.Transport() == TransportWebSocket && binary {
		size = len(data)
	}
	if size > c.maxPayload {
		return ErrMessageTooLarge
	}
	select {
	case <-c.closing:
		return c.closeErr()
	case <-c.done:
		return c.closeErr()
	default:
	}
	p.data = bytes.Clone(data)
	select {
	case c.sendq <- p:
		return nil
	case <-c.closing:
		return c.closeErr()
	case <-c.done:
		return c.closeErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Read returns the next message from the server. Once the connection has closed and the
// messages received before have been read, it returns a *CloseError saying why.
func (c *Client) Read(ctx context.Context) (Message, error) {
	select {
	case m := <-c.recvq:
		return m, nil
	default:
	}
	select {
	case m := <-c.recvq:
		return m, nil
	case <-c.done:
		select {
		case m := <-c.recvq:
			return m, nil
		default:
			return Message{}, c.closeErr()
		}
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// Close sends the messages already queued and the close packet, waiting a bounded time for
// them to go out, then closes the connection and waits for the client's goroutines to end.
// Afterwards Read and Send return a *CloseError with reason CloseClientClose. Close is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.local = true
		c.mu.Unlock()
		close(c.closing)
		t := time.NewTimer(clientCloseWait)
		select {
		case <-c.flushed:
		case <-c.done:
		case <-t.C:
		}
		t.Stop()
		c.fail(CloseClientClose, nil)
	})
	c.wg.Wait()
	if c.ownHTTP != nil {
		c.ownHTTP.CloseIdleConnections()
	}
	return nil
}

// closeErr returns the error for operations on a closed or closing client.
func (c *Client) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return &CloseError{Reason: CloseClientClose}
}

// fail closes the client for reason, once: it cancels every request, read and write in
// flight, which ends the goroutines.
func (c *Client) fail(reason CloseReason, err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	if c.local {
		reason, err = CloseClientClose, nil
	}
	c.err = &CloseError{Reason: reason, Err: err}
	ws := c.ws
	if c.heartbeat != nil {
		c.heartbeat.Stop()
	}
	c.mu.Unlock()
	c.cancel()
	close(c.done)
	if ws != nil {
		_ = ws.CloseNow()
	}
}

// failTransport closes the client after a transport failed with err, unless the client is
// already closing, in which case err is only a consequence.
func (c *Client) failTransport(reason CloseReason, err error) {
	if c.ctx.Err() != nil {
		return
	}
	c.fail(reason, err)
}

func (c *Client) pingTimedOut() { c.fail(ClosePingTimeout, nil) }

// markFlushed tells Close that the close packet is out.
func (c *Client) markFlushed() { c.flushOnce.Do(func() { close(c.flushed) }) }

// isClosing reports whether Close was called.
func (c *Client) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// handle acts on one packet from the server, in arrival order. A non-nil error means the
// reader must stop.
func (c *Client) handle(p packet) error {
	switch p.typ {
	case packetMessage:
		select {
		case c.recvq <- Message{Data: p.data, Binary: p.binary}:
		case <-c.done:
			return errClientDone
		}
	case packetPing:
		c.pings.Add(1)
		c.mu.Lock()
		if c.err == nil { // a timer reset after fail would run pingTimedOut for nothing
			c.heartbeat.Reset(c.pingInterval + c.pingTimeout)
		}
		c.mu.Unlock()
		select {
		case c.ctrlq <- packet{typ: packetPong, data: p.data}:
		case <-c.done:
			return errClientDone
		}
	case packetClose:
		c.fail(CloseTransportClose, nil)
		return errClientDone
	}
	// Noop releases a poll during an upgrade; open, pong and upgrade mean nothing here.
	return nil
}
