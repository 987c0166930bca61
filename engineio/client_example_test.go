package engineio_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/tether-rt/tether/engineio"
)

// A client sends a message and reads until the server closes the session.
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := engineio.Dial(ctx, "http://127.0.0.1:3000/engine.io/", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if err := c.Send(ctx, []byte("hello"), false); err != nil {
		log.Fatal(err)
	}
	for {
		m, err := c.Read(ctx)
		if errors.Is(err, engineio.CloseTransportClose) {
			return // the server closed the session
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s over %s\n", m.Data, c.Transport())
	}
}
