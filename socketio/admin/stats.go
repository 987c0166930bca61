package admin

import (
	"os"
	"sort"
	"sync"
	"time"

	"github.com/tether-rt/tether/socketio"
)

// aggregatedEvent counts events of one type in one second, as the UI's charts read them.
type aggregatedEvent struct {
	Timestamp int64  `json:"timestamp"` // the second, in milliseconds since the epoch
	Type      string `json:"type"`
	SubType   string `json:"subType,omitempty"`
	Count     int    `json:"count"`
}

type eventKey struct {
	second  int64
	typ     string
	subType string
}

// eventBuffer gathers the aggregated events between two server_stats. Its size is bounded by
// the seconds of a stats interval times the event types and disconnect reasons, a few dozen.
type eventBuffer struct {
	mu     sync.Mutex
	counts map[eventKey]int
}

func newEventBuffer() *eventBuffer { return &eventBuffer{counts: map[eventKey]int{}} }

func (b *eventBuffer) push(typ, subType string, n int) {
	sec := time.Now().Truncate(time.Second).UnixMilli()
	b.mu.Lock()
	b.counts[eventKey{sec, typ, subType}] += n
	b.mu.Unlock()
}

// take returns the counts, oldest first, and clears them.
func (b *eventBuffer) take() []aggregatedEvent {
	b.mu.Lock()
	counts := b.counts
	b.counts = map[eventKey]int{}
	b.mu.Unlock()
	out := make([]aggregatedEvent, 0, len(counts))
	for k, n := range counts {
		out = append(out, aggregatedEvent{Timestamp: k.second, Type: k.typ, SubType: k.subType, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Timestamp != out[j].Timestamp {
			return out[i].Timestamp < out[j].Timestamp
		}
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].SubType < out[j].SubType
	})
	return out
}

// serverStats is this node's report (Node's server_stats).
type serverStats struct {
	ServerID            string             `json:"serverId"`
	Hostname            string             `json:"hostname"`
	PID                 int                `json:"pid"`
	Uptime              float64            `json:"uptime"` // seconds since Instrument
	ClientsCount        int                `json:"clientsCount"`
	PollingClientsCount int                `json:"pollingClientsCount"`
	AggregatedEvents    []aggregatedEvent  `json:"aggregatedEvents"`
	Namespaces          []namespaceDetails `json:"namespaces"`
}

type namespaceDetails struct {
	Name         string `json:"name"`
	SocketsCount int    `json:"socketsCount"`
}

// statsLoop sends server_stats at once and then every StatsInterval, until Close.
func (a *Admin) statsLoop() {
	t := time.NewTicker(a.opts.StatsInterval)
	defer t.Stop()
	for {
		a.emit("server_stats", a.stats())
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stats gathers this node's report, and reports the transport upgrades seen since the last.
func (a *Admin) stats() serverStats {
	st := serverStats{
		ServerID:     a.opts.ServerID,
		Hostname:     a.host,
		PID:          os.Getpid(),
		Uptime:       time.Since(a.started).Seconds(),
		ClientsCount: a.srv.ClientsCount(),
	}
	for _, n := range a.srv.Namespaces() {
		st.Namespaces = append(st.Namespaces, namespaceDetails{Name: n.Name(), SocketsCount: len(n.Sockets())})
	}
	sort.Slice(st.Namespaces, func(i, j int) bool { return st.Namespaces[i].Name < st.Namespaces[j].Name })

	type upgrade struct {
		s         *socketio.Socket
		transport string
	}
	var upgrades []upgrade
	polling := map[string]bool{}
	a.mu.Lock()
	for s, state := range a.sockets {
		tr := s.Transport()
		if tr == "polling" {
			polling[state.client] = true
		}
		if tr != state.transport {
			state.transport = tr
			a.sockets[s] = state
			upgrades = append(upgrades, upgrade{s, tr})
		}
	}
	a.mu.Unlock()
	st.PollingClientsCount = len(polling)
	st.AggregatedEvents = a.events.take()
	if a.verbose {
		for _, u := range upgrades {
			a.emit("socket_updated", map[string]any{"id": u.s.ID(), "nsp": u.s.Namespace().Name(), "transport": u.transport})
		}
	}
	return st
}
