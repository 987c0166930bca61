package main

import (
	"context"
	"net/http"

	"github.com/tether-rt/tether/websocket"
)

func init() { register("tether", tetherHandler) }

var tetherOptions = &websocket.AcceptOptions{Compression: websocket.CompressionDisabled}

func tetherHandler(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, tetherOptions)
	if err != nil {
		return
	}
	// Accept starts no goroutines; returning frees net/http's request state.
	go tetherServe(c)
}

func tetherServe(c *websocket.Conn) {
	defer c.CloseNow()
	ctx := context.Background()
	var buf []byte
	for {
		typ, r, err := c.Reader(ctx)
		if err != nil {
			return
		}
		if buf, err = readMessage(r, buf); err != nil {
			return
		}
		if err := c.Write(ctx, typ, buf); err != nil {
			return
		}
	}
}
