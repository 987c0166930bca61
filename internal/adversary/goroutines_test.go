//go:build linux

package adversary

import "testing"

// TestParseGoroutines reads a goroutine profile in its debug=1 form.
func TestParseGoroutines(t *testing.T) {
	profile := "goroutine profile: total 15\n" +
		"12 @ 0x48b8ce 0x467f25 0x7e0eef 0x4933c1\n" +
		"#\t0x7e0eee\tgithub.com/tether-rt/tether/socketio.(*workerPool).work+0x10e\t/w/socketio/executor.go:98\n" +
		"\n" +
		"2 @ 0x48b8ce 0x468db2\n" +
		"#\t0x48cf64\tinternal/sync.runtime_SemacquireMutex+0x24\t/go/src/runtime/sema.go:95\n" +
		"#\t0x7ccd10\tsync.(*Mutex).Lock+0x50\t/go/src/sync/mutex.go:46\n" +
		"#\t0x7ccce2\tgithub.com/tether-rt/tether/engineio.(*Session).heartbeat+0x22\t/w/engineio/session.go:248\n" +
		"\n" +
		"1 @ 0x4933c1\n" +
		"#\t0x87aa8f\tnet/http.(*conn).serve+0x26f\t/go/src/net/http/server.go:2067\n"
	g := parseGoroutines(profile)
	want := Goroutines{
		"socketio.(*workerPool).work (executor.go:98)":                12,
		lockPrefix + "engineio.(*Session).heartbeat (session.go:248)": 2,
		"net/http.(*conn).serve (server.go:2067)":                     1,
	}
	if len(g) != len(want) {
		t.Fatalf("parsed %v, want %v", g, want)
	}
	for k, n := range want {
		if g[k] != n {
			t.Fatalf("parsed %v, want %v", g, want)
		}
	}
	if d := g.Diff(Goroutines{"socketio.(*workerPool).work (executor.go:98)": 2}); d != "+10 socketio.(*workerPool).work (executor.go:98), +2 waiting for a lock in engineio.(*Session).heartbeat (session.go:248), +1 net/http.(*conn).serve (server.go:2067)" {
		t.Fatalf("Diff = %q", d)
	}
}
