package socketio

import "sync"

// listenerList holds registered functions so that each can be removed on its own: functions
// are not comparable in Go, so each registration gets an entry, and removal is by entry.
//
// The list is copied on every change. Dispatch takes the slice under its owner's lock and
// calls the functions after releasing it, without copying: a change made meanwhile (a handler
// removing itself, say) must not shift the entries under it.
type listenerList[F any] []*listenerEntry[F]

type listenerEntry[F any] struct{ f F }

// with returns the list with f added, first or last, and its entry.
func (l listenerList[F]) with(f F, first bool) (listenerList[F], *listenerEntry[F]) {
	e := &listenerEntry[F]{f: f}
	out := make(listenerList[F], 0, len(l)+1)
	if first {
		out = append(out, e)
		return append(out, l...), e
	}
	out = append(out, l...)
	return append(out, e), e
}

// without returns the list without e; the same list when e is not in it.
func (l listenerList[F]) without(e *listenerEntry[F]) listenerList[F] {
	for i, x := range l {
		if x == e {
			out := make(listenerList[F], 0, len(l)-1)
			out = append(out, l[:i]...)
			return append(out, l[i+1:]...)
		}
	}
	return l
}

// addListener adds f to *l under mu, first or last, and returns the function that removes it.
func addListener[F any](mu sync.Locker, l *listenerList[F], f F, first bool) (remove func()) {
	mu.Lock()
	var e *listenerEntry[F]
	*l, e = l.with(f, first)
	mu.Unlock()
	return func() {
		mu.Lock()
		*l = l.without(e)
		mu.Unlock()
	}
}

// addHandler adds h to the handlers of event in *m under mu, making the map if need be, and
// returns the function that removes it (kept in h, for Once).
func addHandler(mu sync.Locker, m *map[string][]*handler, event string, h *handler) (remove func()) {
	mu.Lock()
	if *m == nil {
		*m = map[string][]*handler{}
	}
	(*m)[event] = append((*m)[event], h)
	mu.Unlock()
	h.remove = func() {
		mu.Lock()
		(*m)[event] = withoutHandler((*m)[event], h)
		if len((*m)[event]) == 0 {
			delete(*m, event)
		}
		mu.Unlock()
	}
	return h.remove
}

// funcs returns the functions, in order, in a new slice.
func (l listenerList[F]) funcs() []F {
	out := make([]F, len(l))
	for i, e := range l {
		out[i] = e.f
	}
	return out
}

// withoutHandler returns hs without h, copied; the same slice when h is not in it.
func withoutHandler(hs []*handler, h *handler) []*handler {
	for i, x := range hs {
		if x == h {
			out := make([]*handler, 0, len(hs)-1)
			out = append(out, hs[:i]...)
			return append(out, hs[i+1:]...)
		}
	}
	return hs
}
