// Echo-client sends one message to the echo server and prints the reply.
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/tether-rt/tether/websocket"
)

func main() {
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, "ws://localhost:8765", nil)
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
}
