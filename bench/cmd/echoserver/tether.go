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
	if tetherPoller != nil {
		e := &tetherEcho{c: c}
		if tetherPoller.Watch(c, e.ready) == nil {
			return
		}
	}
	go tetherServe(c)
}

// tetherEcho is a connection read on readiness, with the buffer its messages are read into,
// reused as the blocking server's is.
type tetherEcho struct {
	c   *websocket.Conn
	buf []byte
}

// ready echoes what has arrived, and returns when nothing more has.
func (e *tetherEcho) ready() {
	ctx := context.Background()
	for {
		typ, r, err := e.c.TryReader(ctx)
		if err == websocket.ErrWouldBlock {
			return
		}
		if err == nil {
			e.buf, err = readMessage(r, e.buf)
		}
		if err == nil {
			err = e.c.Write(ctx, typ, e.buf)
		}
		if err != nil {
			e.c.CloseNow()
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
