// Package logtest records log lines for tests that check what a layer logs and with which
// attributes.
package logtest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// Recorder is a slog.Handler keeping every record at or above Level (all of them by default).
// It is safe for concurrent use.
type Recorder struct {
	Level slog.Leveler

	mu      sync.Mutex
	records []Record
}

// withAttrs is a Recorder's handler after Logger.With: it adds attrs to each record it passes
// on, so that a line logged through a derived logger is checked with all its attributes.
type withAttrs struct {
	r     *Recorder
	group string
	attrs []slog.Attr
}

func (w withAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return w.r.Enabled(ctx, level)
}

func (w withAttrs) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, rec.Message, rec.PC)
	out.AddAttrs(w.attrs...)
	rec.Attrs(func(a slog.Attr) bool {
		if w.group != "" {
			a.Key = w.group + "." + a.Key
		}
		out.AddAttrs(a)
		return true
	})
	return w.r.Handle(ctx, out)
}

func (w withAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	for _, a := range attrs {
		if w.group != "" {
			a.Key = w.group + "." + a.Key
		}
		w.attrs = append(w.attrs[:len(w.attrs):len(w.attrs)], a)
	}
	return w
}

func (w withAttrs) WithGroup(name string) slog.Handler {
	if w.group != "" {
		name = w.group + "." + name
	}
	w.group = name
	return w
}

// Record is a kept record: its level, message and attributes, values as strings.
type Record struct {
	Level   slog.Level
	Message string
	Attrs   map[string]string
}

// Logger returns a logger writing to r.
func (r *Recorder) Logger() *slog.Logger { return slog.New(r) }

// Enabled implements slog.Handler.
func (r *Recorder) Enabled(_ context.Context, level slog.Level) bool {
	return r.Level == nil || level >= r.Level.Level()
}

// Handle implements slog.Handler.
func (r *Recorder) Handle(_ context.Context, rec slog.Record) error {
	kept := Record{Level: rec.Level, Message: rec.Message, Attrs: map[string]string{}}
	rec.Attrs(func(a slog.Attr) bool {
		kept.Attrs[a.Key] = a.Value.Resolve().String()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, kept)
	return nil
}

// WithAttrs implements slog.Handler.
func (r *Recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return withAttrs{r: r}.WithAttrs(attrs)
}

// WithGroup implements slog.Handler. Attributes in a group are kept under dotted keys
// ("group.key").
func (r *Recorder) WithGroup(name string) slog.Handler { return withAttrs{r: r}.WithGroup(name) }

// Find returns the records whose message contains msg.
func (r *Recorder) Find(msg string) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for _, rec := range r.records {
		if strings.Contains(rec.Message, msg) {
			out = append(out, rec)
		}
	}
	return out
}

// All returns a copy of every record kept so far.
func (r *Recorder) All() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.records...)
}
