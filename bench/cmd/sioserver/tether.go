package main

import (
	"net/http"

	"github.com/tether-rt/tether/socketio"
)

func init() { register("tether", tetherHandler) }

// tetherHandler takes the arguments as an Args, which passes them on exactly
// as received, without decoding them into Go values and encoding them again:
// the idiomatic way to relay what a client sent.
func tetherHandler() http.Handler {
	io := socketio.NewServer(nil)
	io.On("message", func(s *socketio.Socket, args socketio.Args) {
		_ = s.Emit("message-back", args)
	})
	// What a handler returns is its acknowledgement.
	io.On("message-with-ack", func(s *socketio.Socket, args socketio.Args) socketio.Args {
		return args
	})
	io.On("broadcast", func(s *socketio.Socket, args socketio.Args) {
		_ = s.Broadcast().Emit("broadcast-back", args)
	})
	return io
}
