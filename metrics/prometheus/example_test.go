package prometheus_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	tetherprom "github.com/tether-rt/tether/metrics/prometheus"
	"github.com/tether-rt/tether/socketio"
)

// A server observed on a registry of its own, served at /metrics, and a client connected.
func Example() {
	reg := prometheus.NewRegistry()
	obs, err := tetherprom.New(reg, nil)
	if err != nil {
		log.Fatal(err)
	}
	io := socketio.NewServer(&socketio.ServerOptions{Observer: obs})
	srv := httptest.NewServer(io)
	defer srv.Close()
	defer io.Shutdown(context.Background())
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer metrics.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := socketio.Dial(ctx, srv.URL, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	resp, err := http.Get(metrics.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "tether_socketio_connected_sockets") {
			fmt.Println(lines.Text())
		}
	}
	// Output:
	// tether_socketio_connected_sockets{namespace="/"} 1
}
