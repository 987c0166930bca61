package socketio_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tether-rt/tether/socketio"
)

// The Go client: register handlers, connect, emit with and without an acknowledgement. The
// server here is started in the example; a real client dials a URL such as
// http://127.0.0.1:3000 (the path /socket.io/ is the default). Node's equivalent is
// io(url).on("welcome", …) and socket.emitWithAck("sum", 2, 3).
func ExampleNewClient() {
	io := socketio.NewServer(nil)
	io.OnConnect(func(s *socketio.Socket) {
		s.Emit("welcome", "hello from the server")
	})
	io.On("sum", func(s *socketio.Socket, a, b int) int { return a + b })
	io.On("shout", func(s *socketio.Socket, text string) {
		s.Emit("echo", strings.ToUpper(text))
	})
	srv := httptest.NewServer(io)
	defer srv.Close()
	defer io.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// NewClient, then On, then Connect: handlers registered before Connect see the events
	// the server emits as soon as the socket joins.
	c, err := socketio.NewClient(srv.URL, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	welcome := make(chan string, 1)
	c.On("welcome", func(text string) { welcome <- text })
	echoed := make(chan string, 1)
	c.On("echo", func(text string) { echoed <- text })
	if err := c.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("welcome:", <-welcome)

	answer, err := c.EmitWithAck(ctx, "sum", 2, 3)
	if err != nil {
		log.Fatal(err)
	}
	var sum int
	if err := answer.Decode(&sum); err != nil {
		log.Fatal(err)
	}
	fmt.Println("2 + 3 =", sum)

	if err := c.Emit("shout", "quiet please"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("echo:", <-echoed)
	// Output:
	// welcome: hello from the server
	// 2 + 3 = 5
	// echo: QUIET PLEASE
}
