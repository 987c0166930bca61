package socketio

import (
	"fmt"
	"testing"
)

// TestSocketListenerRemoval checks Once, the removers On and OnAny return, Off, PrependAny,
// OffAny and ListenersAny on a server socket and its namespace. Each step ends with a "sync"
// event: the socket's events are handled in order, so by its answer the earlier ones are done.
func TestSocketListenerRemoval(t *testing.T) {
	ts := startClientServer(t, nil, func(io *Server) {
		nsp := io.Of("/")
		var removeNspHandler func()
		removeNspHandler = nsp.On("count", func(s *Socket) { s.Emit("nsp-count") })
		nsp.On("drop-nsp", func() { removeNspHandler() })
		io.OnConnect(func(s *Socket) {
			s.Once("once", func(s *Socket, n int) { s.Emit("once-got", n) })
			removeCount := s.On("count", func(s *Socket) { s.Emit("own-count") })
			s.On("drop-own", func() { removeCount() })
			s.On("tagged", func(s *Socket) { s.Emit("tagged-a") })
			s.On("tagged", func(s *Socket) { s.Emit("tagged-b") })
			s.On("off-tagged", func(s *Socket) { s.Off("tagged") })

			var order []string
			removeAny := s.OnAny(func(event string, _ []any) { order = append(order, "any1:"+event) })
			s.PrependAny(func(event string, _ []any) { order = append(order, "any0:"+event) })
			s.On("any-order", func(s *Socket) {
				s.Emit("order", fmt.Sprint(order), len(s.ListenersAny()))
				order = nil
			})
			s.On("any-reset", func() { order = nil })
			s.On("drop-any", func() { removeAny() })
			s.On("off-any", func(s *Socket) { s.OffAny() })

			var out []string
			removeOut := s.OnAnyOutgoing(func(event string, _ []any) { out = append(out, event) })
			s.On("out", func(s *Socket) {
				s.Emit("out-report", fmt.Sprint(out), len(s.ListenersAnyOutgoing()))
				removeOut()
				out = nil
				s.Emit("out-report", fmt.Sprint(out), len(s.ListenersAnyOutgoing()))
			})
			s.On("sync", func(s *Socket, n int) { s.Emit("sync", n) })
		})
	})
	var got clientEvents
	c := dialTest(t, ts.url, nil, func(c *Client) { got = recordEvents(c.ClientSocket) })

	c.Emit("once", 1)
	c.Emit("once", 2)
	c.Emit("sync", 1)
	got.expect(t, "once-got 1")
	got.expect(t, "sync 1")

	c.Emit("count")
	got.expect(t, "nsp-count")
	got.expect(t, "own-count")
	c.Emit("drop-own")
	c.Emit("count")
	got.expect(t, "nsp-count")
	c.Emit("drop-nsp")
	c.Emit("count")
	c.Emit("sync", 2)
	got.expect(t, "sync 2")

	c.Emit("tagged")
	got.expect(t, "tagged-a")
	got.expect(t, "tagged-b")
	c.Emit("off-tagged")
	c.Emit("tagged")
	c.Emit("sync", 3)
	got.expect(t, "sync 3")

	c.Emit("any-reset")
	c.Emit("any-order")
	got.expect(t, `order "[any0:any-order any1:any-order]" 2`)
	c.Emit("drop-any")
	c.Emit("any-order")
	got.expect(t, `order "[any0:drop-any any1:drop-any any0:any-order]" 1`)
	c.Emit("off-any")
	c.Emit("any-order")
	got.expect(t, `order "[any0:off-any]" 0`)

	c.Emit("out")
	got.expect(t, `out-report "[once-got sync nsp-count own-count nsp-count sync tagged-a tagged-b sync order order order]" 1`)
	got.expect(t, `out-report "[]" 0`)
}

// TestClientListenerRemoval checks the same registrations on the client's socket.
func TestClientListenerRemoval(t *testing.T) {
	ts := startClientServer(t, nil, clientEchoApp)
	var onceArgs, repeatArgs []string
	var order []string
	var c *Client
	var removeRepeat, removeAny1 func()
	c = dialTest(t, ts.url, nil, func(c *Client) {
		c.Once("message-back", func(s string) { onceArgs = append(onceArgs, s) })
		removeRepeat = c.On("message-back", func(s string) { repeatArgs = append(repeatArgs, s) })
		removeAny1 = c.OnAny(func(event string, _ []any) { order = append(order, "any1:"+event) })
		c.PrependAny(func(event string, _ []any) { order = append(order, "any0:"+event) })
	})
	// An acknowledgement's callback runs on the handlers' goroutine, after the events the server
	// sent before it: once it has run, the handlers are done with them.
	sync := func() {
		t.Helper()
		done := make(chan error, 1)
		if err := c.EmitWithAckFunc(clientCtx(t), func(_ Args, err error) { done <- err }, "message-with-ack"); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	c.Emit("message", "a")
	c.Emit("message", "b")
	sync()
	if fmt.Sprint(onceArgs, repeatArgs) != "[a] [a b]" {
		t.Fatalf("once %v, on %v", onceArgs, repeatArgs)
	}
	removeRepeat()
	c.Emit("message", "c")
	sync()
	if fmt.Sprint(repeatArgs) != "[a b]" || len(c.ListenersAny()) != 2 {
		t.Fatalf("after removal: on %v, %d catch-all", repeatArgs, len(c.ListenersAny()))
	}
	removeAny1()
	c.Emit("message", "d")
	sync()
	c.OffAny()
	c.Emit("message", "e")
	sync()
	want := "[any0:auth any1:auth any0:message-back any1:message-back any0:message-back any1:message-back any0:message-back any1:message-back any0:message-back]"
	if fmt.Sprint(order) != want || len(c.ListenersAny()) != 0 {
		t.Fatalf("catch-all order:\n got %v\nwant %s", order, want)
	}

	var out []string
	removeOut := c.OnAnyOutgoing(func(event string, _ []any) { out = append(out, event) })
	c.PrependAnyOutgoing(func(event string, _ []any) { out = append(out, "first:"+event) })
	c.Emit("message", "f")
	removeOut()
	c.Emit("message", "g")
	c.OffAnyOutgoing()
	c.Emit("message", "h")
	if fmt.Sprint(out) != "[first:message message first:message]" || len(c.ListenersAnyOutgoing()) != 0 {
		t.Fatalf("outgoing: %v", out)
	}

	c.On("message-back", func(s string) { repeatArgs = append(repeatArgs, s) })
	c.Off("message-back")
	c.Emit("message", "i")
	sync()
	if fmt.Sprint(repeatArgs) != "[a b]" {
		t.Fatalf("after Off: %v", repeatArgs)
	}
}
