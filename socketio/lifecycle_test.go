package socketio

import (
	"slices"
	"strings"
	"sync"
	"testing"
)

// closeAdapter is an in-memory adapter that says when it is closed.
type closeAdapter struct {
	*MemoryAdapter
	name   string
	closed chan string
}

func (a *closeAdapter) Close() error {
	a.closed <- a.name
	return a.MemoryAdapter.Close()
}

// lifecycleServer starts a server with dynamic namespaces /dyn-*, whose adapters report their
// closing on closed and whose new namespaces are recorded by announced.
func lifecycleServer(t *testing.T, cleanup bool) (srv *Server, url string, closed chan string, announced func() []string) {
	var mu sync.Mutex
	var names []string
	closed = make(chan string, 16)
	url = startServer(t, &ServerOptions{
		CleanupEmptyChildNamespaces: cleanup,
		Adapter: func(h AdapterHost) Adapter {
			return &closeAdapter{MemoryAdapter: NewMemoryAdapter(h), name: h.Namespace(), closed: closed}
		},
	}, func(s *Server) {
		srv = s
		s.OnNewNamespace(func(n *Namespace) {
			mu.Lock()
			names = append(names, n.Name())
			mu.Unlock()
			// On the namespace itself: a client's answer shows the hook ran before it joined.
			n.On("where", func(s *Socket) string { return s.Namespace().Name() })
		})
		s.OfMatch(func(name string) bool { return strings.HasPrefix(name, "/dyn-") })
	})
	announced = func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(names)
	}
	return srv, url, closed, announced
}

func (s *Server) hasNamespace(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name] != nil
}

// A dynamic namespace is announced before its first client joins; with
// CleanupEmptyChildNamespaces it goes, its adapter closed, once its last socket has left, and
// comes back, announced again, for the next client.
func TestCleanupEmptyChildNamespaces(t *testing.T) {
	srv, url, closed, announced := lifecycleServer(t, true)
	srv.Of("/static")
	if got := announced(); !slices.Equal(got, []string{"/static"}) {
		t.Fatalf("announced %v", got)
	}

	c := dialRaw(t, url)
	c.connect("/dyn-1")
	c.send(`42/dyn-1,1["where"]`)
	c.expect(`43/dyn-1,1["/dyn-1"]`)
	c.send(`41/dyn-1,`)
	select {
	case name := <-closed:
		if name != "/dyn-1" {
			t.Fatalf("adapter of %s closed", name)
		}
	case <-testContext(t).Done():
		t.Fatal("the empty namespace's adapter was not closed")
	}
	if srv.hasNamespace("/dyn-1") {
		t.Fatal("the empty namespace is still there")
	}
	var parent *Namespace
	srv.mu.RLock()
	parent = srv.parents[0]
	srv.mu.RUnlock()
	if kids := parent.childList(); len(kids) != 0 {
		t.Fatalf("the parent still has %d children", len(kids))
	}

	c.connect("/dyn-1")
	c.send(`42/dyn-1,2["where"]`)
	c.expect(`43/dyn-1,2["/dyn-1"]`)
	if got := announced(); !slices.Equal(got, []string{"/static", "/dyn-1", "/dyn-1"}) {
		t.Fatalf("announced %v", got)
	}
	if !srv.hasNamespace("/dyn-1") {
		t.Fatal("the namespace was not made again")
	}
}

// A dynamic namespace is removed only when no socket is in it nor joining or leaving it, and
// never without CleanupEmptyChildNamespaces; a static one never is.
func TestChildNamespaceMembers(t *testing.T) {
	for _, cleanup := range []bool{true, false} {
		srv, _, closed, _ := lifecycleServer(t, cleanup)
		static := srv.Of("/static")
		child := srv.lookup("/dyn-2") // held once, as for a joining socket
		srv.mu.RLock()
		child.hold()
		static.hold()
		srv.mu.RUnlock()
		static.release()
		child.release()
		if !srv.hasNamespace("/dyn-2") || !srv.hasNamespace("/static") || len(closed) != 0 {
			t.Fatalf("cleanup %v: removed with a member left", cleanup)
		}
		child.release()
		if srv.hasNamespace("/dyn-2") != !cleanup {
			t.Fatalf("cleanup %v: namespace there: %v", cleanup, srv.hasNamespace("/dyn-2"))
		}
		if cleanup && <-closed != "/dyn-2" {
			t.Fatal("another adapter closed")
		}
		if !srv.hasNamespace("/static") {
			t.Fatal("a static namespace was removed")
		}
	}
}

// A panicking OnNewNamespace hook is logged, not fatal, and the namespace still opens.
func TestNewNamespaceHookPanics(t *testing.T) {
	url := startServer(t, nil, func(s *Server) {
		s.OnNewNamespace(func(n *Namespace) { panic("boom") })
		s.OfMatch(func(name string) bool { return strings.HasPrefix(name, "/dyn-") })
		s.OnNewNamespace(func(n *Namespace) { n.On("where", func() string { return n.Name() }) })
	})
	c := dialRaw(t, url)
	c.connect("/dyn-3")
	c.send(`42/dyn-3,1["where"]`)
	c.expect(`43/dyn-3,1["/dyn-3"]`)
}
