// Command echoserver is the server side of the Tether benchmark: a WebSocket
// echo server that sends every message back unchanged (same type, same
// bytes), built with the library named by -impl.
//
// Each implementation lives in its own file and is written the way its
// library recommends for speed and low memory; compression is off everywhere.
// The process prints "listening on ADDR" once it accepts connections and
// exposes nothing else, so every implementation is measured the same way from
// outside (/proc).
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
)

// impls maps an -impl name to its upgrade handler; each implementation file
// registers itself from init.
var impls = map[string]http.HandlerFunc{}

func register(name string, h http.HandlerFunc) { impls[name] = h }

func main() {
	impl := flag.String("impl", "", "implementation: "+strings.Join(names(), "|"))
	addr := flag.String("addr", "127.0.0.1:0", "TCP address to listen on")
	flag.Parse()
	h, ok := impls[*impl]
	if !ok {
		fmt.Fprintf(os.Stderr, "echoserver: unknown -impl %q (want %s)\n", *impl, strings.Join(names(), "|"))
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	// No timeouts: the upgrade handlers hijack the connection, and all
	// implementations share this exact server configuration.
	log.Fatal((&http.Server{Handler: h}).Serve(ln))
}

func names() []string {
	n := make([]string, 0, len(impls))
	for k := range impls {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// readMessage reads r to EOF into buf[:0], growing buf only when a message
// does not fit, so that a connection reuses one buffer for all its messages
// and an idle connection that never received one holds none.
func readMessage(r io.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // let append pick the growth
			if cap(buf) < 512 {
				buf = make([]byte, 0, 512)
			}
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
