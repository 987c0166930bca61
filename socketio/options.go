package socketio

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/websocket"
)

// ServerOptions configures a Server. The zero value serves /socket.io/ with the defaults of
// Node's socket.io server: pings every 25 s answered within 20 s, 1,000,000-byte payloads,
// long-polling upgraded to WebSocket, same-origin requests only, 45 s to join a namespace.
type ServerOptions struct {
	// Path is the URL path served; default "/socket.io/".
	Path string
	// PingInterval and PingTimeout are Engine.IO's heartbeat: default 25 s and 20 s.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// UpgradeTimeout bounds an upgrade from polling to WebSocket; default 10 s.
	UpgradeTimeout time.Duration
	// MaxPayload bounds a POST body and a WebSocket message, in bytes; default 1,000,000.
	MaxPayload int
	// Transports lists the transports allowed: engineio.TransportPolling and
	// engineio.TransportWebSocket (the default, both, with upgrade).
	Transports []string
	// DisableUpgrades keeps polling sessions on polling.
	DisableUpgrades bool
	// AllowEIO3 also serves socket.io-client 2.x: Engine.IO v3 sessions speaking Socket.IO
	// protocol v4, as Node's allowEIO3 (see engineio.ServerOptions.AllowEIO3). Broadcasts
	// reach them and the v3/v4 clients alike.
	AllowEIO3 bool
	// BlockingReads gives each WebSocket a reading goroutine of its own, instead of reading it
	// on readiness with no goroutine while the client is silent (see
	// engineio.ServerOptions.BlockingReads).
	BlockingReads bool
	// CORS allows browsers on other origins; nil allows same-origin requests only.
	CORS *engineio.CORSOptions
	// AllowRequest decides on a connection before it exists; an error refuses it with 403.
	AllowRequest func(r *http.Request) error
	// Cookie, when set, is a template for the sticky-session cookie sent with the handshake.
	Cookie *http.Cookie
	// SendQueueSize and SendQueueBytes bound what waits for one client that the network does
	// not take at once: Engine.IO packets (a binary event counts one per attachment, plus one)
	// and bytes. A client that far behind is disconnected ("transport close" on its side,
	// engineio.CloseSendQueueFull on ours). Defaults 1024 packets and 4 MiB; see
	// engineio.ServerOptions for the policy.
	SendQueueSize  int
	SendQueueBytes int
	// WriteTimeout bounds each write to a client's WebSocket: a client that takes nothing for
	// that long (it stopped reading) is disconnected. Default 10 s.
	WriteTimeout time.Duration
	// BodyTimeout bounds the reading of a long-polling POST's body; default 10 s.
	BodyTimeout time.Duration
	// MaxHeaderBytes bounds a handshake's header and URL, kept for the connection's life
	// (Handshake); larger ones are refused with 431. Default 16 KiB, as Node.js.
	MaxHeaderBytes int
	// AllowedHosts, when set, lists the Host header values accepted (path.Match patterns
	// without the port); others are refused with 403. List the server's names when it runs on
	// loopback or a private network: same-origin checks do not stop DNS rebinding.
	AllowedHosts []string
	// Compression enables permessage-deflate on the WebSocket transport.
	Compression websocket.CompressionMode
	// HTTPCompression configures gzip and deflate of long-polling responses (Node's
	// httpCompression); nil compresses those of 1024 bytes or more, as Node.
	HTTPCompression *engineio.HTTPCompressionOptions

	// InitialHeaders, Headers and OnConnectionError are Engine.IO's hooks (Node's
	// io.engine.on("initial_headers" | "headers" | "connection_error")): headers for the
	// handshake's answer, headers for every answer, and the requests refused with one of the
	// protocol's codes. See engineio.ServerOptions.
	InitialHeaders    func(h http.Header, r *http.Request)
	Headers           func(h http.Header, r *http.Request)
	OnConnectionError func(r *http.Request, err *engineio.RequestError)

	// Parser is the wire format of the packets, for every client: nil is the protocol's JSON
	// parser, which every client speaks; package socketio/msgpackparser is the MessagePack one
	// of npm's socket.io-msgpack-parser. Whatever the parser, handlers see the same JSON values
	// and binary attachments, and a broadcast is encoded once.
	Parser Parser

	// ConnectTimeout closes a connection that has joined no namespace within it; default 45 s.
	ConnectTimeout time.Duration
	// MaxAttachments bounds the binary attachments of one incoming packet; default 10.
	MaxAttachments int
	// MaxDecodedValues bounds what the server decodes of one incoming event on its own, so
	// that a client cannot make an event cost many times its size: the arguments decoded for
	// one handler (or for the catch-all listeners) may hold at most that many JSON values (each
	// number, string, true, false, null, array and object, at any depth), nested at most 64
	// levels deep. A value costs 2 to 5 bytes on the wire and 20 to 450 decoded (a number in an
	// any about 40, an object as a map 100 to 450). Arguments beyond the bound reach only the
	// handlers that take them as they came, as Args or json.RawMessage, which costs nothing to
	// decode; the other handlers are not called, and an ArgumentError wrapping ErrDecodeLimit is
	// logged. An event or acknowledgement with more arguments than the bound is dropped, and
	// logged. Args.Decode and Args.Values, which the program calls, are not bounded.
	// Default 10,000 values: at most about 5 MB decoded for a handler, against 53 MB for a 1 MB
	// array of numbers without a bound. -1 means no bound, as in Node's server.
	MaxDecodedValues int
	// HandlerQueueSize bounds the events waiting for one socket's handlers, and 4 MiB their
	// bytes; when either is reached the connection stops reading until the handlers catch up.
	// Default 256.
	HandlerQueueSize int
	// Recovery turns connection state recovery on; nil leaves it off.
	Recovery *RecoveryOptions
	// CleanupEmptyChildNamespaces removes a dynamic namespace (made by a parent of OfMatch)
	// once its last socket has left, closing its adapter (and so, for a cluster adapter, its
	// subscriptions), as Node's cleanupEmptyChildNamespaces. The next client that asks for the
	// name gets a new namespace, announced again to OnNewNamespace. A *Namespace kept from
	// before is then stale: get the namespace again with Of, or register on the parent.
	CleanupEmptyChildNamespaces bool
	// Adapter makes the adapter of each namespace, given what the adapter sees of it; nil
	// means the in-memory adapter (NewMemoryAdapter), enough for a server on one node.
	Adapter func(host AdapterHost) Adapter
	// Logger receives what the server has to say; nil keeps it quiet, but for the problems of
	// single events (arguments that do not fit a handler, a handler's panic), which then go to
	// slog.Default(): a handler silently never called is hard to diagnose. The lines a client can
	// cause (an invalid packet, an event not handled, a handler's panic, …) are rate-limited so
	// that no client, nor a crowd of them, can flood it: for each message, 10 lines at once, then
	// one a second, the first line after a pause saying how many were held back
	// (suppressed=N). Lines below the Logger's level cost nothing and are not counted. The
	// Engine.IO layer and the adapters log here too, with the same attribute keys (see
	// "Logging" in the package documentation).
	Logger *slog.Logger
	// Observer, when set, is told what the server does, for metrics; see Observer.
	Observer Observer
}

// RecoveryOptions configures connection state recovery: a client whose transport was cut and
// that comes back in time gets its socket id, rooms and data back, and the events it missed.
type RecoveryOptions struct {
	// MaxDisconnectionDuration is how long a session is kept after the cut; default 2 minutes.
	MaxDisconnectionDuration time.Duration
	// RunMiddlewares runs the namespace's middleware again for a recovered socket, with its
	// restored id and data (Node's skipMiddlewares: false). By default a recovered socket is
	// let in without them, as in Node: they ran when the socket first connected. A middleware
	// that refuses a recovered socket ends its session: the client connects anew next time.
	// The field is named for what it turns on so that its zero value is Node's default,
	// skipMiddlewares: true.
	RunMiddlewares bool
}

const (
	defaultPath             = "/socket.io/"
	defaultConnectTimeout   = 45 * time.Second
	defaultMaxAttachments   = 10
	defaultHandlerQueueSize = 256
	defaultRecoveryDuration = 2 * time.Minute
)

func (o *ServerOptions) withDefaults() ServerOptions {
	opts := ServerOptions{}
	if o != nil {
		opts = *o
	}
	if opts.Path == "" {
		opts.Path = defaultPath
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = defaultConnectTimeout
	}
	if opts.MaxAttachments <= 0 {
		opts.MaxAttachments = defaultMaxAttachments
	}
	if opts.HandlerQueueSize <= 0 {
		opts.HandlerQueueSize = defaultHandlerQueueSize
	}
	if opts.Recovery != nil {
		r := *opts.Recovery
		if r.MaxDisconnectionDuration <= 0 {
			r.MaxDisconnectionDuration = defaultRecoveryDuration
		}
		opts.Recovery = &r
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger // see peerLog.event
	}
	return opts
}

func (o *ServerOptions) engineOptions() engineio.ServerOptions {
	return engineio.ServerOptions{
		Path:            o.Path,
		PingInterval:    o.PingInterval,
		PingTimeout:     o.PingTimeout,
		UpgradeTimeout:  o.UpgradeTimeout,
		MaxPayload:      o.MaxPayload,
		Transports:      o.Transports,
		DisableUpgrades: o.DisableUpgrades,
		AllowEIO3:       o.AllowEIO3,
		BlockingReads:   o.BlockingReads,
		CORS:            o.CORS,
		AllowRequest:    o.AllowRequest,
		Cookie:          o.Cookie,
		SendQueueSize:   o.SendQueueSize,
		SendQueueBytes:  o.SendQueueBytes,
		WriteTimeout:    o.WriteTimeout,
		BodyTimeout:     o.BodyTimeout,
		MaxHeaderBytes:  o.MaxHeaderBytes,
		AllowedHosts:    o.AllowedHosts,
		Compression:     o.Compression,
		HTTPCompression: o.HTTPCompression,
		Logger:          o.Logger,

		InitialHeaders:    o.InitialHeaders,
		Headers:           o.Headers,
		OnConnectionError: o.OnConnectionError,
		Observer:          engineObserver(o.Observer),
	}
}
