package main

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/internal/testenv"
	"github.com/tether-rt/tether/socketio"
)

// startNode runs one node of the example on a free port and returns its base URL; it stops
// when t ends.
func startNode(t *testing.T, redisURL, name string) string {
	t.Helper()
	cfg := config{redisURL: redisURL, name: name, clientDir: t.TempDir()}
	return "http://" + testenv.Serve(t, func(ctx context.Context, ln net.Listener) error { return run(ctx, ln, cfg) })
}

// user is a Go Socket.IO client of one node, with the chat messages it receives.
type user struct {
	*socketio.Client
	messages chan chatMessage
}

func dial(t *testing.T, base string) user {
	t.Helper()
	c, err := socketio.NewClient(base, &socketio.ClientOptions{DisableReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	u := user{c, make(chan chatMessage, 16)}
	c.On("chat message", func(m chatMessage) { u.messages <- m })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	t.Cleanup(func() { c.Close() })
	return u
}

// askOnline asks u's node who is online.
func askOnline(t *testing.T, u user) online {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := u.EmitWithAck(ctx, "online")
	if err != nil {
		t.Fatalf("online: %v", err)
	}
	var o online
	if err := res.Decode(&o); err != nil {
		t.Fatalf("online acked %v: %v", res.Values(), err)
	}
	return o
}

func TestClusterChat(t *testing.T) {
	r := redistest.Start(t)
	north, south := startNode(t, r.URL(), "north"), startNode(t, r.URL(), "south")
	alice, bob := dial(t, north), dial(t, south)

	// The nodes find each other through Redis as soon as they have subscribed: wait for that.
	var o online
	for range 100 {
		if o = askOnline(t, alice); slices.Equal(o.Nodes, []string{"north", "south"}) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !slices.Equal(o.Nodes, []string{"north", "south"}) || o.Users != 2 {
		t.Fatalf("online = %+v, want both nodes and 2 users", o)
	}

	// A message sent to node north reaches the users of both nodes.
	if err := alice.Emit("chat message", "hello from the north"); err != nil {
		t.Fatal(err)
	}
	want := chatMessage{Node: "north", From: alice.ID(), Text: "hello from the north"}
	for _, u := range []user{bob, alice} {
		select {
		case got := <-u.messages:
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no chat message within 10s")
		}
	}
}
