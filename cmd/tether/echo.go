package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tether-rt/tether/internal/httpserver"
	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/websocket"
)

// defaultReadLimit is large enough for the 16 MiB messages of WebSocket
// conformance suites, with room to spare.
const defaultReadLimit = 64 << 20

// shutdownTimeout bounds how long a shutdown waits for peers to answer the
// going-away close before their connections are dropped. Shorter than the
// library's own close timeout so that Ctrl-C is prompt.
const shutdownTimeout = 3 * time.Second

func runEcho(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8765", "listen on this `host:port`")
	raw := fs.Bool("raw", false, "send every message back unchanged and accept permessage-deflate (for conformance suites)")
	compression := fs.Bool("compression", false, "accept permessage-deflate (always on with --raw)")
	readLimit := fs.Int64("read-limit", defaultReadLimit, "largest accepted message in `bytes` (-1: no limit)")
	logFlags := addLogFlags(fs)
	limits := addLimitFlags(fs)
	fs.Usage = usageFunc(fs, "tether echo [flags]",
		"Runs a WebSocket echo server accepting the upgrade on any path. A text message M\n"+
			"is answered with the text \"Echo: M\", a binary message B with \"Echo: \" followed by B.\n"+
			"\n"+
			limitsUsage+"\n"+
			"These bound the HTTP requests up to the upgrade, not an open WebSocket.\n"+
			"\n"+
			"Runs until SIGINT or SIGTERM, then closes every connection with 1001 (going away).")
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tether echo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if !checkLimits("echo", limits, stderr) {
		return 2
	}

	logger, err := logFlags.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tether echo: %v\n", err)
		return 2
	}

	srv := newEchoServer(echoConfig{
		raw:         *raw,
		compression: *compression,
		readLimit:   *readLimit,
		logger:      logger,
		limits:      *limits,
	})
	return listenAndServe(ctx, "echo", "ws", *addr, srv.serve, stdout, stderr)
}

// echoConfig holds the settings of an echoServer.
type echoConfig struct {
	raw         bool  // echo unchanged, accept compression
	compression bool  // accept permessage-deflate
	readLimit   int64 // as websocket.AcceptOptions.ReadLimit
	logger      *slog.Logger
	limits      httpserver.Limits // of the HTTP server; zero fields take their defaults
}

// echoServer is the WebSocket echo server of docs/TEST-SERVERS.md section 2.
//
// It tracks its connections itself because http.Server.Shutdown forgets
// hijacked connections, and a graceful shutdown must close each of them
// with 1001.
type echoServer struct {
	opts   *websocket.AcceptOptions
	prefix []byte // prepended to every echoed message; nil with --raw
	log    *slog.Logger
	limits httpserver.Limits

	// poller reads idle connections without a goroutine each; nil where the platform has
	// none, and then each connection has a goroutine.
	poller *websocket.Poller

	mu      sync.Mutex
	conns   map[*websocket.Conn]struct{}
	closing bool
	wg      sync.WaitGroup // one per handler between Accept and the end of its serve loop
}

func newEchoServer(cfg echoConfig) *echoServer {
	opts := &websocket.AcceptOptions{
		// A test server: browsers on any page may connect.
		OriginPatterns: []string{"*"},
		ReadLimit:      cfg.readLimit,
	}
	if cfg.raw || cfg.compression {
		opts.Compression = websocket.CompressionContextTakeover
	}
	s := &echoServer{opts: opts, log: cfg.logger, limits: cfg.limits, conns: make(map[*websocket.Conn]struct{})}
	if !cfg.raw {
		s.prefix = []byte("Echo: ")
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.poller, _ = websocket.NewPoller() // without one, connections are read the usual way
	return s
}

// ServeHTTP upgrades the request on any path and hands the connection to
// its own goroutine, so that net/http can free the request's buffers.
func (s *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()

	c, err := websocket.Accept(w, r, s.opts)
	if err != nil {
		// Accept has already answered with an HTTP error.
		s.log.Debug("handshake refused", logattr.Remote, r.RemoteAddr, logattr.Err, err)
		s.wg.Done()
		return
	}
	s.mu.Lock()
	if s.closing {
		// Shutdown began during the handshake and did not see this conn.
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.Close(websocket.StatusGoingAway, "server shutting down")
		}()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.log.Debug("connected", logattr.Remote, r.RemoteAddr, "path", r.URL.Path)
	if s.poller != nil && s.poller.Watch(c, func() { s.echoReady(c) }) == nil {
		return
	}
	go s.echo(c)
}

// echo answers every message of c until the connection closes.
func (s *echoServer) echo(c *websocket.Conn) {
	// Whole messages rather than streaming: a text message is validated as
	// UTF-8 before any of it is echoed, as conformance suites expect.
	ctx := context.Background()
	var buf []byte
	for {
		typ, msg, err := c.Read(ctx)
		if err == nil {
			buf, err = s.answer(ctx, c, typ, msg, buf)
		}
		if err != nil {
			s.ended(c, err)
			return
		}
	}
}

// echoReady answers the messages of c that have arrived, for the Poller.
func (s *echoServer) echoReady(c *websocket.Conn) {
	ctx := context.Background()
	for {
		typ, msg, err := c.TryRead(ctx)
		if err == websocket.ErrWouldBlock {
			return
		}
		if err == nil {
			_, err = s.answer(ctx, c, typ, msg, nil)
		}
		if err != nil {
			s.ended(c, err)
			return
		}
	}
}

// answer echoes one message, building it in buf, which it returns for the next.
func (s *echoServer) answer(ctx context.Context, c *websocket.Conn, typ websocket.MessageType, msg, buf []byte) ([]byte, error) {
	out := msg
	if s.prefix != nil {
		buf = append(append(buf[:0], s.prefix...), msg...)
		out = buf
	}
	if cap(buf) > 1<<20 {
		buf = nil // do not keep a large buffer for an idle connection
	}
	return buf, c.Write(ctx, typ, out)
}

// ended forgets c after the error that ended it, once.
func (s *echoServer) ended(c *websocket.Conn, err error) {
	s.mu.Lock()
	_, ok := s.conns[c]
	delete(s.conns, c)
	s.mu.Unlock()
	c.CloseNow()
	if ok {
		s.logClosed(c, err)
		s.wg.Done()
	}
}

func (s *echoServer) logClosed(c *websocket.Conn, err error) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) && !ce.Local {
		s.log.Debug("closed by peer", logattr.Remote, c.RemoteAddr(), "code", int(ce.Code), logattr.Reason, ce.Reason)
		return
	}
	s.log.Debug("connection ended", logattr.Remote, c.RemoteAddr(), logattr.Err, err)
}

// serve accepts connections on ln until ctx is canceled, then shuts down
// gracefully: it stops accepting, closes every WebSocket with 1001 and
// waits, bounded by shutdownTimeout, for the close handshakes to finish.
// It returns nil after a shutdown and the listener's error otherwise.
func (s *echoServer) serve(ctx context.Context, ln net.Listener) error {
	hs := httpserver.New(s, s.limits, s.log)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(httpserver.Listener(ln, s.log)) }()

	select {
	case err := <-errc:
		s.shutdown(context.Background(), hs)
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	s.shutdown(sctx, hs)
	<-errc // http.ErrServerClosed
	return nil
}

func (s *echoServer) shutdown(ctx context.Context, hs *http.Server) {
	s.mu.Lock()
	s.closing = true
	open := make([]*websocket.Conn, 0, len(s.conns))
	for c := range s.conns {
		open = append(open, c)
	}
	s.mu.Unlock()

	// Close waits for the peer's answer; do them all at once. The echo
	// loops see the peer's close and end, which is what wg waits for.
	var closers sync.WaitGroup
	defer closers.Wait()
	for _, c := range open {
		closers.Go(func() {
			err := c.Close(websocket.StatusGoingAway, "server shutting down")
			s.ended(c, err) // a connection read on readiness has no loop left to see it end
		})
	}
	if err := hs.Shutdown(ctx); err != nil {
		hs.Close()
	}

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		s.log.Debug("shutdown: dropping connections that did not answer the close", "count", len(s.conns))
		open = open[:0]
		for c := range s.conns {
			open = append(open, c)
		}
		s.mu.Unlock()
		for _, c := range open {
			s.ended(c, ctx.Err())
		}
		<-done
	}
	if s.poller != nil {
		s.poller.Close()
	}
}
