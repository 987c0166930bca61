package socketio

import (
	"fmt"
	"testing"
)

// TestConnSockets checks a connection's sockets by namespace below and past the number kept
// in a slice: lookups, replacement, removal of the current and of a stale socket, listing.
func TestConnSockets(t *testing.T) {
	for _, n := range []int{1, fewSockets, fewSockets + 1, 3 * fewSockets} {
		var cs connSockets
		sockets := map[string]*Socket{}
		for i := range n {
			name := fmt.Sprintf("/n%d", i)
			s := &Socket{nsp: &Namespace{name: name}}
			cs.put(s)
			sockets[name] = s
		}
		// A newer socket of namespace /n0 takes the place of the first.
		old := sockets["/n0"]
		sockets["/n0"] = &Socket{nsp: old.nsp}
		cs.put(sockets["/n0"])
		cs.remove(old) // stale: changes nothing
		for name, s := range sockets {
			if got := cs.get(name); got != s {
				t.Fatalf("%d sockets: get(%q) = %p, want %p", n, name, got, s)
			}
		}
		if cs.get("/other") != nil {
			t.Fatalf("%d sockets: a namespace never joined was found", n)
		}
		if all := cs.all(); len(all) != n {
			t.Fatalf("%d sockets: all() has %d", n, len(all))
		}
		cs.remove(sockets["/n0"])
		if cs.get("/n0") != nil || len(cs.all()) != n-1 {
			t.Fatalf("%d sockets: /n0 still there after remove, or all() has %d", n, len(cs.all()))
		}
		for name, s := range sockets {
			if name != "/n0" && cs.get(name) != s {
				t.Fatalf("%d sockets: removing /n0 lost %q", n, name)
			}
		}
	}
}

// TestStrSet checks the adapter's set through its three forms: empty, one member, a map.
func TestStrSet(t *testing.T) {
	var s strSet
	members := func() map[string]bool {
		out := map[string]bool{}
		for x := range s.all {
			out[x] = true
		}
		if len(out) != s.len() {
			t.Fatalf("len %d, all yields %v", s.len(), out)
		}
		return out
	}
	if s.del("a") || s.len() != 0 || len(members()) != 0 {
		t.Fatal("empty set")
	}
	if !s.add("") || s.add("") || !members()[""] {
		t.Fatal("the empty string is a member like any other")
	}
	if !s.del("") || s.len() != 0 {
		t.Fatal("removing the only member")
	}
	if !s.add("a") || s.add("a") || !s.add("b") || s.add("b") || !s.add("c") {
		t.Fatal("adding")
	}
	if m := members(); len(m) != 3 || !m["a"] || !m["b"] || !m["c"] {
		t.Fatalf("members %v", m)
	}
	if !s.del("b") || s.del("b") || s.del("z") {
		t.Fatal("removing")
	}
	if m := members(); len(m) != 2 || !m["a"] || !m["c"] {
		t.Fatalf("members after removing b: %v", m)
	}
	// A caller that stops early gets no more.
	n := 0
	for range s.all {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("%d members after break", n)
	}
}
