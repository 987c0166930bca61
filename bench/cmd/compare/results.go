package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// check reports a result that lacks what the scenario's figures are made of.
func (sc *scenario) check(r *result) error {
	switch {
	case r.Ops <= 0:
		return fmt.Errorf("no operations completed (errors %d: %s)", r.Errors, r.FirstError)
	case r.Server == nil:
		return errors.New("no server figures in the result")
	}
	for _, m := range sc.metrics {
		if (m.key == "p50" || m.key == "p99") && r.Latency == nil {
			return errors.New("no latency in the result")
		}
	}
	return nil
}

// show is one run's figures, for the progress log.
func (sc *scenario) show(r *result) string {
	parts := make([]string, 0, len(sc.metrics)+1)
	for _, m := range sc.metrics {
		parts = append(parts, m.display(m.value(r))+" "+m.brief)
	}
	if r.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d errors (%s)", r.Errors, r.FirstError))
	}
	return strings.Join(parts, ", ")
}

// results collects the runs per scenario and peer, in run order.
type results struct {
	groups []*group
	runs   map[*scenario]map[string][]*result
}

func newResults(groups []*group) *results {
	r := &results{groups: groups, runs: map[*scenario]map[string][]*result{}}
	for _, g := range groups {
		for _, sc := range g.scenarios {
			r.runs[sc] = map[string][]*result{}
		}
	}
	return r
}

func (r *results) add(sc *scenario, peer string, res *result) {
	r.runs[sc][peer] = append(r.runs[sc][peer], res)
}

// values returns m over the runs of peer in sc, sorted.
func (r *results) values(sc *scenario, peer string, m metric) []float64 {
	var v []float64
	for _, res := range r.runs[sc][peer] {
		v = append(v, m.value(res))
	}
	slices.Sort(v)
	return v
}

// median returns the median of m over the runs of peer in sc.
func (r *results) median(sc *scenario, peer string, m metric) (float64, bool) {
	v := r.values(sc, peer, m)
	if len(v) == 0 {
		return 0, false
	}
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
	}
	return v[len(v)/2], true
}

// cell formats the median of m with its min–max range.
func (r *results) cell(sc *scenario, peer string, m metric) string {
	v := r.values(sc, peer, m)
	med, ok := r.median(sc, peer, m)
	switch {
	case !ok:
		return "–"
	case len(v) == 1:
		return m.display(med)
	}
	return fmt.Sprintf("%s (%s–%s)", m.display(med), m.display(v[0]), m.display(v[len(v)-1]))
}

// ratio is Tether's median over the reference peer's, when both ran.
func (r *results) ratio(sc *scenario, m metric) (float64, bool) {
	t, ok1 := r.median(sc, "tether", m)
	ref, ok2 := r.median(sc, sc.group.reference, m)
	if !ok1 || !ok2 || ref == 0 {
		return 0, false
	}
	return t / ref, true
}

// tables renders one markdown table per group: a row per peer, a column per
// figure, and the row of Tether's ratios to the reference peer.
func (r *results) tables() string {
	var b strings.Builder
	for _, g := range r.groups {
		fmt.Fprintf(&b, "### %s\n\n", g.title)
		for _, sc := range g.scenarios {
			if len(g.scenarios) > 1 {
				b.WriteString("- ")
			}
			fmt.Fprintf(&b, "%s\n", sc.about)
		}
		b.WriteString("\n")
		b.WriteString(r.table(g))
		b.WriteString("\n")
	}
	return b.String()
}

func (r *results) table(g *group) string {
	var b strings.Builder
	head := []string{"server"}
	for _, sc := range g.scenarios {
		for _, m := range sc.metrics {
			if len(g.scenarios) == 1 {
				head = append(head, m.title) // the table's title names the scenario
			} else {
				head = append(head, sc.label+" "+m.title)
			}
		}
	}
	row := func(cells []string) { fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | ")) }
	row(head)
	row(slices.Repeat([]string{"---"}, len(head)))
	hasTether, hasRef := false, false
	for _, p := range g.peers {
		cells := []string{p.name}
		for _, sc := range g.scenarios {
			for _, m := range sc.metrics {
				cells = append(cells, r.cell(sc, p.name, m))
			}
		}
		row(cells)
		hasTether = hasTether || p.name == "tether"
		hasRef = hasRef || p.name == g.reference
	}
	if hasTether && hasRef {
		cells := []string{"**tether ÷ " + g.reference + "**"}
		for _, sc := range g.scenarios {
			for _, m := range sc.metrics {
				if x, ok := r.ratio(sc, m); ok {
					cells = append(cells, fmt.Sprintf("**%.2f×**", x))
				} else {
					cells = append(cells, "–")
				}
			}
		}
		row(cells)
	}
	return b.String()
}

// errorNotes lists the runs that counted errors (failed connections or
// operations, unexpected disconnects), which a reader should know of.
func (r *results) errorNotes() []string {
	var notes []string
	for _, g := range r.groups {
		for _, sc := range g.scenarios {
			for _, p := range g.peers {
				for i, res := range r.runs[sc][p.name] {
					if res.Errors > 0 {
						notes = append(notes, fmt.Sprintf("%s, %s, round %d: %d errors (%s)",
							sc.name, p.name, i+1, res.Errors, res.FirstError))
					}
				}
			}
		}
	}
	return notes
}

// thousands formats n with comma separators: 10000 -> "10,000".
func thousands(n int) string {
	s := strconv.Itoa(n)
	start := 0
	if n < 0 {
		start = 1
	}
	for i := len(s) - 3; i > start; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
