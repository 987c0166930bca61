package socketio

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/logattr"
)

// Reasons a ClientSocket disconnects that only a client sees; the others (transport close,
// transport error, ping timeout, parse error) are those of the connection below. The values are
// the JavaScript client's.
const (
	ReasonIOServerDisconnect DisconnectReason = "io server disconnect" // the server disconnected the socket
	ReasonIOClientDisconnect DisconnectReason = "io client disconnect" // ClientSocket.Disconnect or Client.Close
)

var (
	// ErrClientClosed is returned by a Client, and its sockets, once it is closed for good: by
	// Close, or after its connection was lost and reconnection is off or gave up.
	ErrClientClosed = errors.New("socketio: client closed")
	// ErrSendBufferFull is returned by Emit while disconnected when ClientOptions.SendBufferSize
	// packets already wait for the connection to come back.
	ErrSendBufferFull = errors.New("socketio: send buffer full")
)

// ClientOptions configures a Client. The zero value connects to the main namespace "/" at
// path /socket.io/ over long-polling upgraded to WebSocket, and reconnects after losing the
// connection as the JavaScript client does: back-off from 1 s to 5 s with 50% jitter, forever.
type ClientOptions struct {
	// Namespace is the namespace the Client's own socket joins. Empty means the URL's path when
	// it has one, as in the JavaScript client (http://host/chat joins "/chat"), else "/".
	Namespace string
	// Auth is sent in the CONNECT packet of the Client's own socket, encoded with encoding/json;
	// it must encode to a JSON object. The server reads it as the handshake's auth.
	Auth any
	// Path is the Engine.IO endpoint; default "/socket.io/".
	Path string
	// Transports lists the transports allowed, as engineio.DialOptions.Transports: nil means
	// long-polling upgraded to WebSocket. A ws:// or wss:// URL means WebSocket only.
	Transports []string
	// Header holds extra HTTP headers for every request and the WebSocket handshake.
	Header http.Header
	// Query holds extra query parameters for every request.
	Query url.Values
	// HTTPClient sends the long-polling requests; nil means one of the client's own.
	HTTPClient *http.Client
	// TLSConfig and Jar apply to both transports: the TLS configuration of https:// and wss://
	// connections, and the cookies sent with every request and WebSocket handshake (those a
	// load balancer sets to keep the client on one node included). See
	// engineio.DialOptions.TLSConfig and Jar, and HTTPClient.
	TLSConfig *tls.Config
	Jar       http.CookieJar

	// DisableReconnection keeps a lost connection lost: the sockets disconnect and the Client
	// closes. By default the Client reconnects and its sockets join their namespaces again.
	DisableReconnection bool
	// ReconnectionDelay is the first wait before reconnecting, doubled at each failed attempt
	// up to ReconnectionDelayMax; defaults 1 s and 5 s.
	ReconnectionDelay    time.Duration
	ReconnectionDelayMax time.Duration
	// RandomizationFactor spreads each wait by up to that fraction, up or down, so that many
	// clients cut off together do not come back together; default 0.5, negative for none.
	RandomizationFactor float64
	// ReconnectionAttempts bounds the attempts after a loss before giving up; 0 means no bound.
	ReconnectionAttempts int
	// DialTimeout bounds each reconnection attempt's handshake; default 20 s.
	DialTimeout time.Duration

	// AckTimeout bounds EmitWithAck when its context has no deadline; 0 means no bound. With
	// Retries, it bounds each send.
	AckTimeout time.Duration
	// Retries, when positive, makes delivery at least once, as socket.io-client 4.6+'s retries
	// option: every emit but a volatile one asks for an acknowledgement and goes through a
	// queue that sends one event at a time, in order; an event the server does not acknowledge
	// within AckTimeout, or whose connection is lost, is sent again (each time with a new
	// acknowledgement id), up to Retries more times, then given up: EmitWithAck returns the
	// last error, and Emit's is logged. The server must acknowledge every event (an Ack
	// parameter called, or a handler returning values), and may see one more than once. At
	// most SendBufferSize events wait in the queue.
	Retries int
	// SendBufferSize bounds the packets an emit queues while the socket is disconnected, sent
	// once it is connected again; default 1024. Volatile emits are dropped instead.
	SendBufferSize int
	// MaxAttachments bounds the binary attachments of one incoming packet; default 64.
	MaxAttachments int
	// MaxDecodedValues bounds what the client decodes of one incoming event on its own, as
	// ServerOptions.MaxDecodedValues does for a server: default 10,000 JSON values, -1 for no
	// bound.
	MaxDecodedValues int
	// HandlerQueueSize bounds the events waiting for one socket's handlers; when it is full the
	// client stops reading until they catch up. Default 256.
	HandlerQueueSize int
	// Parser is the wire format of the packets, which must be the server's; nil is the
	// protocol's JSON parser. See ServerOptions.Parser.
	Parser Parser
	// Logger receives what the client has to say; nil keeps it quiet, but for the problems of
	// single events, which go to slog.Default() as a server's do. The lines the server can
	// cause (an event not handled, a handler's panic, …) are rate-limited as a server's are
	// (see ServerOptions.Logger).
	Logger *slog.Logger
}

const (
	defaultReconnectionDelay    = time.Second
	defaultReconnectionDelayMax = 5 * time.Second
	defaultRandomization        = 0.5
	defaultDialTimeout          = 20 * time.Second
	defaultSendBufferSize       = 1024
	defaultClientAttachments    = 64
	// clientWorkerIdle is how long a handler goroutine waits for more work before it exits;
	// shorter than the server's, since a client has few sockets.
	clientWorkerIdle = time.Second
)

func (o *ClientOptions) withDefaults() ClientOptions {
	opts := ClientOptions{}
	if o != nil {
		opts = *o
	}
	if opts.Path == "" {
		opts.Path = defaultPath
	}
	if opts.ReconnectionDelay <= 0 {
		opts.ReconnectionDelay = defaultReconnectionDelay
	}
	if opts.ReconnectionDelayMax <= 0 {
		opts.ReconnectionDelayMax = defaultReconnectionDelayMax
	}
	opts.ReconnectionDelayMax = max(opts.ReconnectionDelayMax, opts.ReconnectionDelay)
	switch {
	case opts.RandomizationFactor == 0:
		opts.RandomizationFactor = defaultRandomization
	case opts.RandomizationFactor < 0:
		opts.RandomizationFactor = 0
	case opts.RandomizationFactor > 1:
		opts.RandomizationFactor = 1
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = defaultDialTimeout
	}
	if opts.SendBufferSize <= 0 {
		opts.SendBufferSize = defaultSendBufferSize
	}
	if opts.MaxAttachments <= 0 {
		opts.MaxAttachments = defaultClientAttachments
	}
	if opts.HandlerQueueSize <= 0 {
		opts.HandlerQueueSize = defaultHandlerQueueSize
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger // see peerLog.event
	}
	return opts
}

// Client is a connection to a Socket.IO server: one Engine.IO connection, re-established when
// lost, over which any number of namespaces are joined, one ClientSocket each (multiplexing).
// The Client is itself the socket of its main namespace, ClientOptions.Namespace: its
// ClientSocket methods (On, Emit, EmitWithAck …) act on that namespace. For a separate
// connection to the same server, make another Client.
//
// Every method is safe for concurrent use.
type Client struct {
	*ClientSocket // the socket of ClientOptions.Namespace

	opts      ClientOptions
	maxValues int         // the MaxDecodedValues option as a bound: 0 for none
	wire      *wireFormat // the Parser option, nil for JSON
	peers     peerLog     // the Logger, rate-limited, for what the server causes
	rawURL    string
	eioOpts   engineio.DialOptions
	workers   *workerPool

	mu        sync.Mutex
	sockets   map[string]*ClientSocket // by namespace
	conn      *clientConn              // the Engine.IO connection in use, nil while there is none
	dialing   chan struct{}            // closed when the dial in progress ends; nil when none
	dialErr   error                    // the last dial's error, for those who waited on it
	reconnect bool                     // the reconnection loop is running
	hooks     clientHooks
	closed    bool
	err       error         // why the client closed
	done      chan struct{} // closed when the client closes for good
	ctx       context.Context
	cancel    context.CancelFunc // aborts dials and waits when the client closes
	wg        sync.WaitGroup     // the readers and the reconnection loop
}

// Dial connects to the Socket.IO server at rawURL and joins the namespace of opts (see
// ClientOptions.Namespace), returning once the server has accepted it. ctx bounds the
// connection and the join, not the life of the Client. opts may be nil.
//
// rawURL is http:// or https://, or ws:// or wss:// for WebSocket only. A refused join is a
// *ConnectError carrying the server's message and data. Dial does not retry: reconnection
// starts once a connection has been made.
//
// Events the server emits as soon as the socket joins reach only the handlers registered by
// then: to register them first, use NewClient, then On, then Connect.
func Dial(ctx context.Context, rawURL string, opts *ClientOptions) (*Client, error) {
	c, err := NewClient(rawURL, opts)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// NewClient returns a Client for the server at rawURL without connecting: register handlers,
// then call Connect. See Dial for the URL and options.
func NewClient(rawURL string, opts *ClientOptions) (*Client, error) {
	o := opts.withDefaults()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("socketio: %w", err)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return nil, fmt.Errorf("socketio: unsupported URL scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("socketio: no host in URL %q", rawURL)
	}
	nsp := o.Namespace
	if nsp == "" {
		nsp = u.Path
	}
	nsp = normalizeNamespace(nsp)
	if !validNamespace(nsp) {
		return nil, fmt.Errorf("%w %q", errNamespace, nsp)
	}
	auth, err := encodeAuth(o.Auth)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + strings.Trim(o.Path, "/") + "/"
	c := &Client{
		opts:      o,
		maxValues: maxDecodedValues(o.MaxDecodedValues),
		wire:      newWireFormat(o.Parser),
		peers:     newPeerLog(o.Logger),
		rawURL:    u.String(),
		workers:   newWorkerPool(clientWorkerIdle),
		sockets:   map[string]*ClientSocket{},
		done:      make(chan struct{}),
		eioOpts: engineio.DialOptions{
			Transports: o.Transports,
			Header:     o.Header,
			Query:      o.Query,
			HTTPClient: o.HTTPClient,
			TLSConfig:  o.TLSConfig,
			Jar:        o.Jar,
		},
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.ClientSocket = newClientSocket(c, nsp, auth)
	c.sockets[nsp] = c.ClientSocket
	return c, nil
}

// encodeAuth encodes an auth payload, which must be a JSON object.
func encodeAuth(auth any) (json.RawMessage, error) {
	if auth == nil {
		return nil, nil
	}
	b, err := json.Marshal(auth)
	if err != nil {
		return nil, fmt.Errorf("socketio: encoding auth: %w", err)
	}
	if firstByte(b) == 'n' { // a nil map or pointer
		return nil, nil
	}
	if firstByte(b) != '{' {
		return nil, fmt.Errorf("socketio: auth must encode to a JSON object, not %s", b)
	}
	return b, nil
}

// Of returns the socket for another namespace over the same connection, creating it on first
// use; auth is its CONNECT payload (see ClientOptions.Auth). It does not join the namespace:
// register handlers, then call its Connect. Of panics on an invalid name or auth, which are
// programming errors.
func (c *Client) Of(namespace string, auth any) *ClientSocket {
	nsp := normalizeNamespace(namespace)
	if !validNamespace(nsp) {
		panic(fmt.Sprintf("socketio: invalid namespace %q", namespace))
	}
	a, err := encodeAuth(auth)
	if err != nil {
		panic(err.Error())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.sockets[nsp]; s != nil {
		return s
	}
	s := newClientSocket(c, nsp, a)
	c.sockets[nsp] = s
	return s
}

// Done returns a channel closed once the Client is closed for good: by Close, or after losing
// its connection with reconnection off or out of attempts. Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil while the Client is usable, and afterwards why it closed: ErrClientClosed
// after Close, or an error wrapping the *engineio.CloseError or dial error that ended it.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Transport returns the transport in use, "polling" or "websocket", or "" while disconnected.
func (c *Client) Transport() string {
	c.mu.Lock()
	cc := c.conn
	c.mu.Unlock()
	if cc == nil {
		return ""
	}
	return cc.eio.Transport()
}

// Close leaves every namespace (the server sees "client namespace disconnect"), closes the
// connection and stops reconnecting. Every socket's OnDisconnect hooks get
// ReasonIOClientDisconnect. Close waits for the connection's goroutines, not for handlers
// that are running, and may be called from a handler. It is idempotent and returns nil.
func (c *Client) Close() error {
	c.shutdown(ErrClientClosed, ReasonIOClientDisconnect, true)
	c.wg.Wait()
	return nil
}

// shutdown closes the client for good: every socket disconnects with reason, the connection
// closes (after a DISCONNECT per joined namespace when polite), and waits end with err.
func (c *Client) shutdown(err error, reason DisconnectReason, polite bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.err = true, err
	cc := c.conn
	c.conn = nil
	sockets := make([]*ClientSocket, 0, len(c.sockets))
	for _, s := range c.sockets {
		sockets = append(sockets, s)
	}
	c.mu.Unlock()
	c.cancel()
	for _, s := range sockets {
		s.terminate(reason, polite && cc != nil, err)
		s.exec.close() // a reader waiting for room in a handler queue must not hold Close up
	}
	if cc != nil {
		cc.close()
	}
	c.workers.close()
	close(c.done)
}

// connection returns the Engine.IO connection, dialing it if there is none, or waiting for
// the dial in progress. ctx bounds the wait.
func (c *Client) connection(ctx context.Context) (*clientConn, error) {
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			err := c.err
			c.mu.Unlock()
			return nil, err
		case c.conn != nil:
			cc := c.conn
			c.mu.Unlock()
			return cc, nil
		case c.dialing != nil:
			wait := c.dialing
			c.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			c.mu.Lock()
			err := c.dialErr
			c.mu.Unlock()
			if err != nil {
				return nil, err
			}
			continue
		}
		wait := make(chan struct{})
		c.dialing = wait
		c.mu.Unlock()
		cc, err := c.dial(ctx)
		c.mu.Lock()
		c.dialing, c.dialErr = nil, err
		close(wait)
		c.mu.Unlock()
		return cc, err
	}
}

// dial opens an Engine.IO connection and starts its reader.
func (c *Client) dial(ctx context.Context) (*clientConn, error) {
	// The dial also stops when the client closes.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	unhook := context.AfterFunc(c.ctx, stop)
	defer unhook()
	eio, err := engineio.Dial(ctx, c.rawURL, &c.eioOpts)
	if err != nil {
		if c.ctx.Err() != nil {
			return nil, ErrClientClosed
		}
		c.hookError(err)
		return nil, err
	}
	cc := newClientConn(c, eio)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		eio.Close()
		return nil, ErrClientClosed
	}
	c.conn = cc
	c.wg.Add(1)
	c.mu.Unlock()
	go cc.readLoop()
	c.opts.Logger.Debug("socketio: client connected", logattr.SID, eio.ID(), logattr.Transport, eio.Transport())
	for _, s := range c.activeSockets() {
		s.rejoin(cc)
	}
	return cc, nil
}

// socket returns the socket of namespace nsp, or nil.
func (c *Client) socket(nsp string) *ClientSocket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sockets[nsp]
}

// activeSockets returns the sockets that want to be connected.
func (c *Client) activeSockets() []*ClientSocket {
	c.mu.Lock()
	all := make([]*ClientSocket, 0, len(c.sockets))
	for _, s := range c.sockets {
		all = append(all, s)
	}
	c.mu.Unlock()
	active := all[:0]
	for _, s := range all {
		if s.isActive() {
			active = append(active, s)
		}
	}
	return active
}

// release closes the connection once no socket wants it any more, as the JavaScript client
// does; the next Connect dials again.
func (c *Client) release() {
	if len(c.activeSockets()) > 0 {
		return
	}
	c.mu.Lock()
	cc := c.conn
	if c.reconnect || cc == nil {
		c.mu.Unlock()
		return
	}
	c.conn = nil
	c.mu.Unlock()
	cc.released.Store(true)
	cc.close()
}
