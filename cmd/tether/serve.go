package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tether-rt/tether/internal/httpserver"
	"github.com/tether-rt/tether/internal/logattr"
	"github.com/tether-rt/tether/socketio"
	"github.com/tether-rt/tether/socketio/admin"
	"github.com/tether-rt/tether/web"
)

// defaultClientDir is where "npm ci" in web/ puts the socket.io-client
// browser bundle, relative to the repository root; see bundleSearch for where
// an omitted --client-dir is looked for.
const defaultClientDir = "web/node_modules/socket.io-client/dist"

// clientBundle is the file the demo page loads; clientFiles are all the
// files served under /socket.io/, as Node's Socket.IO server does.
const clientBundle = "socket.io.min.js"

var clientFiles = map[string]string{
	"socket.io.js":         "text/javascript; charset=utf-8",
	"socket.io.js.map":     "application/json",
	"socket.io.min.js":     "text/javascript; charset=utf-8",
	"socket.io.min.js.map": "application/json",
}

// installHint says how to get the bundle; the page says the same.
const installHint = `run "make run" from the repository root, or "npm ci" in web/`

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen on this `host:port`")
	clientDir := fs.String("client-dir", "", "`directory` holding the socket.io-client browser bundle ("+clientBundle+");\n"+
		"default: "+defaultClientDir+" in the working directory, in the Tether clone\n"+
		"that holds it, in the clone this binary was built from, or in the clone that holds the binary")
	logFlags := addLogFlags(fs)
	allowedHosts := fs.String("allowed-hosts", "", "comma-separated Host `names` the Socket.IO endpoint answers (patterns such as *.example.com;\n"+
		"default: localhost,127.0.0.1,::1 when --addr is a loopback address, any host otherwise)")
	metricsAddr := addMetricsFlag(fs)
	clusterFlags := addClusterFlags(fs)
	limits := addLimitFlags(fs)
	adminF := addAdminFlags(fs)
	fs.Usage = usageFunc(fs, "tether serve [flags]",
		"Runs the demo: a chat page over Socket.IO. Open it in two browser tabs; a message\n"+
			"sent in one appears in the other, and the server prints it as\n"+
			"\n"+
			"\tSocket ID: <id of the sender>\n"+
			"\t<message>\n"+
			"\n"+
			"The page loads the official socket.io-client bundle from --client-dir, which\n"+
			"\"npm ci\" in web/ installs (\"make run\" does it, then starts this command).\n"+
			"\n"+
			clusterUsage+" A message sent on a page\n"+
			"served by one node then reaches the pages of every node.\n"+
			"\n"+
			limitsUsage+"\n"+
			"\n"+
			"On a loopback address the Socket.IO endpoint answers only requests for\n"+
			"localhost, 127.0.0.1 or ::1, so that a web page on a domain that an attacker\n"+
			"points at 127.0.0.1 (DNS rebinding) cannot talk to it; --allowed-hosts names others.\n"+
			"\n"+
			metricsUsage+"\n"+
			adminUsage+"\n"+
			"\n"+
			"Runs until SIGINT or SIGTERM, then closes every session and exits.")
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tether serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if !checkLimits("serve", limits, stderr) {
		return 2
	}
	logger, err := logFlags.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tether serve: %v\n", err)
		return 2
	}
	if *clientDir == "" {
		dir, searched := currentBundleSearch().find()
		if dir == "" {
			// Still serve, from the first place looked in: the page explains what is missing,
			// and installing the bundle there needs no restart.
			dir = searched[0]
			fmt.Fprintf(stderr, "tether serve: no Socket.IO client bundle found (looked in %s): "+
				"run \"npm ci\" in the web/ folder of a Tether clone (\"make run\" does), "+
				"or pass --client-dir with the folder holding %s (in a clone: %s)\n",
				strings.Join(searched, ", "), clientBundle, defaultClientDir)
		}
		*clientDir = dir
	} else if bundle := filepath.Join(*clientDir, clientBundle); !fileExists(bundle) {
		// Still serve: the page explains what is missing.
		fmt.Fprintf(stderr, "tether serve: no Socket.IO client bundle at %s: %s, then reload the page\n", bundle, installHint)
	}

	metrics, err := openMetrics(*metricsAddr)
	if err != nil {
		fmt.Fprintf(stderr, "tether serve: --metrics: %v\n", err)
		return 1
	}
	defer metrics.close() // in case the main listener fails; closing it twice is harmless
	adminCfg, err := adminF.config(*addr, *clientDir, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tether serve: %v\n", err)
		return 2
	}

	cfg := demoConfig{
		observer:     metrics.observer(),
		admin:        adminCfg,
		clientDir:    *clientDir,
		stdout:       stdout,
		logger:       logger,
		limits:       *limits,
		allowedHosts: hostList(*allowedHosts, *addr),
	}
	cl, ok := clusterFlags.open(ctx, "serve", cfg.logger, stderr)
	if !ok {
		return 2
	}
	defer cl.close() // after the server's shutdown, which closes the adapters

	return listenAndServe(ctx, "serve", "http", *addr, func(ctx context.Context, ln net.Listener) error {
		if cl != nil {
			cl.listening("serve", ln, stdout)
			cl.obs = metrics.redisObserver()
			cfg.adapter = cl.adapter(cfg.logger)
		}
		d, err := newDemoServer(cfg).withAdmin(cfg.admin)
		if err != nil {
			return err
		}
		if cfg.admin != nil {
			fmt.Fprintf(stdout, "tether serve: Admin UI on http://%s%s (server URL http://%s, namespace /admin)\n",
				ln.Addr(), adminPrefix, ln.Addr())
		}
		defer metrics.serve("serve", *limits, cfg.logger, stdout)()
		return d.serve(ctx, ln)
	}, stdout, stderr)
}

// fileExists reports whether path is a file that can be stat'ed.
func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// hostList returns the hosts of an --allowed-hosts flag: its comma-separated names, or when it
// is empty, the loopback names for a loopback listen address and nil (any host) otherwise.
func hostList(flag, addr string) []string {
	if flag == "" {
		if isLoopbackAddr(addr) {
			return []string{"localhost", "127.0.0.1", "::1"} // the names of a loopback address
		}
		return nil
	}
	var hosts []string
	for h := range strings.SplitSeq(flag, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// demoConfig holds the settings of a demoServer.
type demoConfig struct {
	clientDir string    // where the socket.io-client bundle is read from
	stdout    io.Writer // where received messages are printed
	logger    *slog.Logger
	limits    httpserver.Limits // of the HTTP server; zero fields take their defaults
	// allowedHosts are the Host header values the Socket.IO endpoint answers; nil means any.
	allowedHosts []string
	// adapter, when set, makes the namespaces' adapters: the Redis adapter of a cluster.
	adapter func(socketio.AdapterHost) socketio.Adapter
	// observer, when set, is the Socket.IO server's Observer (--metrics).
	observer socketio.Observer
	// admin, when set, instruments the demo for the Admin UI and serves the UI.
	admin *adminConfig
}

// demoServer is "tether serve": the page of package web, the
// socket.io-client bundle and a Socket.IO chat that prints every message.
type demoServer struct {
	sio       *socketio.Server
	pages     http.Handler
	clientDir string
	log       *slog.Logger
	limits    httpserver.Limits
	admin     *admin.Admin // nil without --admin
	adminUI   http.Handler // the Admin UI's files, under /admin/

	mu     sync.Mutex // keeps a message's two lines together
	stdout io.Writer
}

func newDemoServer(cfg demoConfig) *demoServer {
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &demoServer{
		pages:     http.FileServerFS(web.FS()),
		clientDir: cfg.clientDir,
		log:       log,
		limits:    cfg.limits,
		stdout:    cfg.stdout,
	}
	// Same-origin only: the page is served from here.
	d.sio = socketio.NewServer(&socketio.ServerOptions{Path: socketIOPath, Logger: log, Adapter: cfg.adapter,
		AllowedHosts: cfg.allowedHosts, Observer: cfg.observer})
	root := d.sio.Of("/")
	root.OnConnect(func(s *socketio.Socket) { log.Debug("connected", logattr.Socket, s.ID()) })
	root.OnDisconnect(func(s *socketio.Socket, reason socketio.DisconnectReason) {
		log.Debug("disconnected", logattr.Socket, s.ID(), logattr.Reason, string(reason))
	})
	root.On("message", d.message)
	return d
}

// withAdmin instruments the demo for the Admin UI and serves the UI, when cfg is not nil.
func (d *demoServer) withAdmin(cfg *adminConfig) (*demoServer, error) {
	if cfg == nil {
		return d, nil
	}
	var err error
	d.admin, d.adminUI, err = cfg.instrument(d.sio)
	return d, err
}

// message prints a chat message the way the tutorial's print_message does
// and relays it, with its sender's id, to every other page.
func (d *demoServer) message(s *socketio.Socket, msg any) {
	d.mu.Lock()
	fmt.Fprintf(d.stdout, "Socket ID: %s\n%s\n", s.ID(), printable(msg))
	d.mu.Unlock()
	if err := s.Broadcast().Emit("message", s.ID(), msg); err != nil {
		d.log.Warn("relaying a message", logattr.Socket, s.ID(), logattr.Err, err)
	}
}

// printable renders a message as print() would: text as is, binary by its
// size, anything else as JSON.
func printable(msg any) string {
	switch m := msg.(type) {
	case string:
		return m
	case []byte:
		return fmt.Sprintf("<%d bytes of binary data>", len(m))
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Sprint(msg)
	}
	return string(b)
}

// ServeHTTP serves the client bundle under /socket.io/ (before the
// Socket.IO endpoint, which shares the path), Socket.IO, and the page.
func (d *demoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if name, ok := strings.CutPrefix(r.URL.Path, socketIOPath); ok {
		if ctype, ok := clientFiles[name]; ok {
			d.serveClient(w, r, name, ctype)
			return
		}
		d.sio.ServeHTTP(w, r)
		return
	}
	if d.adminUI != nil && (strings.HasPrefix(r.URL.Path, adminPrefix) || r.URL.Path+"/" == adminPrefix) {
		d.adminUI.ServeHTTP(w, r)
		return
	}
	d.pages.ServeHTTP(w, r)
}

// serveClient serves one file of the bundle, read at each request so that
// installing it needs no restart of a running server.
func (d *demoServer) serveClient(w http.ResponseWriter, r *http.Request, name, ctype string) {
	f, err := os.Open(filepath.Join(d.clientDir, name))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			d.log.Warn("client bundle", logattr.Err, err)
		}
		http.Error(w, "socket.io-client is not installed: "+installHint, http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.Error(w, "socket.io-client is not installed: "+installHint, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", ctype)
	http.ServeContent(w, r, name, st.ModTime(), f)
}

// serve accepts connections on ln until ctx is canceled, then closes every
// Socket.IO session and shuts down, as testServer.serve does.
func (d *demoServer) serve(ctx context.Context, ln net.Listener) error {
	return serveSessions(ctx, ln, d, d.limits, d.log, d.shutdown)
}

// shutdown stops the admin reports, then the Socket.IO server.
func (d *demoServer) shutdown(ctx context.Context) error {
	if d.admin != nil {
		_ = d.admin.Close(ctx) // only its own goroutines; the server's shutdown follows regardless
	}
	return d.sio.Shutdown(ctx)
}
