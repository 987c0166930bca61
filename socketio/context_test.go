package socketio

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type userKey struct{}

// TestSocketContext checks that a socket's context carries the values HTTP middleware put in
// the handshake request's context, in the namespace middleware and the handlers, and is
// canceled, with the reason, when the socket disconnects.
func TestSocketContext(t *testing.T) {
	ctxs := make(chan context.Context, 1)
	io := NewServer(nil)
	{
		io.Use(func(s *Socket) error {
			if s.Context().Value(userKey{}) != "alice" {
				return errors.New("no user in the middleware's context")
			}
			return nil
		})
		io.On("who", func(s *Socket) string {
			ctxs <- s.Context()
			u, _ := s.Context().Value(userKey{}).(string)
			return u
		})
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, "alice")))
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		io.Shutdown(ctx)
		hs.Close()
	})
	c := dialTest(t, hs.URL, nil, nil)
	a, err := c.EmitWithAck(clientCtx(t), "who")
	if err != nil {
		t.Fatal(err)
	}
	var user string
	if err := a.Decode(&user); err != nil || user != "alice" {
		t.Fatalf("user %q (%v)", user, err)
	}
	ctx := <-ctxs
	// The handshake's request has long been answered: its cancellation does not carry over.
	if ctx.Err() != nil {
		t.Fatalf("context ended while connected: %v", ctx.Err())
	}
	c.Disconnect()
	<-ctx.Done()
	if cause := context.Cause(ctx); !errors.Is(cause, ErrDisconnected) || cause.Error() != "socketio: socket disconnected: client namespace disconnect" {
		t.Fatalf("cause %v", cause)
	}
}
