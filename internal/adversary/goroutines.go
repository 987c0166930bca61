//go:build linux

package adversary

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Goroutines counts the server's goroutines by where they wait: the first frame of each
// stack in Tether's own code, else in net/http, else the stack's last frame.
type Goroutines map[string]int

// Goroutines reads the server's goroutine profile.
func (s *Server) Goroutines(ctx context.Context) (Goroutines, error) {
	b, err := s.debugGet(ctx, "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return nil, err
	}
	return parseGoroutines(string(b)), nil
}

// parseGoroutines reads a goroutine profile in its debug=1 text form: groups of
// "N @ addresses" followed by "#\taddress\tfunction+offset\tfile:line" lines.
func parseGoroutines(profile string) Goroutines {
	g := Goroutines{}
	for _, block := range strings.Split(profile, "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		if strings.HasPrefix(lines[0], "goroutine profile:") { // the first block's title
			lines = lines[1:]
		}
		if len(lines) == 0 {
			continue
		}
		count, _, ok := strings.Cut(lines[0], " @ ")
		n, err := strconv.Atoi(count)
		if !ok || err != nil {
			continue
		}
		var frames []string
		for _, l := range lines[1:] {
			f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "#"))
			if len(f) >= 3 {
				fn, _, _ := strings.Cut(f[1], "+0x")
				file := f[2][strings.LastIndexByte(f[2], '/')+1:]
				frames = append(frames, fn+" ("+file+")")
			}
		}
		key := where(frames)
		for _, f := range frames {
			if strings.HasPrefix(f, "sync.(*Mutex).Lock") || strings.HasPrefix(f, "sync.(*RWMutex).") {
				key = lockPrefix + key
				break
			}
		}
		g[key] += n
	}
	return g
}

// lockPrefix marks the goroutines waiting for a mutex.
const lockPrefix = "waiting for a lock in "

// Stuck returns the groups waiting for a lock in both g and later, a second profile taken a
// while after: no lock of a settled server is held that long, unless it is never released.
func (g Goroutines) Stuck(later Goroutines) string {
	var stuck []string
	for w, n := range later {
		if strings.HasPrefix(w, lockPrefix) && g[w] > 0 {
			stuck = append(stuck, fmt.Sprintf("%d %s", min(n, g[w]), w))
		}
	}
	sort.Strings(stuck)
	return strings.Join(stuck, ", ")
}

// where picks the frame that says what a goroutine is for.
func where(frames []string) string {
	for _, prefix := range []string{"github.com/tether-rt/tether/", "net/http."} {
		for _, f := range frames {
			if strings.HasPrefix(f, prefix) {
				return strings.TrimPrefix(f, "github.com/tether-rt/tether/")
			}
		}
	}
	if len(frames) == 0 {
		return "(a goroutine not started yet)"
	}
	return frames[len(frames)-1]
}

// Diff lists the groups with more goroutines in g than in base, most first: "+12
// socketio.(*workerPool).work (executor.go)".
func (g Goroutines) Diff(base Goroutines) string {
	type grew struct {
		where string
		n     int
	}
	var out []grew
	for w, n := range g {
		if d := n - base[w]; d > 0 {
			out = append(out, grew{w, d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n > out[j].n || out[i].n == out[j].n && out[i].where < out[j].where })
	parts := make([]string, 0, len(out))
	for _, o := range out {
		parts = append(parts, fmt.Sprintf("+%d %s", o.n, o.where))
	}
	return strings.Join(parts, ", ")
}

// Count returns how many goroutines wait where the key starts with prefix.
func (g Goroutines) Count(prefix string) int {
	n := 0
	for w, c := range g {
		if strings.HasPrefix(w, prefix) {
			n += c
		}
	}
	return n
}
