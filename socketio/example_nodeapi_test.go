package socketio_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tether-rt/tether/socketio"
)

// Per-event middleware, Node's socket.use: here only admins may delete, and a refused event
// is answered through its acknowledgement from the error hook, Node's socket.on("error").
func ExampleSocket_Use() {
	errForbidden := errors.New("forbidden")
	io := socketio.NewServer(nil)
	io.OnConnect(func(s *socketio.Socket) {
		s.Use(func(event string, args socketio.Args) error {
			if event == "delete" && s.Data() != "admin" {
				return errForbidden
			}
			return nil
		})
		s.OnError(func(err error) {
			var ee *socketio.EventError
			if errors.As(err, &ee) && errors.Is(err, errForbidden) {
				ee.Ack("refused: " + ee.Err.Error())
			}
		})
		s.On("delete", func(id int) string { return fmt.Sprint("deleted ", id) })
	})
	hs := httptest.NewServer(io)
	defer hs.Close()
	defer io.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := socketio.Dial(ctx, hs.URL, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	answer, err := c.EmitWithAck(ctx, "delete", 42)
	fmt.Println(answer.Values(), err)
	// Output: [refused: forbidden] <nil>
}

// Every registration returns the function that removes it, where Node's API takes the
// listener back: socket.off("tick", listener) is stop(); socket.off("tick") is Off("tick").
func ExampleSocket_Once() {
	io := socketio.NewServer(nil)
	io.OnConnect(func(s *socketio.Socket) {
		s.Once("hello", func(name string) { fmt.Println("first hello from", name) })
		stop := s.On("tick", func(n int) { fmt.Println("tick", n) })
		s.On("enough", func() { stop() })
		s.On("reset", func() { s.Off("tick") })
		stopLog := s.OnAny(func(event string, args []any) { fmt.Println(event, args) })
		s.OnDisconnect(func(socketio.DisconnectReason) { stopLog() })
	})
}

// A socket's context carries what HTTP middleware put in the handshake request's context, and
// ends when the socket disconnects: work a handler starts stops with the client.
func ExampleSocket_Context() {
	type userKey struct{}
	io := socketio.NewServer(nil)
	io.Use(func(s *socketio.Socket) error {
		if s.Context().Value(userKey{}) == nil {
			return errors.New("not signed in")
		}
		return nil
	})
	io.On("watch", func(s *socketio.Socket, feed string) {
		go func() {
			ticker := time.NewTicker(time.Second)
			defer ticker.Stop()
			for {
				select {
				case <-s.Context().Done():
					return // the client is gone
				case t := <-ticker.C:
					s.Emit("tick", feed, t.Unix())
				}
			}
		}()
	})
	signIn := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user := r.Header.Get("X-User") // a real program checks a session cookie or token
			if user != "" {
				r = r.WithContext(context.WithValue(r.Context(), userKey{}, user))
			}
			next.ServeHTTP(w, r)
		})
	}
	http.Handle("/socket.io/", signIn(io))
}
