// Chat is a chat room server over Socket.IO: users pick a name and a room,
// messages go to everyone in the room, and the room hears when someone joins,
// leaves or is typing.
//
//	go run ./examples/chat
//
// then open http://localhost:8080 in two tabs. The page loads the official
// Socket.IO browser client from /socket.io/socket.io.min.js, read from
// --client-dir; from the repository root, "cd web && npm ci" installs it
// where the default looks.
//
// Events from the client: "join" (name, room) with an ack listing the room's
// users, "chat message" (text), "typing" (bool). Events to the client:
// "chat message" ({from, text}), "user joined" (name), "user left" (name),
// "typing" ({name, typing}).
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tether-rt/tether/socketio"
)

//go:embed index.html
var indexHTML []byte

const bundleName = "socket.io.min.js"

func main() {
	addr := flag.String("addr", "localhost:8080", "listen on this `host:port`")
	clientDir := flag.String("client-dir", "web/node_modules/socket.io-client/dist",
		"`folder` holding "+bundleName+" (the dist folder of the socket.io-client npm package)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on http://%s", ln.Addr())
	if err := run(ctx, ln, *clientDir); err != nil {
		log.Fatal(err)
	}
}

// user is what a socket's Data holds once it has joined a room.
type user struct {
	Name string
	Room string
}

// chatMessage is the payload of a "chat message" sent to a room.
type chatMessage struct {
	From string `json:"from"`
	Text string `json:"text"`
}

// joined is the ack of "join": the room and its users, or an error.
type joined struct {
	Room  string   `json:"room,omitempty"`
	Users []string `json:"users,omitempty"`
	Error string   `json:"error,omitempty"`
}

// run serves the chat on ln until ctx ends, then shuts down gracefully.
func run(ctx context.Context, ln net.Listener, clientDir string) error {
	sio := socketio.NewServer(nil)
	nsp := sio.Of("/")
	nsp.OnConnect(func(s *socketio.Socket) {
		s.On("join", func(s *socketio.Socket, name, room string) joined {
			return join(ctx, s, name, room)
		})
		s.On("chat message", func(s *socketio.Socket, text string) {
			if u, ok := s.Data().(user); ok && text != "" {
				// To the whole room, sender included, so every tab shows
				// the messages in the order the server saw them.
				_ = nsp.To(u.Room).Emit("chat message", chatMessage{From: u.Name, Text: text})
			}
		})
		s.On("typing", func(s *socketio.Socket, typing bool) {
			if u, ok := s.Data().(user); ok {
				_ = s.To(u.Room).Emit("typing", map[string]any{"name": u.Name, "typing": typing})
			}
		})
		s.OnDisconnect(func(socketio.DisconnectReason) {
			if u, ok := s.Data().(user); ok {
				_ = nsp.To(u.Room).Emit("user left", u.Name)
			}
		})
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	mux.HandleFunc("GET /socket.io/"+bundleName, func(w http.ResponseWriter, r *http.Request) {
		path := filepath.Join(clientDir, bundleName)
		if _, err := os.Stat(path); err != nil {
			http.Error(w, "socket.io-client is not installed: run `cd web && npm ci` from the repository root, "+
				"or start the server with --client-dir pointing at node_modules/socket.io-client/dist", http.StatusNotFound)
			return
		}
		http.ServeFile(w, r, path)
	})
	mux.Handle("/socket.io/", sio)
	return serve(ctx, ln, mux, sio)
}

// join moves s into room under name: the old room hears it leave, the new
// one hears it join, and the ack lists who is there.
func join(ctx context.Context, s *socketio.Socket, name, room string) joined {
	name, room = strings.TrimSpace(name), strings.TrimSpace(room)
	if name == "" || room == "" {
		return joined{Error: "a name and a room are needed"}
	}
	nsp := s.Namespace()
	old, had := s.Data().(user)
	if had && old.Room != room {
		s.Leave(old.Room)
		_ = nsp.To(old.Room).Emit("user left", old.Name)
	}
	s.SetData(user{Name: name, Room: room})
	if !had || old.Room != room || old.Name != name {
		_ = s.To(room).Emit("user joined", name)
	}
	s.Join(room)

	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	members, err := nsp.In(room).FetchSockets(ctx)
	if err != nil {
		return joined{Error: err.Error()}
	}
	ack := joined{Room: room, Users: []string{}}
	for _, m := range members {
		if u, ok := m.Data.(user); ok {
			ack.Users = append(ack.Users, u.Name)
		}
	}
	slices.Sort(ack.Users)
	return ack
}

// serve runs an HTTP server for h on ln until ctx ends. The Socket.IO
// server shuts down first: it ends the long-polling requests that
// http.Server.Shutdown would otherwise wait for.
func serve(ctx context.Context, ln net.Listener, h http.Handler, sio *socketio.Server) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       30 * time.Second, // longer than the ping interval: polling clients keep their connection
		MaxHeaderBytes:    12 << 10,         // net/http reads 4 KiB more: request heads up to 16 KiB, as Node
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := errors.Join(sio.Shutdown(shutdownCtx), srv.Shutdown(shutdownCtx))
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
