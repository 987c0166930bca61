package main

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/siotest"
	"github.com/tether-rt/tether/internal/testenv"
)

// startTicker runs the example on a free port, with prices moving every
// 10 ms, and returns its base URL; it stops when t ends.
func startTicker(t *testing.T) string {
	t.Helper()
	clientDir := t.TempDir()
	return "http://" + testenv.Serve(t, func(ctx context.Context, ln net.Listener) error {
		return run(ctx, ln, clientDir, 10*time.Millisecond)
	})
}

// nextPrice reads the next event, which must be a "price".
func nextPrice(t *testing.T, c *siotest.Client) quote {
	t.Helper()
	name, args := c.Next()
	var q quote
	if name != "price" || len(args) != 1 || json.Unmarshal(args[0], &q) != nil || q.Price <= 0 || q.Time == 0 {
		t.Fatalf("got %q %s, want a price", name, args)
	}
	return q
}

// subscribe calls event for symbol and checks the ack quotes it.
func subscribe(t *testing.T, c *siotest.Client, event, symbol string) {
	t.Helper()
	ack := c.Call(event, symbol)
	var r struct {
		Symbol string  `json:"symbol"`
		Price  float64 `json:"price"`
		Error  string  `json:"error"`
	}
	if len(ack) != 1 || json.Unmarshal(ack[0], &r) != nil || r.Symbol != symbol || r.Price <= 0 || r.Error != "" {
		t.Fatalf("%s %s: ack %s", event, symbol, ack)
	}
}

func TestTicker(t *testing.T) {
	base := startTicker(t)
	a, b := siotest.Dial(t, base), siotest.Dial(t, base)
	for _, c := range []*siotest.Client{a, b} {
		name, args := c.Next()
		var qs []quote
		if name != "symbols" || len(args) != 1 || json.Unmarshal(args[0], &qs) != nil || len(qs) != 4 || qs[0].Symbol != "ACME" {
			t.Fatalf("first event %q %s, want the four symbols", name, args)
		}
	}

	subscribe(t, a, "subscribe", "ACME")
	subscribe(t, a, "subscribe", "GLOBEX")
	subscribe(t, b, "subscribe", "INITECH")

	// a gets both its symbols, and only them; b only its one.
	seen := map[string]bool{}
	for i := 0; i < 200 && len(seen) < 2; i++ {
		q := nextPrice(t, a)
		if q.Symbol != "ACME" && q.Symbol != "GLOBEX" {
			t.Fatalf("a got a price of %s, which it did not subscribe to", q.Symbol)
		}
		seen[q.Symbol] = true
	}
	if len(seen) < 2 {
		t.Fatalf("a saw prices of %v in 200 events, want ACME and GLOBEX", seen)
	}
	for range 3 {
		if q := nextPrice(t, b); q.Symbol != "INITECH" {
			t.Fatalf("b got a price of %s, want INITECH only", q.Symbol)
		}
	}

	// The server leaves the room before it acks, but the ticker runs on its
	// own goroutine: a tick already sending when a left may still put its
	// ACME price after the ack. Ticks are sequential and a connection
	// delivers in order, so that price comes before the GLOBEX price of
	// the next tick, that is before the second GLOBEX price after the ack.
	subscribe(t, a, "unsubscribe", "ACME")
	a.DropPending() // sent before the ack
	for globex := 0; globex < 4; {
		switch q := nextPrice(t, a); {
		case q.Symbol == "GLOBEX":
			globex++
		case q.Symbol == "ACME" && globex < 2:
		default:
			t.Fatalf("after unsubscribing from ACME and %d GLOBEX prices, a got a price of %s", globex, q.Symbol)
		}
	}

	ack := a.Call("subscribe", "NOPE")
	if len(ack) != 1 || !siotest.JSONEqual(ack[0], `{"error":"unknown symbol NOPE"}`) {
		t.Fatalf("subscribe to an unknown symbol: ack %s", ack)
	}
}

func TestMarketStaysPositive(t *testing.T) {
	m := newMarket()
	now := time.Unix(0, 0)
	for range 10_000 {
		for _, q := range m.step(now) {
			if q.Price < 0.01 {
				t.Fatalf("%s at %v", q.Symbol, q.Price)
			}
		}
	}
}
