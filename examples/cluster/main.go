// Cluster is a chat served by several processes at once: each runs one node,
// and the nodes share a Redis server through the Redis adapter, so a message
// sent to any node reaches the users of every node.
//
//	redis-server --port 6379 --save ''
//	go run ./examples/cluster -addr localhost:8081 -name north
//	go run ./examples/cluster -addr localhost:8082 -name south
//
// then open http://localhost:8081 in one tab and http://localhost:8082 in
// another. The page loads the official Socket.IO browser client from
// /socket.io/socket.io.min.js, read from -client-dir ("cd web && npm ci" from
// the repository root installs it where the default looks). README.md shows
// how to put the nodes behind a load balancer.
//
// Events from the client: "chat message" (text); "online" with an ack
// telling which nodes and how many users the cluster has. Events to the
// client: "welcome" ({node}) on connection, "chat message" ({node, from, text}).
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/socketio"
)

//go:embed index.html
var indexHTML []byte

const bundleName = "socket.io.min.js"

func main() {
	addr := flag.String("addr", "localhost:8080", "listen on this `host:port`")
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/0", "the Redis server the nodes share, as a `URL`")
	name := flag.String("name", "", "this node's `name` (default: node-PORT)")
	clientDir := flag.String("client-dir", "web/node_modules/socket.io-client/dist",
		"`folder` holding "+bundleName+" (the dist folder of the socket.io-client npm package)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *name == "" {
		*name = "node-" + portOf(ln)
	}
	log.Printf("node %s listening on http://%s", *name, ln.Addr())
	if err := run(ctx, ln, config{redisURL: *redisURL, name: *name, clientDir: *clientDir}); err != nil {
		log.Fatal(err)
	}
}

// config holds a node's settings.
type config struct {
	redisURL  string // redis://host:port/db
	name      string // the node's name, shown to its users
	clientDir string // where socket.io.min.js is read from
}

// chatMessage is the payload of a "chat message" to the clients.
type chatMessage struct {
	Node string `json:"node"` // the node the sender is connected to
	From string `json:"from"` // the sender's socket id
	Text string `json:"text"`
}

// online is the ack of "online".
type online struct {
	Nodes []string `json:"nodes,omitempty"`
	Users int      `json:"users"`
	Error string   `json:"error,omitempty"`
}

// run serves one node of the chat on ln until ctx ends, then shuts down.
func run(ctx context.Context, ln net.Listener, cfg config) error {
	opt, err := goredis.ParseURL(cfg.redisURL)
	if err != nil {
		return err
	}
	rdb := goredis.NewClient(opt)
	// The Redis client outlives the server, whose adapter uses it until Shutdown.
	defer rdb.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		log.Printf("warning: Redis at %s: %v; starting anyway, the adapter connects once it is up", opt.Addr, err)
	}
	cancel()

	sio := socketio.NewServer(&socketio.ServerOptions{Adapter: redis.NewAdapter(rdb, nil)})
	nsp := sio.Of("/")
	// Other nodes ask for the names of the nodes of the cluster.
	nsp.OnServerSideEmit("name", func() string { return cfg.name })
	nsp.OnConnect(func(s *socketio.Socket) {
		_ = s.Emit("welcome", map[string]string{"node": cfg.name})
	})
	nsp.On("chat message", func(s *socketio.Socket, text string) {
		if text != "" {
			// To every user of every node, sender included, so that all see the
			// messages in one order.
			_ = nsp.Emit("chat message", chatMessage{Node: cfg.name, From: s.ID(), Text: text})
		}
	})
	nsp.On("online", func() online { return whoIsOnline(ctx, nsp, cfg.name) })

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	mux.HandleFunc("GET /socket.io/"+bundleName, func(w http.ResponseWriter, r *http.Request) {
		path := filepath.Join(cfg.clientDir, bundleName)
		if _, err := os.Stat(path); err != nil {
			http.Error(w, "socket.io-client is not installed: run `cd web && npm ci` from the repository root, "+
				"or start the node with -client-dir pointing at node_modules/socket.io-client/dist", http.StatusNotFound)
			return
		}
		http.ServeFile(w, r, path)
	})
	mux.Handle("/socket.io/", sio)
	return serve(ctx, ln, mux, sio)
}

// whoIsOnline asks the other nodes for their names and counts the users of
// the whole cluster.
func whoIsOnline(ctx context.Context, nsp *socketio.Namespace, self string) online {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	answers, err := nsp.ServerSideEmitWithAck(ctx, "name")
	if err != nil {
		return online{Error: err.Error()}
	}
	res := online{Nodes: []string{self}}
	for _, a := range answers {
		var name string
		if a.Decode(&name) == nil {
			res.Nodes = append(res.Nodes, name)
		}
	}
	slices.Sort(res.Nodes)
	sockets, err := nsp.FetchSockets(ctx)
	if err != nil {
		return online{Error: err.Error()}
	}
	res.Users = len(sockets)
	return res
}

// serve runs an HTTP server for h on ln until ctx ends. The Socket.IO
// server shuts down first: it ends the long-polling requests that
// http.Server.Shutdown would otherwise wait for, and closes the adapter.
func serve(ctx context.Context, ln net.Listener, h http.Handler, sio *socketio.Server) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       30 * time.Second, // longer than the ping interval: polling clients keep their connection
		MaxHeaderBytes:    12 << 10,         // net/http reads 4 KiB more: request heads up to 16 KiB, as Node
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := errors.Join(sio.Shutdown(shutdownCtx), srv.Shutdown(shutdownCtx))
	if serveErr == nil {
		serveErr = <-errc
	}
	if !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// portOf returns the port ln listens on.
func portOf(ln net.Listener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
