//go:build !race

package prometheus_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	tetherprom "github.com/tether-rt/tether/metrics/prometheus"
	"github.com/tether-rt/tether/socketio"
)

// TestObserverAllocations guards the calls made per recipient of a broadcast and per event:
// counting one must not allocate, or a broadcast to many sockets would allocate per socket.
// The one exception, documented on Options.Events: with event names, EventSent reads the
// name out of the packet, which makes a string.
func TestObserverAllocations(t *testing.T) {
	for _, opts := range []*tetherprom.Options{nil, {Events: []string{"price"}}} {
		obs, err := tetherprom.New(prometheus.NewRegistry(), opts)
		if err != nil {
			t.Fatal(err)
		}
		p, err := socketio.NewPacket("/", "price", "ACME", 101.25)
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range map[string]func(){
			"EventSent":       func() { obs.EventSent("/", p) },
			"EventReceived":   func() { obs.EventReceived("/", "price") },
			"MessageSent":     func() { obs.MessageSent(42) },
			"MessageReceived": func() { obs.MessageReceived(42) },
			"Broadcast":       func() { obs.Broadcast("/", 10) },
			"AckDone":         func() { obs.AckWaiting("/"); obs.AckDone("/", time.Millisecond, true) },
		} {
			want := 0.0
			if name == "EventSent" && opts != nil {
				want = 1
			}
			if n := testing.AllocsPerRun(100, f); n != want {
				t.Errorf("%s (event names %v): %.1f allocations, want %.0f", name, opts != nil, n, want)
			}
		}
	}
}
