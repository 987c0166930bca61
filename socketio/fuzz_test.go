package socketio

import (
	"bytes"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// FuzzConnection feeds a connection any sequence of messages, text and binary: whatever a
// client sends, the server must neither panic nor leak, and an invalid packet closes only that
// connection. Messages are separated by NUL; one starting with 0x01 is binary.
func FuzzConnection(f *testing.F) {
	for _, seed := range []string{
		"0\x002[\"echo\",1]",
		"0/admin,{\"token\":\"x\"}\x002/admin,1[\"echo\"]",
		"0\x0051-[\"echo\",{\"_placeholder\":true,\"num\":0}]\x00\x01abc",
		"0\x0021[\"typed\",\"x\",{\"a\":1}]\x003[\"ack\"]\x001",
		"0\x0052-[\"echo\",{\"_placeholder\":true,\"num\":1}]\x00\x01a\x00\x01b",
		"0\x00\x01stray",
		"4{\"message\":\"x\"}",
		"0{\"pid\":\"p\",\"offset\":\"o\"}\x002[\"disconnect-me\"]\x002[\"echo\"]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		srv := NewServer(&ServerOptions{Recovery: &RecoveryOptions{}, ConnectTimeout: time.Hour})
		defer srv.workers.close()
		srv.Of("/").On("echo", func(s *Socket, ack Ack, args ...any) {
			s.Emit("echo", args...)
			ack(args...)
		})
		srv.Of("/").On("typed", func(s string, v struct{ A int }) (string, int) { return s, v.A })
		srv.Of("/").On("disconnect-me", func(s *Socket) { s.Disconnect(false) })
		srv.Of("/admin").Use(func(s *Socket) error { return &ConnectError{Message: "no"} })

		fake := &fakeSession{id: "fuzz"}
		c := newConn(srv, fake)
		for _, m := range bytes.Split(input, []byte{0}) {
			if fake.closed.Load() {
				break
			}
			if len(m) > 0 && m[0] == 1 {
				c.receive(engineio.Message{Data: m[1:], Binary: true})
			} else {
				c.receive(engineio.Message{Data: m})
			}
		}
		c.onClose(ReasonTransportClose, nil)
		// Let the handlers finish before the leak check.
		deadline := time.Now().Add(5 * time.Second)
		for _, s := range []*Namespace{srv.Of("/"), srv.Of("/admin")} {
			for len(s.Sockets()) > 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
	})
}
