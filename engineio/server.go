package engineio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-rt/tether/internal/hostmatch"
	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/internal/ratelog"
	"github.com/tether-rt/tether/websocket"
)

// Transport names, as they appear in the transport query parameter and in Session.Transport.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
)

// ServerOptions configures a Server. The zero value serves /engine.io/ with the JavaScript
// server's defaults: pings every 25 s answered within 20 s, 1,000,000-byte payloads, both
// transports with upgrade, same-origin requests only.
type ServerOptions struct {
	Path           string        // the URL path served; default "/engine.io/"
	PingInterval   time.Duration // default 25s
	PingTimeout    time.Duration // default 20s
	UpgradeTimeout time.Duration // how long an upgrade may take; default 10s
	// MaxPayload bounds a POST body and a WebSocket message, in bytes; default 1,000,000.
	MaxPayload int
	// Transports lists the transports allowed; default polling and websocket.
	Transports []string
	// DisableUpgrades keeps polling sessions on polling.
	DisableUpgrades bool
	// BlockingReads reads each WebSocket from a goroutine of its own, blocked while the client
	// is silent. By default a WebSocket is read on readiness (websocket.Poller, on Linux):
	// an idle session holds no goroutine, which saves its stack, 2 to 8 KiB per connection.
	// TLS connections served by this process are always read from a goroutine.
	BlockingReads bool
	// AllowEIO3 also accepts clients of Engine.IO protocol revision 3 (EIO=3: socket.io-client
	// 2.x and the like), as Node's allowEIO3: each session speaks the revision it asked for
	// (see Session.Protocol). Without it they are refused with "Unsupported protocol version".
	// JSONP polling (the j parameter), which Node serves, is refused: a <script> on any page
	// could read its answers past the same-origin and CORS checks.
	AllowEIO3 bool
	// CORS allows cross-origin requests; nil allows same-origin requests only.
	CORS *CORSOptions
	// AllowRequest decides on a handshake before the session exists (authentication, origin,
	// rate limits): a non-nil error refuses it with 403 and the error's text.
	AllowRequest func(r *http.Request) error
	// Cookie, when set, is a template for a cookie sent with the handshake; its Value is set to
	// the session id. Sticky load balancers use it.
	Cookie *http.Cookie
	// SendQueueSize and SendQueueBytes bound what waits for a client that the network does not
	// take at once: packets, and bytes of messages. A session whose client falls that far
	// behind is closed with CloseSendQueueFull. Defaults 1024 packets and 4 MiB. A single
	// message larger than SendQueueBytes is still sent to a client with nothing waiting. A
	// broadcast's bytes are shared by every session it is queued for, so the memory a server
	// holds for slow clients is at most their number times SendQueueBytes, and usually far
	// less. SendVolatile never queues behind waiting packets.
	SendQueueSize  int
	SendQueueBytes int
	// WriteTimeout bounds each write to a client's WebSocket, and the writing of a long-polling
	// response: a client that has taken nothing for that long (it stopped reading) has its
	// session closed with CloseTransportError. Default 10 s. Leave http.Server.WriteTimeout at
	// zero: it counts from the request's start, and a poll waits up to PingInterval.
	WriteTimeout time.Duration
	// BodyTimeout bounds the reading of a long-polling POST's body: a client sending it slower
	// than that is answered 408 and its session closed. Default 10 s.
	BodyTimeout time.Duration
	// MaxHeaderBytes bounds the size of a handshake request's header and URL, which a session
	// keeps for its whole life (Request); a larger handshake is refused with 431. Default
	// 16 KiB, as Node.js's HTTP server. http.Server.MaxHeaderBytes, 1 MiB by default, bounds
	// every request; set it to about this size too.
	MaxHeaderBytes int
	// AllowedHosts, when set, lists the values the Host header may take (without the port),
	// as path.Match patterns such as "example.com" or "*.example.com"; other requests are
	// refused with 403. The same-origin check compares Origin with Host, which a page on a
	// domain the attacker controls passes after pointing the domain at the server's address
	// (DNS rebinding): a server on a private address or loopback should list its names here.
	AllowedHosts []string
	// Compression enables permessage-deflate on the websocket transport.
	Compression websocket.CompressionMode
	// HTTPCompression configures gzip and deflate of long-polling responses; nil compresses
	// those of 1024 bytes or more for clients that accept it, as Node's engine.io does.
	// Messages made with NewUncompressedPreparedMessage are not compressed, unless they share an
	// answer with others.
	HTTPCompression *HTTPCompressionOptions
	// Logger receives what the server has to say; nil keeps it quiet. Each session's end is
	// logged with its reason: at info level when the client dropped (ping timeout, broken
	// connection, bad packet, payload too large, send queue full), at debug level when
	// either side closed it; refused WebSocket handshakes and failed upgrades at debug level.
	// The info lines are rate-limited per reason: 10 at once, then one a second, the next
	// line saying how many were held back (suppressed=N).
	// Lines carry the attributes "sid" (session id), "remote" (the client's address),
	// "transport", "reason" and "err", the keys every layer of Tether uses.
	Logger *slog.Logger

	// InitialHeaders sets headers of the answer to a handshake (Node's "initial_headers"
	// event): the open packet's poll, or the WebSocket's 101. Headers sets headers of every
	// answer to a request that reaches a session, the handshake included, after InitialHeaders
	// (Node's "headers" event). Both run before the server sets its own, which win.
	InitialHeaders func(h http.Header, r *http.Request)
	Headers        func(h http.Header, r *http.Request)
	// OnConnectionError is called for each request refused with one of the protocol's error
	// codes (Node's "connection_error" event): an unknown transport or session, a handshake
	// that is not a GET, a bad request, one that AllowRequest, AllowedHosts or the origin
	// checks forbid, an unsupported protocol version. It runs before the answer is written.
	OnConnectionError func(r *http.Request, err *RequestError)

	// OnOpen is called when a session opens, before any OnMessage for it.
	OnOpen func(s *Session)
	// OnMessage is called for each message, in order and one at a time per session.
	OnMessage func(s *Session, m Message)
	// OnClose is called once when a session ends, after its last OnMessage. detail, when not
	// nil, is the error behind the reason.
	OnClose func(s *Session, reason CloseReason, detail error)

	// Observer, when set, is told of sessions, refused requests, upgrades and messages, for
	// metrics; see Observer.
	Observer Observer
}

// CORSOptions allows browsers on other origins to use the server.
type CORSOptions struct {
	Origins     []string                 // allowed origins such as "https://app.example.com", or "*" for any
	OriginFunc  func(origin string) bool // decides instead of Origins when set
	Credentials bool                     // allow cookies and credentials
	Headers     []string                 // request headers allowed beyond the simple ones
	MaxAge      time.Duration            // how long browsers may cache a preflight answer
}

// Server is an Engine.IO v4 server (and v3 with AllowEIO3), an http.Handler.
type Server struct {
	opts ServerOptions
	log  *slog.Logger
	// slowLog says once in a while, not once per client, that clients were dropped for not
	// reading: at scale a single broadcast can drop thousands.
	slowLog *ratelog.Limiter
	// endLog limits the info lines of sessions that ended badly, per reason: clients cause
	// them, and a crowd of them (or one that reconnects in a loop) must not flood the log.
	endLog     *ratelog.Limiter
	transports map[string]bool
	wsOptions  websocket.AcceptOptions
	compressor *httpCompressor // nil: polling answers go uncompressed
	// epoch is the origin of clock, a second before the server was made so that no reading
	// of it is zero (a session's zero means "not set").
	epoch time.Time

	clients atomic.Int64 // sessions open: added, and not yet closed

	mu       sync.Mutex
	sessions map[string]*Session
	closing  bool
	active   sync.WaitGroup // sessions not yet finished
	// poller reads idle WebSockets without a goroutine each; made with the first, closed by
	// Shutdown. pollerTried is set once making it was tried, so a failure is met only once.
	poller      *websocket.Poller
	pollerTried bool
}

const (
	defaultPath           = "/engine.io/"
	defaultPingInterval   = 25 * time.Second
	defaultPingTimeout    = 20 * time.Second
	defaultUpgradeTimeout = 10 * time.Second
	defaultMaxPayload     = 1_000_000
	defaultSendQueueSize  = 1024
	defaultSendQueueBytes = 4 << 20
	defaultWriteTimeout   = 10 * time.Second
	defaultBodyTimeout    = 10 * time.Second
	defaultMaxHeaderBytes = 16 << 10
	// slowLogInterval is how often at most the server says it dropped clients that stopped
	// reading.
	slowLogInterval = 10 * time.Second
	// endLogBurst lines of sessions ended for one reason go at once, then one every
	// endLogInterval, as Socket.IO's lines that peers cause.
	endLogBurst    = 10
	endLogInterval = time.Second
)

// NewServer returns a server with the given options; opts may be nil. The server keeps a
// copy: changing opts afterwards changes nothing.
func NewServer(o *ServerOptions) *Server {
	var opts ServerOptions
	if o != nil {
		opts = *o
	}
	if opts.Path == "" {
		opts.Path = defaultPath
	}
	if !strings.HasSuffix(opts.Path, "/") {
		opts.Path += "/"
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = defaultPingInterval
	}
	if opts.PingTimeout <= 0 {
		opts.PingTimeout = defaultPingTimeout
	}
	if opts.UpgradeTimeout <= 0 {
		opts.UpgradeTimeout = defaultUpgradeTimeout
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = defaultMaxPayload
	}
	if len(opts.Transports) == 0 {
		opts.Transports = []string{TransportPolling, TransportWebSocket}
	}
	if opts.SendQueueSize <= 0 {
		opts.SendQueueSize = defaultSendQueueSize
	}
	if opts.SendQueueBytes <= 0 {
		opts.SendQueueBytes = defaultSendQueueBytes
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = defaultWriteTimeout
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = defaultBodyTimeout
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	s := &Server{
		opts:       opts,
		log:        opts.Logger,
		transports: map[string]bool{},
		sessions:   map[string]*Session{},
		slowLog:    ratelog.New(slowLogInterval, 1),
		endLog:     ratelog.New(endLogInterval, endLogBurst),
		compressor: newHTTPCompressor(opts.HTTPCompression),
		epoch:      time.Now().Add(-time.Second),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, t := range opts.Transports {
		s.transports[t] = true
	}
	s.wsOptions = websocket.AcceptOptions{
		Compression: opts.Compression,
		// A message packet is the payload plus its type byte.
		ReadLimit:    int64(opts.MaxPayload) + 1,
		WriteTimeout: opts.WriteTimeout,
	}
	if opts.CORS != nil {
		// Origins are checked by the CORS rules before the upgrade.
		s.wsOptions.OriginPatterns = []string{"*"}
	}
	return s
}

// ServeHTTP answers Engine.IO requests under the configured path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, s.opts.Path) && r.URL.Path+"/" != s.opts.Path {
		http.NotFound(w, r)
		return
	}
	if !hostmatch.Allowed(r.Host, s.opts.AllowedHosts) {
		s.refuse(w, r, errForbidden, "host not allowed")
		return
	}
	if !s.cors(w, r) {
		s.refuse(w, r, errForbidden, "origin not allowed")
		return
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent) // a CORS preflight, answered by cors
		return
	}
	q := requestQuery(r.URL.RawQuery)
	transport := q.Get("transport")
	if !s.transports[transport] {
		s.refuse(w, r, errUnknownTransport, "")
		return
	}
	if transport == TransportWebSocket && !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		s.refuse(w, r, errBadRequest, "") // as the JavaScript server answers
		return
	}
	if sid := q.Get("sid"); sid != "" {
		sess := s.session(sid)
		if sess == nil {
			s.refuse(w, r, errUnknownSession, "")
			return
		}
		if s.opts.AllowEIO3 && requestProtocol(q) != sess.protocol {
			// A session keeps the revision of its handshake, upgrade included, as with Node.
			s.refuse(w, r, errBadRequest, "")
			return
		}
		s.setHeaders(w, r, false)
		sess.serve(w, r, transport)
		return
	}
	if r.Method != http.MethodGet {
		s.refuse(w, r, errBadHandshakeMethod, "")
		return
	}
	protocol := requestProtocol(q)
	if protocol != 4 && (protocol != 3 || !s.opts.AllowEIO3) {
		s.refuse(w, r, errUnsupportedVersion, "")
		return
	}
	if protocol == 3 && q.Has("j") {
		// JSONP polling, which Node serves: a <script> from any page can read its answers,
		// past the same-origin and CORS checks that guard the other transports, with the
		// user's cookies. socket.io-client 2 falls back to it only without XHR (or when
		// forced), so it is refused instead.
		s.refuse(w, r, errBadRequest, "JSONP polling is not supported")
		return
	}
	if n := requestHeaderSize(r); n > s.opts.MaxHeaderBytes {
		http.Error(w, fmt.Sprintf("request header fields too large: %d bytes, at most %d", n, s.opts.MaxHeaderBytes),
			http.StatusRequestHeaderFieldsTooLarge)
		return
	}
	if s.opts.AllowRequest != nil {
		if err := s.opts.AllowRequest(r); err != nil {
			s.refuse(w, r, errForbidden, err.Error())
			return
		}
	}
	s.handshake(w, r, transport, q, protocol)
}

// requestQuery is a request's query string, read one parameter at a time: the server needs
// four or five of them once each, and building url.Values (a map, a slice per key) for that
// was a tenth of the allocations of a handshake.
type requestQuery string

// Get returns the first value of key as url.Values.Get of url.ParseQuery's result would: a
// pair with a semicolon or a bad escape does not count.
func (q requestQuery) Get(key string) string {
	v, _ := q.lookup(key)
	return v
}

// Has reports whether the query has key, as url.Values.Has would.
func (q requestQuery) Has(key string) bool {
	_, ok := q.lookup(key)
	return ok
}

func (q requestQuery) lookup(key string) (string, bool) {
	rest := string(q)
	for rest != "" {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, ok := queryUnescape(k)
		if !ok || k != key {
			continue
		}
		if v, ok = queryUnescape(v); ok {
			return v, true
		}
	}
	return "", false
}

// queryUnescape decodes s as a query component, without allocating when there is nothing
// to decode.
func queryUnescape(s string) (string, bool) {
	if !strings.ContainsAny(s, "%+") {
		return s, true
	}
	u, err := url.QueryUnescape(s)
	return u, err == nil
}

// requestProtocol returns the protocol revision a request asks for (its EIO parameter): 3, 4,
// or 0 for anything else.
func requestProtocol(q requestQuery) int {
	switch q.Get("EIO") {
	case "4":
		return 4
	case "3":
		return 3
	}
	return 0
}

// cors sets the CORS headers for r and reports whether its origin may proceed. Requests
// without an Origin header, and same-origin ones, always may.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	c := s.opts.CORS
	if c == nil {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	allowed := slices.Contains(c.Origins, "*") || slices.Contains(c.Origins, origin)
	if c.OriginFunc != nil {
		allowed = c.OriginFunc(origin)
	}
	if !allowed {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	if c.Credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		allowHeaders := append([]string{"Content-Type"}, c.Headers...)
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" && len(c.Headers) == 0 {
			allowHeaders = []string{req}
		}
		h.Set("Access-Control-Allow-Headers", strings.Join(allowHeaders, ", "))
		if c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", fmt.Sprint(int(c.MaxAge.Seconds())))
		}
	}
	return true
}

func (s *Server) session(id string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// handshake opens a session over the requested transport.
func (s *Server) handshake(w http.ResponseWriter, r *http.Request, transport string, query requestQuery, protocol int) {
	sess := newSession(s, newID(), r, query)
	sess.protocol = protocol
	if !s.add(sess) {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	s.setHeaders(w, r, true)
	if s.opts.Cookie != nil {
		c := *s.opts.Cookie
		c.Value = sess.id
		http.SetCookie(w, &c)
	}
	if transport == TransportWebSocket {
		// The open packet goes out with the 101 response, in one write: a system call
		// and a TCP segment fewer per handshake. The connection's WriteTimeout bounds it.
		conn, err := websocket.AcceptWithMessage(w, r, &s.wsOptions, websocket.MessageText, s.openPacket(sess.id, false))
		if err != nil {
			s.clients.Add(-1)
			s.remove(sess)
			s.log.Debug("engineio: websocket handshake refused", logattr.Remote, r.RemoteAddr, logattr.Err, err)
			return
		}
		sess.startWebSocket(conn)
		return
	}
	sess.startPolling(w)
}

// openPacket is the handshake's answer (the protocol's "open" packet data). Node announces
// maxPayload to v3 clients too, which ignore it; so does this. It is written by hand, as
// json.Marshal of a struct would write it: the sid is URL-safe base64 and the rest numbers,
// so nothing needs escaping.
func (s *Server) openPacket(sid string, canUpgrade bool) []byte {
	b := make([]byte, 0, 128)
	b = append(b, byte('0'+packetOpen))
	b = append(b, `{"sid":"`...)
	b = append(b, sid...)
	b = append(b, `","upgrades":[`...)
	if canUpgrade && !s.opts.DisableUpgrades && s.transports[TransportWebSocket] {
		b = append(b, `"websocket"`...)
	}
	b = append(b, `],"pingInterval":`...)
	b = strconv.AppendInt(b, s.opts.PingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, s.opts.PingTimeout.Milliseconds(), 10)
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, int64(s.opts.MaxPayload), 10)
	return append(b, '}')
}

// clock returns the time on the monotonic clock, as the time since the server's epoch: a
// session keeps its heartbeat times so, in 8 bytes each rather than a time.Time's 24, as
// every idle session holds them.
func (s *Server) clock() time.Duration { return time.Since(s.epoch) }

func (s *Server) add(sess *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions[sess.id] = sess
	s.active.Add(1)
	s.clients.Add(1)
	return true
}

// remove forgets a session; it is called once per added session, when it has ended.
func (s *Server) remove(sess *Session) {
	s.mu.Lock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
	}
	s.mu.Unlock()
	s.active.Done()
}

// Shutdown refuses new sessions, closes every open one with CloseServerShutdown, and waits
// until all have ended or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	open := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		open = append(open, sess)
	}
	s.mu.Unlock()
	for _, sess := range open {
		sess.close(CloseServerShutdown, nil, true)
	}
	done := make(chan struct{})
	go func() {
		s.active.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	p := s.poller
	s.poller = nil
	s.mu.Unlock()
	if p != nil {
		// Sessions still ending close their connections on their own, and a close handshake
		// reads its answer itself.
		_ = p.Close()
	}
	return err
}

// readPoller returns the Poller that reads the server's WebSockets on readiness, or nil when
// they are read from a goroutine each: BlockingReads, a platform without one, or a server
// shutting down.
func (s *Server) readPoller() *websocket.Poller {
	if s.opts.BlockingReads {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	if !s.pollerTried {
		s.pollerTried = true
		p, err := websocket.NewPoller()
		if err != nil && !errors.Is(err, websocket.ErrPollUnsupported) {
			s.log.Warn("engineio: reading WebSockets on readiness is off", logattr.Err, err)
		}
		s.poller = p
	}
	return s.poller
}

// requestHeaderSize is what a session would keep of a handshake request: its header fields
// and URL, counted as they were sent.
func requestHeaderSize(r *http.Request) int {
	n := len(r.RequestURI)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	return n
}

// newID returns an unguessable session id: 120 random bits, URL-safe.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
