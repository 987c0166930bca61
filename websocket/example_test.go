package websocket_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tether-rt/tether/websocket"
)

// An echo server: each message comes back with "Echo: " in front, as in the tutorial.
func ExampleAccept() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return // Accept has answered the request with an HTTP error
		}
		defer conn.CloseNow()
		for {
			typ, msg, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			if err := conn.Write(r.Context(), typ, append([]byte("Echo: "), msg...)); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(websocket.StatusNormalClosure, "")
	if err := conn.Write(ctx, websocket.MessageText, []byte("Hello, Server!")); err != nil {
		log.Fatal(err)
	}
	_, reply, err := conn.Read(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))
	// Output: Echo: Hello, Server!
}

// A server for many mostly idle connections: the Poller reads a connection only when bytes
// have arrived, so a silent one holds no goroutine. Where there is no Poller (not Linux), each
// connection gets a goroutine, as usual.
func ExamplePoller() {
	poller, err := websocket.NewPoller()
	if err != nil && !errors.Is(err, websocket.ErrPollUnsupported) {
		log.Fatal(err)
	}
	echo := func(conn *websocket.Conn, read func(context.Context) (websocket.MessageType, []byte, error)) {
		ctx := context.Background()
		for {
			typ, msg, err := read(ctx)
			if err == websocket.ErrWouldBlock {
				return // nothing more for now: the Poller calls again when something comes
			}
			if err == nil {
				err = conn.Write(ctx, typ, append([]byte("Echo: "), msg...))
			}
			if err != nil {
				conn.CloseNow()
				return
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		if poller != nil && poller.Watch(conn, func() { echo(conn, conn.TryRead) }) == nil {
			return // watched: the handler's goroutine ends here
		}
		go echo(conn, conn.Read)
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range []string{"one", "two"} {
		if err := conn.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			log.Fatal(err)
		}
		_, reply, err := conn.Read(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(reply))
	}
	conn.Close(websocket.StatusNormalClosure, "")
	if poller != nil {
		poller.Close()
	}
	// Output:
	// Echo: one
	// Echo: two
}

// A client: dial, check that the server is alive with a ping, exchange a message and close.
func ExampleDial() {
	// A server that echoes every message; its reads answer the client's pings.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for {
			typ, msg, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			if err := conn.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.CloseNow()
	fmt.Println("handshake:", resp.Status)

	// The pong comes back through reads, so a reader runs while Ping waits for it.
	messages := make(chan string)
	go func() {
		defer close(messages)
		for {
			_, msg, err := conn.Read(ctx)
			if err != nil {
				return // the close below ends the reads
			}
			messages <- string(msg)
		}
	}()
	if err := conn.Ping(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("pong")

	if err := conn.Write(ctx, websocket.MessageText, []byte("Hello, Server!")); err != nil {
		log.Fatal(err)
	}
	fmt.Println("echo:", <-messages)
	if err := conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		log.Fatal(err)
	}
	for range messages { // wait for the reader to end
	}
	fmt.Println("closed")
	// Output:
	// handshake: 101 Switching Protocols
	// pong
	// echo: Hello, Server!
	// closed
}

// Reading until the peer closes, and telling a normal close from a failure.
func ExampleCloseError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		conn.Close(websocket.StatusGoingAway, "server restarting")
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.CloseNow()
	for {
		_, _, err := conn.Read(ctx)
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			fmt.Println(ce.Code, ce.Reason)
			return
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	// Output: going away server restarting
}

// One message framed once and written to every connection: the broadcast path.
func ExampleNewPreparedMessage() {
	var conns []*websocket.Conn // the connections to broadcast to
	pm, err := websocket.NewPreparedMessage(websocket.MessageText, []byte(`{"news":"hello"}`))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, c := range conns {
		_ = c.WritePrepared(ctx, pm) // a slow or gone client only fails its own write
	}
}

// Options for a server that browsers on other sites may reach, with compression.
func ExampleAcceptOptions() {
	opts := &websocket.AcceptOptions{
		OriginPatterns: []string{"app.example.com", "*.example.org"},
		Subprotocols:   []string{"chat.v2", "chat.v1"},
		Compression:    websocket.CompressionNoContextTakeover,
		ReadLimit:      4 << 20,
		KeepAlive:      30 * time.Second,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		// Serve the connection from its own goroutine and return: net/http then frees the
		// buffers it holds for the request.
		go func() {
			defer conn.CloseNow()
			// ...
		}()
	})
	_ = http.ListenAndServe // e.g. http.ListenAndServe("127.0.0.1:8080", mux)
}
