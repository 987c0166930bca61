// Stock-ticker streams made-up share prices over Socket.IO. Each symbol has
// a room; a ticker moves every price by a small random step twice a second
// and sends it to the symbol's room as a volatile event: a client that cannot
// keep up skips a price rather than queueing stale ones.
//
//	go run ./examples/stock-ticker
//
// then open http://localhost:8080. The page loads the official Socket.IO
// browser client from /socket.io/socket.io.min.js, read from --client-dir;
// from the repository root, "cd web && npm ci" installs it where the default
// looks.
//
// On connection the server sends "symbols" ([{symbol, price}]). Events from
// the client: "subscribe" (symbol) and "unsubscribe" (symbol), each acked
// with {symbol, price} or {error}. Events to the client: "price"
// ({symbol, price, time}), time in Unix milliseconds.
package main

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"flag"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/tether-rt/tether/socketio"
)

//go:embed index.html
var indexHTML []byte

const bundleName = "socket.io.min.js"

func main() {
	addr := flag.String("addr", "localhost:8080", "listen on this `host:port`")
	clientDir := flag.String("client-dir", "web/node_modules/socket.io-client/dist",
		"`folder` holding "+bundleName+" (the dist folder of the socket.io-client npm package)")
	tick := flag.Duration("tick", 500*time.Millisecond, "time between price moves")
	flag.Parse()
	if *tick <= 0 {
		log.Fatal("--tick must be positive")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on http://%s", ln.Addr())
	if err := run(ctx, ln, *clientDir, *tick); err != nil {
		log.Fatal(err)
	}
}

// quote is one symbol's price, the payload of "price" and of the acks.
type quote struct {
	Symbol string  `json:"symbol"`
	Price  float64 `json:"price"`
	Time   int64   `json:"time,omitempty"` // Unix milliseconds, in "price" only
}

// reply is the ack of "subscribe" and "unsubscribe".
type reply struct {
	*quote
	Error string `json:"error,omitempty"`
}

// market holds the current prices.
type market struct {
	mu     sync.Mutex
	prices map[string]float64
	rng    *rand.Rand
}

func newMarket() *market {
	return &market{
		prices: map[string]float64{"ACME": 112.50, "GLOBEX": 48.20, "INITECH": 17.05, "UMBRELLA": 230.00},
		rng:    rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
}

// symbols returns every quote, sorted by symbol.
func (m *market) symbols() []quote {
	m.mu.Lock()
	defer m.mu.Unlock()
	qs := make([]quote, 0, len(m.prices))
	for s, p := range m.prices {
		qs = append(qs, quote{Symbol: s, Price: p})
	}
	slices.SortFunc(qs, func(a, b quote) int { return cmp.Compare(a.Symbol, b.Symbol) })
	return qs
}

func (m *market) price(symbol string) (float64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.prices[symbol]
	return p, ok
}

// step moves every price by a random factor of about ±0.5% (a geometric
// random walk, so prices stay positive) and returns the new quotes.
func (m *market) step(now time.Time) []quote {
	m.mu.Lock()
	defer m.mu.Unlock()
	qs := make([]quote, 0, len(m.prices))
	for s, p := range m.prices {
		p = math.Round(p*math.Exp(0.005*m.rng.NormFloat64())*100) / 100
		p = max(p, 0.01)
		m.prices[s] = p
		qs = append(qs, quote{Symbol: s, Price: p, Time: now.UnixMilli()})
	}
	return qs
}

// room is the room of a symbol's subscribers.
func room(symbol string) string { return "symbol:" + symbol }

// run serves the ticker on ln until ctx ends, moving prices every tick, then
// shuts down gracefully.
func run(ctx context.Context, ln net.Listener, clientDir string, tick time.Duration) error {
	m := newMarket()
	sio := socketio.NewServer(nil)
	nsp := sio.Of("/")
	nsp.OnConnect(func(s *socketio.Socket) {
		_ = s.Emit("symbols", m.symbols())
	})
	nsp.On("subscribe", func(s *socketio.Socket, symbol string) reply {
		p, ok := m.price(symbol)
		if !ok {
			return reply{Error: "unknown symbol " + symbol}
		}
		s.Join(room(symbol))
		return reply{quote: &quote{Symbol: symbol, Price: p}}
	})
	nsp.On("unsubscribe", func(s *socketio.Socket, symbol string) reply {
		p, ok := m.price(symbol)
		if !ok {
			return reply{Error: "unknown symbol " + symbol}
		}
		s.Leave(room(symbol))
		return reply{quote: &quote{Symbol: symbol, Price: p}}
	})

	var wg sync.WaitGroup
	tickCtx, stopTicker := context.WithCancel(ctx)
	defer func() {
		stopTicker()
		wg.Wait()
	}()
	wg.Go(func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-tickCtx.Done():
				return
			case now := <-t.C:
				for _, q := range m.step(now) {
					_ = nsp.To(room(q.Symbol)).Volatile().Emit("price", q)
				}
			}
		}
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
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

// serve runs an HTTP server for h on ln until ctx ends. The Socket.IO
// server shuts down first: it ends the long-polling requests that
// http.Server.Shutdown would otherwise wait for.
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
