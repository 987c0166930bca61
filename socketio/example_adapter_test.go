package socketio_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"

	"github.com/tether-rt/tether/socketio"
)

// countingAdapter is a complete adapter for one node that counts its namespace's broadcasts:
// the embedded MemoryAdapter keeps the rooms and delivers, and the wrapper overrides the one
// method it adds to. A cluster adapter has the same shape, publishing where this one counts.
type countingAdapter struct {
	*socketio.MemoryAdapter
	broadcasts *atomic.Int64
}

func (a countingAdapter) Broadcast(p *socketio.Packet, opts socketio.BroadcastOptions) error {
	a.broadcasts.Add(1)
	return a.MemoryAdapter.Broadcast(p, opts)
}

// An adapter wrapping MemoryAdapter, made by the factory in ServerOptions.Adapter from the
// namespace's AdapterHost; it also listens to the host's room events (Node's create-room and
// join-room).
func Example_adapter() {
	var broadcasts atomic.Int64
	var mu sync.Mutex
	var rooms []string
	srv := socketio.NewServer(&socketio.ServerOptions{
		Adapter: func(host socketio.AdapterHost) socketio.Adapter {
			host.OnRoomEvent(func(e socketio.RoomEvent) {
				if e.Room == "lobby" { // every socket has a room of its own, too
					mu.Lock()
					rooms = append(rooms, e.Kind.String()+" "+e.Room)
					mu.Unlock()
				}
			})
			return countingAdapter{socketio.NewMemoryAdapter(host), &broadcasts}
		},
	})
	srv.OnConnect(func(s *socketio.Socket) { s.Join("lobby") })
	// A socket's handlers run after its connect hooks: answering "ready" says it is in the lobby.
	srv.On("ready", func() bool { return true })
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	ctx := context.Background()
	client, err := socketio.Dial(ctx, hs.URL, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	got := make(chan string, 1)
	client.On("news", func(text string) { got <- text })
	if _, err := client.EmitWithAck(ctx, "ready"); err != nil {
		fmt.Println(err)
		return
	}
	srv.To("lobby").Emit("news", "hello")
	fmt.Println("client got:", <-got)
	fmt.Println("broadcasts:", broadcasts.Load())
	mu.Lock()
	fmt.Println(rooms)
	mu.Unlock()
	// Output:
	// client got: hello
	// broadcasts: 1
	// [create-room lobby join-room lobby]
}
