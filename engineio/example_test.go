package engineio_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// An Engine.IO echo server at /engine.io/, for browsers on one other origin.
func ExampleNewServer() {
	srv := engineio.NewServer(&engineio.ServerOptions{
		CORS: &engineio.CORSOptions{Origins: []string{"https://app.example.com"}, Credentials: true},
		OnOpen: func(s *engineio.Session) {
			log.Printf("open %s from %s over %s", s.ID(), s.Request().RemoteAddr(), s.Transport())
		},
		OnMessage: func(s *engineio.Session, m engineio.Message) {
			_ = s.Send(engineio.NewPreparedMessage(m.Data, m.Binary))
		},
		OnClose: func(s *engineio.Session, reason engineio.CloseReason, detail error) {
			log.Printf("closed %s: %s (%v)", s.ID(), reason, detail)
		},
	})
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	hs := &http.Server{Addr: "127.0.0.1:3000", Handler: mux}
	go func() { _ = hs.ListenAndServe() }()

	// Later: stop taking sessions, close the open ones, wait for them.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	_ = hs.Shutdown(ctx)
}

// A broadcast encodes the message once, however many sessions receive it.
func ExampleNewPreparedMessage() {
	var sessions []*engineio.Session // the sessions to reach
	m := engineio.NewPreparedMessage([]byte(`{"price":42}`), false)
	for _, s := range sessions {
		_ = s.SendVolatile(m) // prices go stale: drop rather than queue for a slow client
	}
}
