//go:build linux

package adversary

import (
	"fmt"
	"strings"
	"sync"
)

// Row is one attack's line of the summary.
type Row struct {
	Attack  string
	Pass    bool
	Inputs  string
	Outcome string // what happened, and what the server did wrong if it did
	Leak    string // what was above the baseline after settling, with the RSS figures
	Control string // the control client's failures
}

// Report collects the rows of a run.
type Report struct {
	mu   sync.Mutex
	rows []Row
}

// Add appends a row.
func (r *Report) Add(row Row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, row)
}

// Markdown returns the summary table: attack | inputs | outcome | leak after settling |
// control failures.
func (r *Report) Markdown() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	b.WriteString("| attack | inputs | outcome | leak after settling | control failures |\n")
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	for _, row := range r.rows {
		verdict := "FAIL"
		if row.Pass {
			verdict = "pass"
		}
		fmt.Fprintf(&b, "| %s (%s) | %s | %s | %s | %s |\n", row.Attack, verdict,
			cell(row.Inputs), cell(row.Outcome), cell(row.Leak), cell(row.Control))
	}
	return b.String()
}

// cell makes s fit in a markdown table cell.
func cell(s string) string {
	if s == "" {
		return "none"
	}
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", "<br>")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}
