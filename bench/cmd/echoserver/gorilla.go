package main

import (
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

func init() { register("gorilla", gorillaHandler) }

// gorillaUpgrader reuses net/http's hijacked read buffer (ReadBufferSize 0)
// and takes write buffers from a pool only while writing, gorilla's documented
// way to keep idle connections small.
var gorillaUpgrader = websocket.Upgrader{
	WriteBufferPool:   &sync.Pool{},
	EnableCompression: false,
}

func gorillaHandler(w http.ResponseWriter, r *http.Request) {
	c, err := gorillaUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	// Returning lets net/http drop the request's goroutine and state.
	go gorillaServe(c)
}

func gorillaServe(c *websocket.Conn) {
	defer c.Close()
	var buf []byte
	for {
		typ, r, err := c.NextReader()
		if err != nil {
			return
		}
		if buf, err = readMessage(r, buf); err != nil {
			return
		}
		if err := c.WriteMessage(typ, buf); err != nil {
			return
		}
	}
}
