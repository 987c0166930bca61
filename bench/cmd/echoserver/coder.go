package main

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
)

func init() { register("coder", coderHandler) }

var coderOptions = &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled}

func coderHandler(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, coderOptions)
	if err != nil {
		return
	}
	// Accept hijacked the connection, so the handler may return.
	go coderServe(c)
}

func coderServe(c *websocket.Conn) {
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
