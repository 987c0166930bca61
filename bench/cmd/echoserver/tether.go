package main

import (
	"context"
	"net/http"
	"os"

	"github.com/tether-rt/tether/websocket"
)

func init() { register("tether", tetherHandler) }

var tetherOptions = &websocket.AcceptOptions{Compression: websocket.CompressionDisabled}

// tetherPoller reads connections on readiness, so that an idle one holds no goroutine; nil
// where the platform has none, or with ECHOSERVER_BLOCKING set (to compare), and then each
// connection gets a goroutine.
var tetherPoller = func() *websocket.Poller {
	if os.Getenv("ECHOSERVER_BLOCKING") != "" {
		return nil
	}
	p, _ := websocket.NewPoller()
	return p
}()

func tetherHandler(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, tetherOptions)
	if err != nil {
		return
	}
	// Accept starts no goroutines; returning frees net/http's request state.
	if tetherPoller != nil && tetherPoller.Watch(c, func() { tetherReady(c) }) == nil {
		return
	}
	go tetherServe(c)
}

// tetherReady echoes what has arrived, and returns when nothing more has.
func tetherReady(c *websocket.Conn) {
	ctx := context.Background()
	for {
		typ, b, err := c.TryRead(ctx)
		if err == websocket.ErrWouldBlock {
			return
		}
		if err == nil {
			err = c.Write(ctx, typ, b)
		}
		if err != nil {
			c.CloseNow()
			return
		}
	}
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
