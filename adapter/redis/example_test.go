package redis_test

import (
	"context"
	"log"
	"net/http"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/adapter/redis"
	"github.com/tether-rt/tether/socketio"
)

// A node of a cluster: run several, on one Redis, behind a load balancer. Node servers using
// @socket.io/redis-adapter on the same Redis join the same cluster.
func ExampleNewAdapter() {
	opt, err := goredis.ParseURL("redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	rdb := goredis.NewClient(opt)
	defer rdb.Close()

	srv := socketio.NewServer(&socketio.ServerOptions{Adapter: redis.NewAdapter(rdb, nil)})
	srv.On("chat", func(s *socketio.Socket, room, text string) {
		// Reaches the room's sockets on every node.
		_ = s.To(room).Emit("chat", text)
	})
	log.Fatal(http.ListenAndServe(":3000", srv))
}

// Recovery across nodes: with the streams adapter, a client cut from one node gets its
// session and missed events back from whichever node it reaches next.
func ExampleNewStreamsAdapter() {
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	srv := socketio.NewServer(&socketio.ServerOptions{
		Adapter:  redis.NewStreamsAdapter(rdb, nil),
		Recovery: &socketio.RecoveryOptions{},
	})
	log.Fatal(http.ListenAndServe(":3000", srv))
}

// Sending to a cluster's clients from a worker that runs no Socket.IO server.
func ExampleEmitter() {
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	ctx := context.Background()

	e := redis.NewEmitter(rdb, nil)
	if err := e.To("room-42").Emit(ctx, "price", 101.5); err != nil {
		log.Print(err)
	}
	if err := e.Of("/admin").ServerSideEmit(ctx, "reload-config"); err != nil {
		log.Print(err)
	}
}
