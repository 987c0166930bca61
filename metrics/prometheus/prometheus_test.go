package prometheus_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/engineio"
	"github.com/tether-rt/tether/internal/metricstest"
	tetherprom "github.com/tether-rt/tether/metrics/prometheus"
	"github.com/tether-rt/tether/socketio"
)

// TestScrapeAfterTraffic runs real traffic, two Go clients over WebSocket, through a server
// observed by an Observer, and checks the scraped figures: exactly where the traffic fixes
// them, and for the latencies only that they were observed.
func TestScrapeAfterTraffic(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs, err := tetherprom.New(reg, &tetherprom.Options{Events: []string{"chat", "sum", "question"}})
	if err != nil {
		t.Fatal(err)
	}
	io := socketio.NewServer(&socketio.ServerOptions{Observer: obs})
	io.On("sum", func(s *socketio.Socket, a, b int) int { return a + b })
	io.On("chat", func(s *socketio.Socket, text string) { io.Emit("chat", text) })
	srv := httptest.NewServer(io)
	defer srv.Close()
	defer io.Shutdown(context.Background())
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer metrics.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	chats := make(chan string, 2)
	var clients []*socketio.Client
	for range 2 {
		c, err := socketio.NewClient(srv.URL, &socketio.ClientOptions{
			Transports: []string{engineio.TransportWebSocket}, DisableReconnection: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.On("chat", func(text string) { chats <- text })
		c.On("question", func(q string) string { return "yes" })
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}

	// An event with an ack, a chat broadcast to both, an unlisted event name, and the
	// server asking a client for an ack.
	if a, err := clients[0].EmitWithAck(ctx, "sum", 2, 3); err != nil || a.Len() != 1 {
		t.Fatalf("sum: %v %v", a, err)
	}
	if err := clients[0].Emit("chat", "hi"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-chats:
		case <-ctx.Done():
			t.Fatal("the chat broadcast did not reach both clients")
		}
	}
	if err := clients[1].Emit("unlisted-name", 1); err != nil {
		t.Fatal(err)
	}
	// Handled in order after the unlisted event: when its ack is back, both were counted.
	if _, err := clients[1].EmitWithAck(ctx, "sum", 1, 1); err != nil {
		t.Fatal(err)
	}
	socks := io.Of("/").Sockets()
	if len(socks) != 2 {
		t.Fatalf("%d sockets on the server, want 2", len(socks))
	}
	if _, err := socks[0].EmitWithAck(ctx, "question", "ok?"); err != nil {
		t.Fatal(err)
	}

	got := metricstest.Scrape(t, metrics.URL)
	want := map[string]float64{
		"tether_socketio_connected_sockets{namespace=/}":                 2,
		"tether_socketio_connects_total{namespace=/}":                    2,
		"tether_socketio_events_received_total{event=sum,namespace=/}":   2,
		"tether_socketio_events_received_total{event=chat,namespace=/}":  1,
		"tether_socketio_events_received_total{event=other,namespace=/}": 1,
		"tether_socketio_events_sent_total{event=chat,namespace=/}":      2,
		"tether_socketio_events_sent_total{event=question,namespace=/}":  1,
		"tether_socketio_broadcast_recipients{namespace=/}_count":        1,
		"tether_socketio_broadcast_recipients{namespace=/}_sum":          2,
		"tether_socketio_acks_pending{namespace=/}":                      0,
		"tether_socketio_ack_duration_seconds{namespace=/}_count":        1,
		"tether_engineio_open_sessions":                                  2,
		"tether_engineio_sessions_opened_total{transport=websocket}":     2,
		"tether_engineio_upgrades_total":                                 0,
		"tether_engineio_messages_received_total":                        2 + 4 + 1,     // 2 CONNECTs, 4 events, 1 ack
		"tether_engineio_messages_sent_total":                            2 + 2 + 2 + 1, // 2 CONNECT replies, 2 acks, 2 chats, 1 question
		"tether_engineio_slow_client_disconnects_total":                  0,
		"tether_engineio_volatile_drops_total":                           0,
		// The payloads: in, 0 0 20["sum",2,3] 2["chat","hi"] 2["unlisted-name",1]
		// 20["sum",1,1] 30["yes"]; out, two 0{"sid":"<20 characters>"}, 30[5] 30[2],
		// two 2["chat","hi"], 20["question","ok?"].
		"tether_engineio_received_bytes_total": 1 + 1 + 13 + 14 + 20 + 13 + 9,
		"tether_engineio_sent_bytes_total":     31 + 31 + 5 + 5 + 14 + 14 + 20,
	}
	metricstest.Check(t, got, want)

	for _, c := range clients {
		c.Close()
	}
	// The sessions end on the server a moment after the clients leave: wait for that, by
	// the figures themselves, without a fixed sleep.
	for {
		got = metricstest.Scrape(t, metrics.URL)
		if got["tether_engineio_open_sessions"] == 0 && got["tether_socketio_connected_sockets{namespace=/}"] == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("sessions still open after the clients closed: %v sessions, %v sockets",
				got["tether_engineio_open_sessions"], got["tether_socketio_connected_sockets{namespace=/}"])
		case <-time.After(10 * time.Millisecond):
		}
	}
	metricstest.Check(t, got, map[string]float64{
		"tether_socketio_disconnects_total{namespace=/,reason=client namespace disconnect}": 2,
		"tether_engineio_sessions_closed_total{reason=transport close}":                     2,
	})
}

// The Observer serves the Redis adapter too; checked here so that the package itself does
// not import the adapter (and go-redis) for a declaration.
var _ redis.Observer = (*tetherprom.Observer)(nil)
