package msgpackparser_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/tether-rt/tether/socketio"
	"github.com/tether-rt/tether/socketio/msgpackparser"
)

// A server and a client speaking MessagePack, as Node's new Server({parser}) and
// io(url, {parser}) with npm's socket.io-msgpack-parser do: handlers and acknowledgements are
// the same as with JSON, and binary values travel inside the one message of each packet.
func Example() {
	io := socketio.NewServer(&socketio.ServerOptions{Parser: msgpackparser.Parser{}})
	io.On("upload", func(name string, data []byte) (string, int) {
		return name, len(data)
	})
	srv := httptest.NewServer(io)
	defer srv.Close()
	defer io.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := socketio.Dial(ctx, srv.URL, &socketio.ClientOptions{Parser: msgpackparser.Parser{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	answer, err := c.EmitWithAck(ctx, "upload", "photo.jpg", []byte{0xff, 0xd8, 0xff})
	if err != nil {
		fmt.Println(err)
		return
	}
	var name string
	var size int
	if err := answer.Decode(&name, &size); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(name, size)
	// Output: photo.jpg 3
}

// The one message of an event, as socket.io-msgpack-parser writes it.
func ExampleParser_Encode() {
	msgs, err := msgpackparser.Parser{}.Encode(&socketio.WirePacket{
		Type:        socketio.PacketBinaryEvent,
		Namespace:   "/",
		ID:          1,
		Data:        []byte(`["hi",{"_placeholder":true,"num":0}]`),
		Attachments: [][]byte{{1, 2}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d message, binary %v: % x\n", len(msgs), msgs[0].Binary, msgs[0].Data)
	// Output: 1 message, binary true: 84 a4 74 79 70 65 02 a4 64 61 74 61 92 a2 68 69 c4 02 01 02 a3 6e 73 70 a1 2f a2 69 64 01
}
