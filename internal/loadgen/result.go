package loadgen

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Result is what a run measured. Its JSON form is the output of "tether bench --json".
type Result struct {
	Scenario   Scenario     `json:"scenario"`
	URL        string       `json:"url"`
	Conns      int          `json:"conns"`
	Size       int          `json:"size"`
	Inflight   int          `json:"inflight"`
	Workers    int          `json:"workers"`
	Sources    int          `json:"sources"`
	Seconds    float64      `json:"seconds"`     // length of the measured window
	Ops        int64        `json:"ops"`         // echoes, acks, deliveries, handshakes, or open connections
	OpsPerSec  float64      `json:"ops_per_sec"` // Ops / Seconds
	Broadcasts int64        `json:"broadcasts,omitempty"`
	Latency    *Latency     `json:"latency_us,omitempty"`
	Errors     int64        `json:"errors"`
	FirstError string       `json:"first_error,omitempty"`
	Server     *ServerUsage `json:"server,omitempty"`
}

// Latency summarises a histogram, in microseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

func latencyOf(h *Histogram) *Latency {
	if h.Count() == 0 {
		return nil
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	return &Latency{Mean: us(h.Mean()), P50: us(h.Quantile(0.5)), P99: us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)), Max: us(h.Max())}
}

// ServerUsage is what the server process used, read from /proc.
type ServerUsage struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"`             // user + system, in the measured window
	CPUPerOp   float64 `json:"cpu_us_per_op,omitempty"` // µs
	RSSBefore  int64   `json:"rss_kib_before"`
	RSSAfter   int64   `json:"rss_kib_after"`
	KiBPerConn float64 `json:"kib_per_conn,omitempty"` // idle: RSS growth per open connection
}

// opNames is what one op and several are in the scenario's words.
func (s Scenario) opNames() (one, many string) {
	switch s {
	case WSEcho, SIOEcho:
		return "echo", "echoes"
	case SIOAck:
		return "ack", "acks"
	case Broadcast:
		return "delivery", "deliveries"
	case Connect:
		return "handshake", "handshakes"
	default:
		return "connection", "connections"
	}
}

// WriteTable writes the result as a small aligned table for people.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("scenario", "%s  %s", r.Scenario, r.URL)
	row("connections", "%d over %d worker process(es), %d source address(es)", r.Conns, r.Workers, r.Sources)
	if r.Scenario != Idle && r.Scenario != Connect {
		row("message", "%d bytes, %d in flight", r.Size, r.Inflight)
	}
	one, many := r.Scenario.opNames()
	if r.Scenario != Idle {
		row(many, "%d in %.2fs: %s/s", r.Ops, r.Seconds, human(r.OpsPerSec))
	} else {
		row("open", "%d", r.Ops)
	}
	if r.Broadcasts > 0 {
		row("broadcasts", "%d", r.Broadcasts)
	}
	if l := r.Latency; l != nil {
		what := "latency"
		if r.Scenario == Broadcast {
			what = "send to last delivery"
		}
		row(what, "p50 %s  p99 %s  p99.9 %s  max %s  mean %s", us(l.P50), us(l.P99), us(l.P999), us(l.Max), us(l.Mean))
	}
	row("errors", "%d%s", r.Errors, map[bool]string{true: "  (first: " + r.FirstError + ")"}[r.FirstError != ""])
	if s := r.Server; s != nil {
		if r.Scenario == Idle {
			row("server memory", "%s KiB before, %s KiB after: %.2f KiB per connection", human(float64(s.RSSBefore)), human(float64(s.RSSAfter)), s.KiBPerConn)
		} else {
			row("server CPU", "%.2fs: %.2f µs per %s; RSS %s KiB", s.CPUSeconds, s.CPUPerOp, one, human(float64(s.RSSAfter)))
		}
	}
	return tw.Flush()
}

func us(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1fms", v/1000)
	}
	return fmt.Sprintf("%.0fµs", v)
}

// human formats a count with a k or M suffix.
func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}
