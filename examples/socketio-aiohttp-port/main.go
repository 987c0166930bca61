// Socketio-aiohttp-port is python-socketio's aiohttp tutorial server in Go:
// it serves a page that sends "message" events, and prints the socket ID and
// the message of each one, as the tutorial's print_message does.
//
// The page loads the official Socket.IO browser client from
// /socket.io/socket.io.min.js, which this server reads from --client-dir.
// The bundle is not part of the repository; from the repository root,
// "cd web && npm ci" installs it where the default --client-dir looks.
//
//	go run ./examples/socketio-aiohttp-port
//
// then open http://localhost:8080 and send a message.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tether-rt/tether/socketio"
)

//go:embed index.html
var indexHTML []byte

// bundleName is the socket.io-client build the page loads.
const bundleName = "socket.io.min.js"

func main() {
	addr := flag.String("addr", "localhost:8080", "listen on this `host:port`")
	clientDir := flag.String("client-dir", "web/node_modules/socket.io-client/dist",
		"`folder` holding "+bundleName+" (the dist folder of the socket.io-client npm package)")
	flag.Parse()

	if _, err := os.Stat(filepath.Join(*clientDir, bundleName)); err != nil {
		log.Printf("no Socket.IO client bundle: %v", err)
		log.Printf("install it with `cd web && npm ci` from the repository root, or point --client-dir at node_modules/socket.io-client/dist")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on http://%s", ln.Addr())
	if err := run(ctx, ln, os.Stdout, *clientDir); err != nil {
		log.Fatal(err)
	}
}

// run serves the tutorial on ln until ctx ends, then shuts down gracefully.
// Each message is printed to out.
func run(ctx context.Context, ln net.Listener, out io.Writer, clientDir string) error {
	sio := socketio.NewServer(nil)
	sio.Of("/").On("message", func(s *socketio.Socket, message any) {
		fmt.Fprintf(out, "Socket ID: %s\n%v\n", s.ID(), message)
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	// More specific than /socket.io/, so the bundle does not reach the
	// Socket.IO server; Node's socket.io serves it from the same place.
	mux.HandleFunc("GET /socket.io/"+bundleName, func(w http.ResponseWriter, r *http.Request) {
		path := filepath.Join(clientDir, bundleName)
		if _, err := os.Stat(path); err != nil {
			http.Error(w, "socket.io-client is not installed: run `cd web && npm ci` from the repository root, "+
				"or start the server with --client-dir pointing at node_modules/socket.io-client/dist", http.StatusNotFound)
			return
		}
		http.ServeFile(w, r, path)
	})
	mux.Handle("/socket.io/", sio)

	return serve(ctx, ln, mux, sio)
}

// serve runs srv on ln until ctx ends. The Socket.IO server shuts down
// first: it ends the long-polling requests that http.Server.Shutdown would
// otherwise wait for.
func serve(ctx context.Context, ln net.Listener, h http.Handler, sio *socketio.Server) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       30 * time.Second, // longer than the ping interval: polling clients keep their connection
		MaxHeaderBytes:    12 << 10,         // net/http reads 4 KiB more: request heads up to 16 KiB, as Node
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := errors.Join(sio.Shutdown(shutdownCtx), srv.Shutdown(shutdownCtx))
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
