package logtest

import (
	"log/slog"
	"testing"
)

// A derived logger's attributes and groups reach the kept record, and the level filters.
func TestRecorder(t *testing.T) {
	r := &Recorder{Level: slog.LevelInfo}
	log := r.Logger().With("sid", "s1").WithGroup("g").With("a", 1)
	log.Debug("dropped")
	log.Info("kept", "b", "x")
	r.Logger().Warn("plain", "err", nil)

	all := r.All()
	if len(all) != 2 {
		t.Fatalf("kept %d records, want 2: %v", len(all), all)
	}
	want := map[string]string{"sid": "s1", "g.a": "1", "g.b": "x"}
	for k, v := range want {
		if got := all[0].Attrs[k]; got != v {
			t.Errorf("%s=%q, want %q (%v)", k, got, v, all[0].Attrs)
		}
	}
	if len(all[0].Attrs) != len(want) {
		t.Errorf("attributes %v, want %v", all[0].Attrs, want)
	}
	if got := r.Find("plain"); len(got) != 1 || got[0].Level != slog.LevelWarn {
		t.Errorf("Find(plain) = %v", got)
	}
}
