package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/internal/httpserver"
	tetherprom "github.com/tether-rt/tether/metrics/prometheus"
	"github.com/tether-rt/tether/socketio"
)

// metricsUsage is the help text of --metrics, shared by the commands that take it.
const metricsUsage = "With --metrics, a listener of its own serves Prometheus metrics at /metrics: the\n" +
	"tether_ metrics of package metrics/prometheus for the Socket.IO server (and, with\n" +
	"--redis, its adapter), the Go runtime's and the process's."

// addMetricsFlag adds --metrics to fs.
func addMetricsFlag(fs *flag.FlagSet) *string {
	return fs.String("metrics", "", "also serve Prometheus metrics at /metrics on this `host:port` (default off)")
}

// metricsEndpoint is the --metrics listener and the registry it serves.
type metricsEndpoint struct {
	ln  net.Listener
	reg *prometheus.Registry
	obs *tetherprom.Observer
}

// openMetrics listens on addr for --metrics; nil when addr is empty. It listens before the
// server starts, so that a taken address is reported at once and nothing is served.
func openMetrics(addr string) (*metricsEndpoint, error) {
	if addr == "" {
		return nil, nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	obs, err := tetherprom.New(reg, nil)
	if err != nil {
		return nil, err // a fresh registry refuses nothing; kept for the signature's sake
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &metricsEndpoint{ln: ln, reg: reg, obs: obs}, nil
}

// observer returns the Observer to give the Socket.IO server: nil without --metrics (a nil
// *Observer in the interface would not be nil).
func (m *metricsEndpoint) observer() socketio.Observer {
	if m == nil {
		return nil
	}
	return m.obs
}

// redisObserver returns the Observer to give the Redis adapter: nil without --metrics.
func (m *metricsEndpoint) redisObserver() redis.Observer {
	if m == nil {
		return nil
	}
	return m.obs
}

// close closes the listener, in case the server never started.
func (m *metricsEndpoint) close() {
	if m != nil {
		m.ln.Close()
	}
}

// serve serves /metrics until stop is called, after saying where on stdout.
func (m *metricsEndpoint) serve(cmd string, limits httpserver.Limits, log *slog.Logger, stdout io.Writer) (stop func()) {
	if m == nil {
		return func() {}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	stop = serveDebug(m.ln, mux, limits, log)
	fmt.Fprintf(stdout, "tether %s: metrics on http://%s/metrics\n", cmd, m.ln.Addr())
	return stop
}
