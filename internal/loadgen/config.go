package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// Scenario names a kind of load.
type Scenario string

// The scenarios. Their Socket.IO events default to those of Tether's test
// server (and of the bench/ peers): message → message-back,
// message-with-ack → ack, broadcast → broadcast-back to every other socket.
const (
	// WSEcho: every connection sends a binary message and waits for the same bytes back.
	WSEcho Scenario = "ws-echo"
	// SIOEcho: every socket emits Event with a string and waits for Reply with the same string.
	SIOEcho Scenario = "sio-echo"
	// SIOAck: every socket emits Event with a string and an ack id, and waits for the ack with the same string.
	SIOAck Scenario = "sio-ack"
	// Broadcast: Conns idle subscribers and one publisher, which emits Event; every
	// subscriber must receive Reply. An op is one delivery; latency is from the
	// publisher's send to the last subscriber's receipt.
	Broadcast Scenario = "broadcast"
	// Connect: Conns loops open connections (WebSocket handshake, and for Socket.IO
	// the Engine.IO open and the namespace CONNECT), then close them, or with Hold
	// keep them until Total are open.
	Connect Scenario = "connect"
	// Idle: Conns silent connections; with PID, the server's memory per connection.
	Idle Scenario = "idle"
)

// Scenarios lists every scenario.
var Scenarios = []Scenario{WSEcho, SIOEcho, SIOAck, Broadcast, Connect, Idle}

// Config describes one run. Durations travel to worker processes as JSON.
type Config struct {
	Scenario  Scenario `json:"scenario"`
	URL       string   `json:"url"`
	Path      string   `json:"path,omitempty"`      // Socket.IO endpoint path; default /socket.io/
	Namespace string   `json:"namespace,omitempty"` // default /
	Event     string   `json:"event,omitempty"`
	Reply     string   `json:"reply,omitempty"`
	Proto     string   `json:"proto,omitempty"` // connect and idle: "ws" or "sio" (default)
	Conns     int      `json:"conns"`
	Total     int      `json:"total,omitempty"` // connect with Hold: connections to open
	Hold      bool     `json:"hold,omitempty"`
	Size      int      `json:"size"`
	Inflight  int      `json:"inflight"`
	// Interval, for broadcasts, sends one broadcast every Interval (open loop)
	// instead of Inflight at a time as fast as they complete.
	Interval time.Duration `json:"interval,omitempty"`
	Duration time.Duration `json:"duration"`
	Warmup   time.Duration `json:"warmup"`
	Settle   time.Duration `json:"settle,omitempty"`
	PID      int           `json:"pid,omitempty"`
	Workers  int           `json:"workers"`
	Sources  int           `json:"sources"`
	// HandshakeTimeout bounds opening one connection: TCP, WebSocket and, for
	// Socket.IO, the Engine.IO open packet and the namespace's CONNECT.
	HandshakeTimeout time.Duration `json:"handshake_timeout"`

	host string // host:port, from URL
}

// perWorkerConns is how many connections one worker process holds at most by
// default: well under the 20,000 open files a process may have here.
const perWorkerConns = 10000

// Normalize fills in defaults and checks the configuration.
func (c *Config) Normalize() error {
	known := false
	for _, s := range Scenarios {
		known = known || s == c.Scenario
	}
	if !known {
		return fmt.Errorf("unknown scenario %q (one of %v)", c.Scenario, Scenarios)
	}
	if c.Proto == "" {
		c.Proto = "sio"
		if c.Scenario == WSEcho {
			c.Proto = "ws"
		}
	}
	switch {
	case c.Proto != "ws" && c.Proto != "sio":
		return fmt.Errorf("--proto must be ws or sio, not %q", c.Proto)
	case c.Scenario == WSEcho && c.Proto != "ws",
		(c.Scenario == SIOEcho || c.Scenario == SIOAck || c.Scenario == Broadcast) && c.Proto != "sio":
		return fmt.Errorf("scenario %s needs --proto %s", c.Scenario, map[bool]string{true: "ws", false: "sio"}[c.Scenario == WSEcho])
	}
	if c.URL == "" {
		c.URL = "http://127.0.0.1:3000"
		if c.Proto == "ws" {
			c.URL = "ws://127.0.0.1:8765/"
		}
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	switch u.Scheme {
	case "ws", "http":
	case "wss", "https":
		return errors.New("--url: TLS is not supported by the load generator; measure over ws:// or http://")
	default:
		return fmt.Errorf("--url %q: expected ws:// or http://", c.URL)
	}
	c.host = u.Host
	if u.Port() == "" {
		c.host = net.JoinHostPort(u.Hostname(), "80")
	}
	if c.Proto == "ws" {
		if c.Path == "" {
			c.Path = u.RequestURI()
		}
	} else if c.Path == "" {
		c.Path = "/socket.io/"
	}
	if c.Namespace == "" {
		c.Namespace = "/"
	}
	if c.Namespace[0] != '/' {
		return fmt.Errorf("--namespace %q must start with /", c.Namespace)
	}
	switch c.Scenario {
	case SIOEcho:
		c.Event, c.Reply = or(c.Event, "message"), or(c.Reply, "message-back")
	case SIOAck:
		c.Event = or(c.Event, "message-with-ack")
	case Broadcast:
		c.Event, c.Reply = or(c.Event, "broadcast"), or(c.Reply, "broadcast-back")
	}
	if c.Conns <= 0 {
		c.Conns = 100
	}
	if c.Size <= 0 {
		c.Size = 64
	}
	if c.Scenario == Broadcast && c.Size < 40 {
		return errors.New("broadcast: --size must be at least 40 bytes, to carry the sequence number and send time")
	}
	if c.Inflight <= 0 {
		c.Inflight = 1
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup < 0 || c.Settle < 0 {
		return errors.New("--warmup and --settle cannot be negative")
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.Settle == 0 {
		c.Settle = 2 * time.Second
	}
	held := c.Conns
	if c.Scenario == Connect {
		if c.Hold && c.Total <= 0 {
			c.Total = 10000
		}
		if c.Hold {
			held = max(c.Total, c.Conns)
			c.Warmup = 0 // the window is the time to open Total connections
		}
	}
	if c.Workers <= 0 {
		c.Workers = (held + perWorkerConns - 1) / perWorkerConns
		if held >= 1000 {
			c.Workers = max(c.Workers, 2)
		}
	}
	c.Workers = min(c.Workers, c.Conns)
	if c.Sources <= 0 {
		// About 28,000 ephemeral ports per source address; half of that leaves room
		// for the connections closing and reopening in connect runs.
		c.Sources = min(max(1, (held+13999)/14000), 250)
		if c.Scenario == Connect && !c.Hold {
			c.Sources = max(c.Sources, 4)
		}
	}
	if c.Sources > 1 && !loopbackV4(u.Hostname()) {
		c.Sources = 1 // source addresses are 127.0.0.x: only for a server on IPv4 loopback
	}
	return nil
}

func loopbackV4(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (c *Config) dialer() dialer { return dialer{addr: c.host, sources: c.Sources} }

func (c *Config) dialWebSocket(ctx context.Context, i int) (*wsConn, error) {
	return dialWebSocket(ctx, c.dialer(), i, c.host, c.Path, c.readBufferSize(), c.HandshakeTimeout, nil)
}

func (c *Config) dialSocketIO(ctx context.Context, i int) (*sioConn, error) {
	return dialSocketIO(ctx, c.dialer(), i, c.host, c.Path, c.Namespace, c.readBufferSize(), c.HandshakeTimeout)
}

// readBufferSize is a connection's read buffer: enough for one reply in echo
// runs, small for the thousands of idle ones.
func (c *Config) readBufferSize() int {
	return min(max(512, c.Size+128), 64<<10)
}
