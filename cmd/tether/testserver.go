package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// The settings of TEST-SERVERS.md section 1.1.
const (
	testServerPingInterval = 300 * time.Millisecond
	testServerPingTimeout  = 200 * time.Millisecond
	testServerMaxPayload   = 1_000_000
	engineIOPath           = "/engine.io/"
)

func runTestServer(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testserver", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3000", "listen on this `host:port`")
	pingInterval := fs.Duration("ping-interval", testServerPingInterval, "Engine.IO ping interval")
	pingTimeout := fs.Duration("ping-timeout", testServerPingTimeout, "how long a client may take to answer a ping")
	verbose := fs.Bool("verbose", false, "log every session and error")
	fs.Usage = usageFunc(fs, "tether testserver [flags]",
		"Runs the test server that conformance suites and real clients are run against.\n"+
			"\n"+
			"  /engine.io/  plain Engine.IO v4 echo: every message, text or binary, is sent\n"+
			"               back unchanged to its client (polling and WebSocket, with upgrade;\n"+
			"               max payload 1,000,000 bytes; any origin)\n"+
			"  /socket.io/  the Socket.IO test app: not written yet, answers 404 for now\n"+
			"  other paths  404\n"+
			"\n"+
			"Runs until SIGINT or SIGTERM, then closes every session and exits.")
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tether testserver: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *pingInterval <= 0 || *pingTimeout <= 0 {
		fmt.Fprintln(stderr, "tether testserver: --ping-interval and --ping-timeout must be positive")
		return 2
	}

	logger := newLogger(stderr, *verbose)

	srv := newTestServer(testServerConfig{
		pingInterval: *pingInterval,
		pingTimeout:  *pingTimeout,
		logger:       logger,
	})
	return listenAndServe(ctx, "testserver", "http", *addr, srv.serve, stdout, stderr)
}

// testServerConfig holds the settings of a testServer.
type testServerConfig struct {
	pingInterval time.Duration
	pingTimeout  time.Duration
	logger       *slog.Logger
}

// testServer is the test server of TEST-SERVERS.md section 1. Only the
// Engine.IO echo endpoint of section 1.4 exists so far.
type testServer struct {
	eio *engineio.Server
	log *slog.Logger
}

func newTestServer(cfg testServerConfig) *testServer {
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	eio := engineio.NewServer(engineio.ServerOptions{
		Path:         engineIOPath,
		PingInterval: cfg.pingInterval,
		PingTimeout:  cfg.pingTimeout,
		MaxPayload:   testServerMaxPayload,
		// A test server: browsers on any page may connect.
		CORS:   &engineio.CORSOptions{Origins: []string{"*"}},
		Logger: log,
		OnOpen: func(s *engineio.Session) {
			log.Debug("engine.io session open", "sid", s.ID(), "transport", s.Transport(), "remote", s.Request().RemoteAddr)
		},
		OnMessage: func(s *engineio.Session, m engineio.Message) {
			// Send fails only once the session is closing; OnClose says why.
			_ = s.Send(engineio.NewMessage(m.Data, m.Binary))
		},
		OnClose: func(s *engineio.Session, reason engineio.CloseReason, detail error) {
			log.Debug("engine.io session closed", "sid", s.ID(), "reason", string(reason), "detail", detail)
		},
	})
	return &testServer{eio: eio, log: log}
}

// ServeHTTP routes /engine.io/ to the Engine.IO server and answers 404
// elsewhere.
func (s *testServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, engineIOPath) {
		s.eio.ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

// serve accepts connections on ln until ctx is canceled, then shuts down
// gracefully within shutdownTimeout: it closes every Engine.IO session
// (answering pending polls and closing WebSockets) and then the HTTP
// server. It returns nil after a shutdown and the listener's error
// otherwise.
func (s *testServer) serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// Sessions first: a pending long poll is an active request that
	// http.Server.Shutdown would otherwise wait for.
	if err := s.eio.Shutdown(sctx); err != nil {
		s.log.Warn("shutdown: sessions did not all end in time", "err", err)
	}
	if err := hs.Shutdown(sctx); err != nil {
		s.log.Warn("shutdown: dropping open requests", "err", err)
		hs.Close()
	}
	if serveErr == nil {
		<-errc // http.ErrServerClosed
	}
	return serveErr
}
