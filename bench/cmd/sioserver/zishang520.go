package main

import (
	"net/http"

	"github.com/zishang520/socket.io/servers/socket/v3"
)

func init() { register("zishang520", zishang520Handler) }

// zishang520Handler is the app in the style of the library's README: event
// listeners take the decoded arguments as ...any, and an acknowledgement
// arrives as a socket.Ack after them.
func zishang520Handler() http.Handler {
	io := socket.NewServer(nil, nil)
	_ = io.On("connection", func(clients ...any) {
		s := clients[0].(*socket.Socket)
		_ = s.On("message", func(args ...any) {
			_ = s.Emit("message-back", args...)
		})
		_ = s.On("message-with-ack", func(args ...any) {
			if len(args) == 0 {
				return
			}
			if ack, ok := args[len(args)-1].(socket.Ack); ok {
				ack(args[:len(args)-1], nil)
			}
		})
		_ = s.On("broadcast", func(args ...any) {
			_ = s.Broadcast().Emit("broadcast-back", args...)
		})
	})
	return io.ServeHandler(nil)
}
