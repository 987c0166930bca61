package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"time"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/httpserver"
	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/socketio"
)

// The settings of docs/TEST-SERVERS.md section 1.1 and 1.5.
const (
	testServerPingInterval   = 300 * time.Millisecond
	testServerPingTimeout    = 200 * time.Millisecond
	testServerMaxPayload     = 1_000_000
	testServerConnectTimeout = 1000 * time.Millisecond
	testServerRecoveryWindow = 30 * time.Second
	engineIOPath             = "/engine.io/"
	socketIOPath             = "/socket.io/"
)

// requestAckTimeout bounds how long a request-ack event waits for the
// client's acknowledgement, for a client that stays connected but never answers.
const requestAckTimeout = 30 * time.Second

func runTestServer(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testserver", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3000", "listen on this `host:port`")
	pingInterval := fs.Duration("ping-interval", testServerPingInterval, "Engine.IO ping interval")
	pingTimeout := fs.Duration("ping-timeout", testServerPingTimeout, "how long a client may take to answer a ping")
	connectTimeout := fs.Duration("connect-timeout", testServerConnectTimeout, "close a Socket.IO session that joins no namespace within this long")
	recovery := fs.Bool("recovery", false, "turn on Socket.IO connection state recovery (sessions kept 30s)")
	allowEIO3 := fs.Bool("allow-eio3", false, "also serve Socket.IO v2 clients (Engine.IO v3), as Node's allowEIO3")
	blockingReads := fs.Bool("blocking-reads", false, "read each WebSocket from a goroutine of its own instead of on readiness\n(engineio.ServerOptions.BlockingReads; to compare the two)")
	parserName := addParserFlag(fs)
	logFlags := addLogFlags(fs)
	metricsAddr := addMetricsFlag(fs)
	debugAddr := fs.String("debug-addr", "", "also serve pprof at /debug/pprof/ and runtime figures at /debug/stats on this\nloopback `host:port` (default off)")
	clusterFlags := addClusterFlags(fs)
	limits := addLimitFlags(fs)
	fs.Usage = usageFunc(fs, "tether testserver [flags]",
		"Runs the test server that conformance suites and real clients are run against\n"+
			"(docs/TEST-SERVERS.md, section 1). Both endpoints use polling and WebSocket, with\n"+
			"upgrade, a max payload of 1,000,000 bytes, and accept any origin.\n"+
			"\n"+
			"  /socket.io/  the Socket.IO v5 test app: namespace / answers the events message,\n"+
			"               message-with-ack, join, to-room, broadcast, request-ack and\n"+
			"               disconnect-me; /custom only emits auth; any other namespace is\n"+
			"               refused; a session joining no namespace within --connect-timeout\n"+
			"               (1s by default) is closed\n"+
			"  /engine.io/  plain Engine.IO v4 echo: every message, text or binary, is sent\n"+
			"               back unchanged to its client\n"+
			"  other paths  404\n"+
			"\n"+
			"With --parser msgpack, every Socket.IO client must speak MessagePack, as with\n"+
			"new Server({parser: require(\"socket.io-msgpack-parser\")}) in Node.\n"+
			"\n"+
			clusterUsage+" With --redis, namespace / also answers\n"+
			"fetch-sockets (the ids of the sockets of every node, sorted) and server-side-\n"+
			"emit (the names of the other nodes, sorted, from serverSideEmitWithAck(\"whoami\")).\n"+
			"\n"+
			"With --debug-addr, a second listener, on a loopback address only, serves the\n"+
			"net/http/pprof profiles under /debug/pprof/ and, at /debug/stats, a JSON object\n"+
			"with the goroutine count, the heap's live bytes, goal and bytes in use, the\n"+
			"stacks' bytes and the connected Socket.IO sockets: what a soak test\n"+
			"(scripts/soak.sh) samples. It has the same HTTP limits as the main listener.\n"+
			"\n"+
			metricsUsage+"\n"+
			"\n"+
			limitsUsage+"\n"+
			"\n"+
			"Runs until SIGINT or SIGTERM, then closes every session and exits.")
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tether testserver: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *pingInterval <= 0 || *pingTimeout <= 0 || *connectTimeout <= 0 {
		fmt.Fprintln(stderr, "tether testserver: --ping-interval, --ping-timeout and --connect-timeout must be positive")
		return 2
	}
	if !checkLimits("testserver", limits, stderr) {
		return 2
	}
	parser, err := parserNamed(*parserName)
	if err != nil {
		fmt.Fprintf(stderr, "tether testserver: %v\n", err)
		return 2
	}
	logger, err := logFlags.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tether testserver: %v\n", err)
		return 2
	}
	if *debugAddr != "" && !isLoopbackAddr(*debugAddr) {
		// Profiles show the command line and memory contents: not for other hosts.
		fmt.Fprintf(stderr, "tether testserver: --debug-addr %q: must be a loopback host:port, such as 127.0.0.1:6060\n", *debugAddr)
		return 2
	}
	var debugLn net.Listener
	if *debugAddr != "" {
		var err error
		if debugLn, err = net.Listen("tcp", *debugAddr); err != nil {
			fmt.Fprintf(stderr, "tether testserver: %v\n", err)
			return 1
		}
		defer debugLn.Close() // in case the main listener fails; closing it twice is harmless
	}
	metrics, err := openMetrics(*metricsAddr)
	if err != nil {
		fmt.Fprintf(stderr, "tether testserver: --metrics: %v\n", err)
		return 1
	}
	defer metrics.close() // in case the main listener fails; closing it twice is harmless

	cl, ok := clusterFlags.open(ctx, "testserver", logger, stderr)
	if !ok {
		return 2
	}
	defer cl.close() // after the server's shutdown, which closes the adapters
	if cl != nil && *recovery && cl.kind != adapterStreams {
		fmt.Fprint(stderr, recoveryHint("testserver", cl.kind))
	}

	cfg := testServerConfig{
		pingInterval:   *pingInterval,
		pingTimeout:    *pingTimeout,
		connectTimeout: *connectTimeout,
		recovery:       *recovery,
		allowEIO3:      *allowEIO3,
		blockingReads:  *blockingReads,
		parser:         parser,
		logger:         logger,
		limits:         *limits,
		observer:       metrics.observer(),
	}
	return listenAndServe(ctx, "testserver", "http", *addr, func(ctx context.Context, ln net.Listener) error {
		if cl != nil {
			// The node's default name needs the port it listens on.
			cl.listening("testserver", ln, stdout)
			cl.obs = metrics.redisObserver()
			cfg.adapter, cfg.nodeName = cl.adapter(logger), cl.name
		}
		srv := newTestServer(cfg)
		defer metrics.serve("testserver", *limits, logger, stdout)()
		if debugLn != nil {
			stop := serveDebug(debugLn, newDebugHandler(srv.socketCount), *limits, logger)
			defer stop()
			fmt.Fprintf(stdout, "tether testserver: debug figures on http://%s/debug/stats, profiles on /debug/pprof/\n", debugLn.Addr())
		}
		return srv.serve(ctx, ln)
	}, stdout, stderr)
}

// testServerConfig holds the settings of a testServer.
type testServerConfig struct {
	pingInterval time.Duration
	pingTimeout  time.Duration
	recovery     bool // Socket.IO connection state recovery (section 1.5)
	allowEIO3    bool // serve Engine.IO v3 clients too, on both endpoints
	// blockingReads gives each WebSocket a goroutine, as engineio.ServerOptions.BlockingReads.
	blockingReads bool
	// parser is the Socket.IO packets' wire format for every client; nil is JSON.
	parser socketio.Parser
	// connectTimeout closes a Socket.IO session that joins no namespace
	// within it; 0 means testServerConnectTimeout.
	connectTimeout time.Duration
	logger         *slog.Logger
	limits         httpserver.Limits // of the HTTP server; zero fields take their defaults
	// adapter, when set, makes the namespaces' adapters: the Redis adapter of a cluster.
	adapter func(socketio.AdapterHost) socketio.Adapter
	// nodeName, when set, adds the cluster extensions under this node name.
	nodeName string
	// observer, when set, is the Socket.IO server's Observer (--metrics).
	observer socketio.Observer
}

// testServer is the test server of docs/TEST-SERVERS.md section 1: the
// Socket.IO app on /socket.io/ and the Engine.IO echo on /engine.io/.
type testServer struct {
	sio    *socketio.Server
	eio    *engineio.Server
	log    *slog.Logger
	limits httpserver.Limits
}

func newTestServer(cfg testServerConfig) *testServer {
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	eio := engineio.NewServer(&engineio.ServerOptions{
		Path:          engineIOPath,
		PingInterval:  cfg.pingInterval,
		PingTimeout:   cfg.pingTimeout,
		MaxPayload:    testServerMaxPayload,
		AllowEIO3:     cfg.allowEIO3,
		BlockingReads: cfg.blockingReads,
		// A test server: browsers on any page may connect.
		CORS:   &engineio.CORSOptions{Origins: []string{"*"}},
		Logger: log,
		OnOpen: func(s *engineio.Session) {
			log.Debug("engine.io session open", logattr.SID, s.ID(), logattr.Transport, s.Transport(), logattr.Remote, s.Request().RemoteAddr())
		},
		OnMessage: func(s *engineio.Session, m engineio.Message) {
			// Send fails only once the session is closing, whose end engineio logs with its reason.
			_ = s.Send(engineio.NewPreparedMessage(m.Data, m.Binary))
		},
	})
	return &testServer{sio: newTestApp(cfg, log), eio: eio, log: log, limits: cfg.limits}
}

// newTestApp returns the Socket.IO app of docs/TEST-SERVERS.md sections 1.2 to
// 1.5. Only the namespaces / and /custom exist, so the server itself refuses
// any other with {"message":"Invalid namespace"}.
func newTestApp(cfg testServerConfig, log *slog.Logger) *socketio.Server {
	connectTimeout := cfg.connectTimeout
	if connectTimeout == 0 {
		connectTimeout = testServerConnectTimeout
	}
	opts := &socketio.ServerOptions{
		Path:           socketIOPath,
		PingInterval:   cfg.pingInterval,
		PingTimeout:    cfg.pingTimeout,
		MaxPayload:     testServerMaxPayload,
		ConnectTimeout: connectTimeout,
		AllowEIO3:      cfg.allowEIO3,
		BlockingReads:  cfg.blockingReads,
		CORS:           &engineio.CORSOptions{Origins: []string{"*"}},
		Logger:         log,
		Adapter:        cfg.adapter,
		Parser:         cfg.parser,
		Observer:       cfg.observer,
	}
	if cfg.recovery {
		opts.Recovery = &socketio.RecoveryOptions{MaxDisconnectionDuration: testServerRecoveryWindow}
	}
	sio := socketio.NewServer(opts)

	// Events without a handler, and so unknown events, are ignored: no
	// reply and no acknowledgement. Arguments are taken as socketio.Args and
	// sent back as they came, byte for byte, whatever their shape.
	root := sio.Of("/")
	root.OnConnect(emitAuth)
	root.On("message", func(s *socketio.Socket, args socketio.Args) {
		s.Emit("message-back", args)
	})
	root.On("message-with-ack", func(ack socketio.Ack, args socketio.Args) {
		ack(args)
	})
	root.On("join", func(s *socketio.Socket, ack socketio.Ack, room string) {
		s.Join(room)
		ack(room) // a no-op when the client asked for no ack
	})
	root.On("to-room", func(s *socketio.Socket, room string, args socketio.Args) {
		s.To(room).Emit("room-message", args)
	})
	root.On("broadcast", func(s *socketio.Socket, args socketio.Args) {
		s.Broadcast().Emit("broadcast-back", args)
	})
	root.On("request-ack", func(s *socketio.Socket, args socketio.Args) {
		// Wait for the answer on a goroutine of its own, as Node's server would: the socket's
		// next events are handled meanwhile. The wait ends when the client answers, leaves, or
		// takes longer than requestAckTimeout.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), requestAckTimeout)
			defer cancel()
			res, err := s.EmitWithAck(ctx, "ack-me", args)
			if err != nil {
				log.Debug("request-ack: no acknowledgement", logattr.Socket, s.ID(), logattr.Err, err)
				return
			}
			s.Emit("ack-result", res)
		}()
	})
	root.On("disconnect-me", func(s *socketio.Socket) {
		s.Disconnect(false)
	})

	if cfg.nodeName != "" {
		addClusterEvents(root, cfg.nodeName)
	}

	sio.Of("/custom").OnConnect(emitAuth)
	return sio
}

// authDelay separates the "auth" event from the CONNECT reply before it. The
// official socket.io-protocol suite reads them with two successive awaits on a
// ws 8.5 client, which emits every message of one network read at once: when
// both arrive in one read, the second is lost and the case times out (Node's
// own test server loses 2 to 4 cases of 32 that way on a busy machine).
const authDelay = 50 * time.Millisecond

// emitAuth emits "auth" with the auth payload the client sent in its
// CONNECT packet, unchanged, or {} when it sent none, authDelay after the
// connection. It waits in the connection handler, which the socket's events
// wait for: "auth" stays the first event a client gets.
func emitAuth(s *socketio.Socket) {
	auth := s.Handshake().Auth
	if len(auth) == 0 {
		auth = json.RawMessage("{}")
	}
	select {
	case <-time.After(authDelay):
	case <-s.Context().Done():
		return
	}
	_ = s.Emit("auth", auth)
}

// ServeHTTP routes /socket.io/ to the Socket.IO app and /engine.io/ to the
// Engine.IO echo, and answers 404 elsewhere.
func (s *testServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, socketIOPath):
		s.sio.ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, engineIOPath):
		s.eio.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// socketCount returns how many Socket.IO sockets are connected to the app's
// namespaces on this node.
func (s *testServer) socketCount() int {
	return len(s.sio.Of("/").Sockets()) + len(s.sio.Of("/custom").Sockets())
}

// serve accepts connections on ln until ctx is canceled, then shuts down
// gracefully within shutdownTimeout: it closes every Socket.IO and
// Engine.IO session (answering pending polls and closing WebSockets) and
// then the HTTP server. It returns nil after a shutdown and the listener's
// error otherwise.
func (s *testServer) serve(ctx context.Context, ln net.Listener) error {
	return serveSessions(ctx, ln, s, s.limits, s.log, s.sio.Shutdown, s.eio.Shutdown)
}

// serveSessions serves h on ln with limits until ctx is canceled, then
// shuts down within shutdownTimeout: first every closeSessions function, in
// parallel, because a pending long poll is an active request that
// http.Server.Shutdown would otherwise wait for; then the HTTP server. It
// returns nil after a shutdown and the listener's error otherwise.
func serveSessions(ctx context.Context, ln net.Listener, h http.Handler, limits httpserver.Limits, log *slog.Logger, closeSessions ...func(context.Context) error) error {
	hs := httpserver.New(h, limits, log)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(httpserver.Listener(ln, log)) }()

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, shutdown := range closeSessions {
		wg.Go(func() {
			if err := shutdown(sctx); err != nil {
				log.Warn("shutdown: sessions did not all end in time", logattr.Err, err)
			}
		})
	}
	wg.Wait()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("shutdown: dropping open requests", logattr.Err, err)
		hs.Close()
	}
	if serveErr == nil {
		<-errc // http.ErrServerClosed
	}
	return serveErr
}

// isLoopbackAddr reports whether addr is a host:port whose host is a
// loopback IP address or "localhost". An empty host, which listens on every
// interface, is not.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// debugStats is the JSON object served at /debug/stats: figures a soak test
// samples to see whether memory and goroutines stay flat while connections are held.
type debugStats struct {
	Goroutines int    `json:"goroutines"`
	HeapLive   uint64 `json:"heap_live"`   // bytes of heap objects the last GC found live (0 before it): the leak detector
	HeapAlloc  uint64 `json:"heap_alloc"`  // bytes of heap objects, live or not yet swept
	HeapInuse  uint64 `json:"heap_inuse"`  // bytes in heap spans in use
	HeapGoal   uint64 `json:"heap_goal"`   // heap size at which the next GC cycle is to end
	StackInuse uint64 `json:"stack_inuse"` // bytes of goroutine stacks
	Sys        uint64 `json:"sys"`         // bytes obtained from the OS
	NumGC      uint32 `json:"num_gc"`
	Sockets    int    `json:"sockets"` // connected Socket.IO sockets
}

// newDebugHandler returns the handler of the --debug-addr listener:
// net/http/pprof under /debug/pprof/ and debugStats at /debug/stats. The
// handlers are registered on a mux of its own: importing net/http/pprof also
// registers them on http.DefaultServeMux, which nothing in this binary serves.
func newDebugHandler(sockets func() int) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, allocs …
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, _ *http.Request) {
		// ReadMemStats stops the world for a moment: cheap at a sample every few seconds.
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		gc := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/goal:bytes"}}
		metrics.Read(gc)
		st := debugStats{
			Goroutines: runtime.NumGoroutine(),
			HeapAlloc:  m.HeapAlloc,
			HeapInuse:  m.HeapInuse,
			StackInuse: m.StackInuse,
			Sys:        m.Sys,
			NumGC:      m.NumGC,
			Sockets:    sockets(),
		}
		if gc[0].Value.Kind() == metrics.KindUint64 {
			st.HeapLive = gc[0].Value.Uint64()
		}
		if gc[1].Value.Kind() == metrics.KindUint64 {
			st.HeapGoal = gc[1].Value.Uint64()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st) // a write error means the client left
	})
	return mux
}

// serveDebug serves h on ln with limits until stop is called. stop closes
// the listener and every open request at once: a CPU profile being taken is
// cut short rather than holding up the server's exit.
func serveDebug(ln net.Listener, h http.Handler, limits httpserver.Limits, log *slog.Logger) (stop func()) {
	hs := httpserver.New(h, limits, log)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(httpserver.Listener(ln, log)) // http.ErrServerClosed after stop
	}()
	return func() {
		hs.Close()
		<-done
	}
}
