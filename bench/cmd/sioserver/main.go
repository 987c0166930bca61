// Command sioserver is the Go server side of the Socket.IO benchmarks: the
// same tiny app built with the Socket.IO server named by -impl. In namespace
// "/":
//
//	message(args...)               emits message-back(args...) to the sender
//	message-with-ack(args..., ack) acknowledges with args...
//	broadcast(args...)             emits broadcast-back(args...) to every other socket
//
// Each implementation lives in its own file and keeps its library's default
// production settings: path /socket.io/, polling and websocket transports,
// heartbeat every 25 s with a 20 s timeout, no per-message compression. The
// process prints "listening on ADDR" once it accepts connections and exposes
// nothing else, so every implementation, and the Node peer
// (bench/node/sio-server.mjs), is measured the same way from outside (/proc).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
)

// impls maps an -impl name to the constructor of its Socket.IO handler, to
// be mounted at /socket.io/; each implementation file registers itself from
// init.
var impls = map[string]func() http.Handler{}

func register(name string, newHandler func() http.Handler) { impls[name] = newHandler }

func main() {
	impl := flag.String("impl", "", "implementation: "+strings.Join(names(), "|"))
	addr := flag.String("addr", "127.0.0.1:0", "TCP address to listen on")
	flag.Parse()
	newHandler, ok := impls[*impl]
	if !ok {
		fmt.Fprintf(os.Stderr, "sioserver: unknown -impl %q (want %s)\n", *impl, strings.Join(names(), "|"))
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", newHandler())
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	// No timeouts: long-polling requests and upgraded connections outlive
	// any sensible one, and all implementations share this configuration.
	log.Fatal((&http.Server{Handler: mux}).Serve(ln))
}

func names() []string {
	n := make([]string, 0, len(impls))
	for k := range impls {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
