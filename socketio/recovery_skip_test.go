package socketio

import (
	"errors"
	"sync/atomic"
	"testing"
)

// TestRecoverySkipsMiddlewareByDefault checks the default of RecoveryOptions.RunMiddlewares,
// Node's skipMiddlewares: true: a recovered socket is let in without the middleware, which ran
// when it first connected.
func TestRecoverySkipsMiddlewareByDefault(t *testing.T) {
	var runs atomic.Int32
	srv, url, a := recoveryServer(t, &ServerOptions{Recovery: &RecoveryOptions{}}, func(srv *Server) {
		srv.Use(func(s *Socket) error {
			runs.Add(1)
			if s.Recovered() {
				return errors.New("middleware ran for a recovered socket")
			}
			return nil
		})
	})
	s := connectFirst(t, url, a)
	srv.To("room").Emit("missed")
	c := resume(t, url, s)
	c.expectRestored(s)
	c.expect(`42["missed","*`)
	if n := runs.Load(); n != 1 {
		t.Fatalf("middleware ran %d times, want once (the first connection)", n)
	}
}
