package redis

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
)

// levels is a slog.Handler recording the level and message of each record.
type levels struct {
	mu   sync.Mutex
	recs []string
}

func (h *levels) Enabled(context.Context, slog.Level) bool { return true }
func (h *levels) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levels) WithGroup(string) slog.Handler            { return h }
func (h *levels) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Level.String()+" "+r.Message)
	return nil
}

// TestOutageLog: an outage is logged once when it starts and once when it ends, however
// many operations fail or succeed, both as warnings (the level a server's log shows by
// default).
func TestOutageLog(t *testing.T) {
	h := &levels{}
	o := outage{log: slog.New(h), what: "publishing"}
	down := errors.New("connection refused")
	var ended []bool
	for _, failing := range []bool{false, true, true, true, false, false, true, false} {
		if failing {
			o.fail(down)
		} else {
			ended = append(ended, o.ok())
		}
	}
	want := []string{
		"WARN redis adapter: Redis unreachable; local delivery goes on, retrying",
		"WARN redis adapter: Redis reachable again",
		"WARN redis adapter: Redis unreachable; local delivery goes on, retrying",
		"WARN redis adapter: Redis reachable again",
	}
	if len(h.recs) != len(want) {
		t.Fatalf("logged %q, want %q", h.recs, want)
	}
	for i := range want {
		if h.recs[i] != want[i] {
			t.Fatalf("logged %q, want %q", h.recs, want)
		}
	}
	if wantEnded := []bool{false, true, false, true}; len(ended) != 4 || ended[0] || !ended[1] || ended[2] || !ended[3] {
		t.Fatalf("ok reported ends %v, want %v", ended, wantEnded)
	}
}
