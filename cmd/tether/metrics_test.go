package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/metricstest"
	"github.com/tether-rt/tether/internal/testenv"
	"github.com/tether-rt/tether/socketio"
)

// TestRunTestServerMetrics runs the command with --metrics, drives the test app with two Go
// Socket.IO clients (an event with an ack, a broadcast, a server-side EmitWithAck, the
// disconnections) and checks the scraped figures exactly; the main listener does not serve
// /metrics.
func TestRunTestServerMetrics(t *testing.T) {
	addr, lines := runTestServerCmd(t, 2, "--metrics", "127.0.0.1:0", "--ping-timeout", "5s")
	metricsURL, ok := strings.CutPrefix(lines[1], "tether testserver: metrics on ")
	if !ok || !strings.HasPrefix(metricsURL, "http://127.0.0.1:") || !strings.HasSuffix(metricsURL, "/metrics") || strings.Contains(metricsURL, addr) {
		t.Fatalf("second line = %q, want \"tether testserver: metrics on http://127.0.0.1:PORT/metrics\"", lines[1])
	}
	if resp, err := http.Get("http://" + addr + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the main listener: %v %v, want 404", resp, err)
	} else {
		resp.Body.Close()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type client struct {
		c      *socketio.Client
		auth   chan struct{}
		events chan string
	}
	var cs []client
	for range 2 {
		c, err := socketio.NewClient("http://"+addr, &socketio.ClientOptions{
			Transports: []string{engineio.TransportWebSocket}, DisableReconnection: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cl := client{c: c, auth: make(chan struct{}, 1), events: make(chan string, 4)}
		c.On("auth", func(socketio.Args) { cl.auth <- struct{}{} })
		c.On("broadcast-back", func(socketio.Args) { cl.events <- "broadcast-back" })
		c.On("ack-me", func(socketio.Args) string { return "acked" })
		c.On("ack-result", func(socketio.Args) { cl.events <- "ack-result" })
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, cl)
	}
	wait := func(ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatal("an event never came")
		}
	}
	waitEvent := func(cl client, want string) {
		t.Helper()
		select {
		case got := <-cl.events:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-ctx.Done():
			t.Fatalf("%q never came", want)
		}
	}
	for _, cl := range cs {
		wait(cl.auth)
	}
	if _, err := cs[0].c.EmitWithAck(ctx, "message-with-ack", "x"); err != nil {
		t.Fatal(err)
	}
	if err := cs[0].c.Emit("broadcast", "hi"); err != nil {
		t.Fatal(err)
	}
	waitEvent(cs[1], "broadcast-back")
	if err := cs[1].c.Emit("request-ack", 1); err != nil {
		t.Fatal(err)
	}
	waitEvent(cs[1], "ack-result")

	got := metricstest.Scrape(t, metricsURL)
	metricstest.Check(t, got, map[string]float64{
		"tether_socketio_connected_sockets{namespace=/}":             2,
		"tether_socketio_connects_total{namespace=/}":                2,
		"tether_socketio_events_received_total{namespace=/}":         3, // message-with-ack, broadcast, request-ack
		"tether_socketio_events_sent_total{namespace=/}":             5, // 2 auth, broadcast-back, ack-me, ack-result
		"tether_socketio_broadcast_recipients{namespace=/}_count":    1,
		"tether_socketio_broadcast_recipients{namespace=/}_sum":      1, // the sender is left out
		"tether_socketio_acks_pending{namespace=/}":                  0,
		"tether_socketio_ack_duration_seconds{namespace=/}_count":    1,
		"tether_engineio_open_sessions":                              2,
		"tether_engineio_sessions_opened_total{transport=websocket}": 2,
	})
	if got["go_goroutines"] <= 0 {
		t.Errorf("go_goroutines = %v, want the Go collector's figures too", got["go_goroutines"])
	}

	for _, cl := range cs {
		cl.c.Close()
	}
	// The server sees the clients leave a moment later: poll the figures until it has.
	for {
		got = metricstest.Scrape(t, metricsURL)
		if got["tether_socketio_connected_sockets{namespace=/}"] == 0 && got["tether_engineio_open_sessions"] == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("still %v sockets and %v sessions after the clients closed",
				got["tether_socketio_connected_sockets{namespace=/}"], got["tether_engineio_open_sessions"])
		case <-time.After(10 * time.Millisecond):
		}
	}
	metricstest.Check(t, got, map[string]float64{
		"tether_socketio_disconnects_total{namespace=/,reason=client namespace disconnect}": 2,
	})
}

// TestRunServeMetrics runs the demo with --metrics: a chat message from a Go client shows in
// the scraped figures, and a --metrics address that cannot be listened on ends the command.
func TestRunServeMetrics(t *testing.T) {
	checkRuns(t, []runCase{
		{[]string{"serve", "-h"}, 0, "-metrics host:port", ""},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--client-dir", fakeBundle(t), "--metrics", "256.0.0.1:1"}, 1, "", "tether serve: --metrics:"},
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	var stderr testenv.Buffer
	code := make(chan int, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() {
		code <- run(runCtx, []string{"serve", "--addr", "127.0.0.1:0", "--client-dir", fakeBundle(t), "--metrics", "127.0.0.1:0"}, nil, pw, &stderr)
		pw.Close()
	}()
	defer func() {
		stop()
		io.Copy(io.Discard, pr)
		if got := <-code; got != 0 {
			t.Errorf("exit code = %d, stderr: %s", got, stderr.String())
		}
	}()
	out := bufio.NewReader(pr)
	var lines []string
	for range 2 {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.TrimSpace(line))
	}
	addr, ok1 := strings.CutPrefix(lines[0], "tether serve: listening on ")
	metricsURL, ok2 := strings.CutPrefix(lines[1], "tether serve: metrics on ")
	if !ok1 || !ok2 || !strings.HasSuffix(metricsURL, "/metrics") {
		t.Fatalf("lines %q, want the listening line and the metrics line", lines)
	}
	go io.Copy(io.Discard, out) // the chat lines

	c, err := socketio.NewClient(addr, &socketio.ClientOptions{
		Transports: []string{engineio.TransportWebSocket}, DisableReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Emit("message", "hi"); err != nil {
		t.Fatal(err)
	}
	// The event is counted before its handler runs, a moment after it is sent: poll.
	for {
		got := metricstest.Scrape(t, metricsURL)
		if got["tether_socketio_events_received_total{namespace=/}"] == 1 {
			metricstest.Check(t, got, map[string]float64{
				"tether_socketio_connected_sockets{namespace=/}":             1,
				"tether_engineio_sessions_opened_total{transport=websocket}": 1,
			})
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the event was never counted: %v", got)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
