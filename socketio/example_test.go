package socketio_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"regexp"
	"time"

	"github.com/tether-rt/tether/socketio"
)

// The python-socketio tutorial's server: print every message a browser sends.
func Example() {
	io := socketio.NewServer(nil)
	io.Of("/").On("message", func(s *socketio.Socket, data any) {
		fmt.Println("Socket ID:", s.ID())
		fmt.Println(data)
	})
	http.Handle("/socket.io/", io)
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}

// Handlers take ordinary Go types; what they return is the acknowledgement.
func ExampleNamespace_On() {
	type Order struct {
		Symbol string `json:"symbol"`
		Qty    int    `json:"qty"`
	}
	io := socketio.NewServer(nil)
	orders := io.Of("/orders")
	orders.On("place", func(s *socketio.Socket, o Order) (string, int) {
		return "accepted", o.Qty
	})
	orders.On("upload", func(s *socketio.Socket, name string, data []byte, ack socketio.Ack) {
		ack(len(data)) // binary arguments arrive as []byte
	})
}

// A middleware refuses a connection with a message and data the client receives.
func ExampleNamespace_Use() {
	io := socketio.NewServer(nil)
	io.Of("/admin").Use(func(s *socketio.Socket) error {
		var auth struct {
			Token string `json:"token"`
		}
		if err := s.Handshake().DecodeAuth(&auth); err != nil || auth.Token != "secret" {
			return &socketio.ConnectError{Message: "not authorized", Data: map[string]any{"retry": false}}
		}
		s.SetData("admin")
		return nil
	})
}

// Rooms and broadcasts: a chat where messages go to the room, except their sender.
func ExampleSocket_To() {
	io := socketio.NewServer(nil)
	io.Of("/").On("join", func(s *socketio.Socket, room string) {
		s.Join(room)
		s.To(room).Emit("joined", s.ID())
	})
	io.Of("/").On("say", func(s *socketio.Socket, room, text string) {
		s.To(room).Emit("said", s.ID(), text)
	})
	// From anywhere in the program: every socket in "lobby" but those in "muted".
	io.To("lobby").Except("muted").Emit("announcement", "maintenance at noon")
}

// The server asks a client and waits for its answer.
func ExampleSocket_EmitWithAck() {
	io := socketio.NewServer(nil)
	io.Of("/").OnConnect(func(s *socketio.Socket) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		answer, err := s.EmitWithAck(ctx, "what-is-your-name")
		if err != nil {
			return // no answer in time, or the client left
		}
		var name string
		if err := answer.Decode(&name); err == nil {
			s.Emit("hello", name)
		}
	})
}

// Dynamic namespaces, made on the first connection to a matching name.
func ExampleServer_OfMatch() {
	io := socketio.NewServer(nil)
	workspaces := io.OfMatch(regexp.MustCompile(`^/workspace-\d+$`).MatchString)
	workspaces.OnConnect(func(s *socketio.Socket) {
		s.Emit("welcome", s.Namespace().Name())
	})
	// Reaches the sockets of every workspace namespace.
	workspaces.Emit("notice", "hello, all workspaces")
}

// Connection state recovery: a client whose connection was cut gets its socket back.
func ExampleRecoveryOptions() {
	io := socketio.NewServer(&socketio.ServerOptions{
		Recovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: 2 * time.Minute},
	})
	io.Of("/").OnConnect(func(s *socketio.Socket) {
		if s.Recovered() {
			return // same id, rooms and data; missed events already sent
		}
		s.Join("news")
	})
}

// Shutdown disconnects every socket and waits for the connections to end.
func ExampleServer_Shutdown() {
	io := socketio.NewServer(nil)
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: io}
	go srv.ListenAndServe()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := io.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Print(err)
	}
	srv.Shutdown(ctx)
}
