package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/tether-rt/tether/internal/siotest"
	"github.com/tether-rt/tether/internal/testenv"
)

// startChat runs the example on a free port and returns its base URL; it
// stops when t ends.
func startChat(t *testing.T) string {
	t.Helper()
	clientDir := t.TempDir()
	return "http://" + testenv.Serve(t, func(ctx context.Context, ln net.Listener) error { return run(ctx, ln, clientDir) })
}

func TestChatRoom(t *testing.T) {
	base := startChat(t)
	alice, bob, carol := siotest.Dial(t, base), siotest.Dial(t, base), siotest.Dial(t, base)

	ack := alice.Call("join", "alice", "lobby")
	if len(ack) != 1 || !siotest.JSONEqual(ack[0], `{"room":"lobby","users":["alice"]}`) {
		t.Fatalf("alice's join ack: %s", ack)
	}
	ack = bob.Call("join", "bob", "lobby")
	if len(ack) != 1 || !siotest.JSONEqual(ack[0], `{"room":"lobby","users":["alice","bob"]}`) {
		t.Fatalf("bob's join ack: %s", ack)
	}
	alice.Expect("user joined", `"bob"`)
	ack = carol.Call("join", "carol", "garden")
	if len(ack) != 1 || !siotest.JSONEqual(ack[0], `{"room":"garden","users":["carol"]}`) {
		t.Fatalf("carol's join ack: %s", ack)
	}

	// Messages reach the room, sender included, and no other room.
	alice.Emit("chat message", "hello, lobby")
	carol.Emit("chat message", "hello, garden")
	for _, c := range []*siotest.Client{alice, bob} {
		c.Expect("chat message", `{"from":"alice","text":"hello, lobby"}`)
	}
	carol.Expect("chat message", `{"from":"carol","text":"hello, garden"}`)

	// Typing goes to the others in the room.
	bob.Emit("typing", true)
	alice.Expect("typing", `{"name":"bob","typing":true}`)

	// Bob moves to the garden: the lobby hears him leave, the garden him arrive.
	ack = bob.Call("join", "bob", "garden")
	if len(ack) != 1 || !siotest.JSONEqual(ack[0], `{"room":"garden","users":["bob","carol"]}`) {
		t.Fatalf("bob's second join ack: %s", ack)
	}
	alice.Expect("user left", `"bob"`)
	carol.Expect("user joined", `"bob"`)

	// Carol leaves by closing her connection.
	if err := carol.Close(); err != nil {
		t.Fatal(err)
	}
	bob.Expect("user left", `"carol"`)

	// A join without a name is refused in the ack.
	ack = alice.Call("join", " ", "lobby")
	if len(ack) != 1 || !siotest.JSONEqual(ack[0], `{"error":"a name and a room are needed"}`) {
		t.Fatalf("nameless join ack: %s", ack)
	}
}

func TestChatPage(t *testing.T) {
	base := startChat(t)
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `src="/socket.io/socket.io.min.js"`) {
		t.Fatalf("GET /: %d\n%s", res.StatusCode, body)
	}
}
