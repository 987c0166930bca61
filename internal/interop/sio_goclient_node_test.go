package interop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/testenv"
	"github.com/tether-rt/tether/socketio"
)

// Our socketio.Client against Socket.IO servers we did not write: here Node's official
// socket.io server (node/sio-reference-server.mjs, the app of docs/TEST-SERVERS.md section 1);
// sio_goclient_python_test.go runs the same scenarios against python-socketio's.

// goClientTransports maps a transport mode to ClientOptions.Transports: polling only,
// WebSocket only, and polling upgraded to WebSocket.
var goClientTransports = map[string][]string{
	"polling":   {"polling"},
	"websocket": {"websocket"},
	"upgrade":   nil,
}

// gotEvent is an event a Go client received.
type gotEvent struct {
	name string
	args []any
}

// eventLog collects the events of one socket.
type eventLog chan gotEvent

func logEvents(s *socketio.ClientSocket) eventLog {
	ch := make(eventLog, 1024)
	s.OnAny(func(event string, args []any) {
		select {
		case ch <- gotEvent{event, args}:
		default: // a test that stopped reading
		}
	})
	return ch
}

// wait returns the next event called name whose arguments match (nil matches any), skipping
// others: servers shared by parallel tests broadcast to every client.
func (l eventLog) wait(t *testing.T, name string, match func(args []any) bool) []any {
	t.Helper()
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	for {
		select {
		case e := <-l:
			if e.name == name && (match == nil || match(e.args)) {
				return e.args
			}
		case <-timer.C:
			t.Fatalf("no %q event within 20s", name)
			return nil
		}
	}
}

// withoutOffset drops the offset a server with connection state recovery adds as the last
// argument of the events it sends without ack id.
func withoutOffset(args []any, recovery bool) []any {
	if recovery && len(args) > 0 {
		if _, ok := args[len(args)-1].(string); ok {
			return args[:len(args)-1]
		}
	}
	return args
}

func goCtx(t *testing.T) context.Context { return testContext(t, 20*time.Second) }

// newGoClient connects a client, letting setup register handlers first.
func newGoClient(t *testing.T, url string, transports []string, opts *socketio.ClientOptions, setup func(c *socketio.Client)) *socketio.Client {
	t.Helper()
	if opts == nil {
		opts = &socketio.ClientOptions{}
	}
	opts.Transports = transports
	c, err := socketio.NewClient(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if setup != nil {
		setup(c)
	}
	if err := c.Connect(goCtx(t)); err != nil {
		t.Fatalf("Connect %s: %v", url, err)
	}
	return c
}

// sample are arguments of every JSON type, with binary values at the top and nested.
var sample = []any{"hello", 42.5, true, nil, map[string]any{"bin": []byte{1, 2, 3}, "list": []any{[]byte{4}, "x"}}, []byte{0xff, 0}}

func sameArgs(t *testing.T, what string, got, want []any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %#v, want %#v", what, got, want)
	}
}

// scenarioSizes are the sizes a server copes with: how many acknowledgements in one burst,
// and how many bytes of text and binary in one large event.
type scenarioSizes struct {
	burst, text, binary int
}

// fullSizes suit servers without limits below the test app's 1,000,000-byte max payload.
var fullSizes = scenarioSizes{burst: 50, text: 150_000, binary: 200_000}

// runGoClientScenarios runs every scenario against the section 1 app at url, in one transport
// mode, with parser (nil: JSON); recovery says the server has connection state recovery on.
func runGoClientScenarios(t *testing.T, url, mode string, recovery bool, sizes scenarioSizes, parser socketio.Parser) {
	dial := func(t *testing.T, opts *socketio.ClientOptions, setup func(c *socketio.Client)) *socketio.Client {
		t.Helper()
		if opts == nil {
			opts = &socketio.ClientOptions{}
		}
		opts.Parser = parser
		return newGoClient(t, url, goClientTransports[mode], opts, setup)
	}
	t.Run("connect-auth", func(t *testing.T) {
		var l eventLog
		c := dial(t, &socketio.ClientOptions{Auth: map[string]any{"token": "abc", "n": 1}}, func(c *socketio.Client) { l = logEvents(c.ClientSocket) })
		sameArgs(t, "auth", withoutOffset(l.wait(t, "auth", nil), recovery), []any{map[string]any{"token": "abc", "n": 1.0}})
		if c.ID() == "" || !c.Connected() {
			t.Fatalf("id %q, connected %v", c.ID(), c.Connected())
		}
		var l2 eventLog
		dial(t, nil, func(c *socketio.Client) { l2 = logEvents(c.ClientSocket) })
		sameArgs(t, "auth", withoutOffset(l2.wait(t, "auth", nil), recovery), []any{map[string]any{}})
	})
	t.Run("message", func(t *testing.T) {
		var l eventLog
		c := dial(t, nil, func(c *socketio.Client) { l = logEvents(c.ClientSocket) })
		if err := c.Emit("message", sample...); err != nil {
			t.Fatal(err)
		}
		sameArgs(t, "message-back", withoutOffset(l.wait(t, "message-back", nil), recovery), sample)
	})
	t.Run("message-with-ack", func(t *testing.T) {
		c := dial(t, nil, nil)
		a, err := c.EmitWithAck(goCtx(t), "message-with-ack", sample...)
		if err != nil {
			t.Fatal(err)
		}
		sameArgs(t, "ack", a.Values(), sample)
		var s string
		var b []byte
		if err := a.Decode(&s, new(any), new(any), new(any), new(any), &b); err != nil || s != "hello" || string(b) != "\xff\x00" {
			t.Fatalf("Decode: %q %q %v", s, b, err)
		}
		// Answers come back in order, whatever their number.
		done := make(chan error, sizes.burst)
		for i := range sizes.burst {
			if err := c.EmitWithAckFunc(goCtx(t), func(a socketio.Args, err error) {
				var n int
				if err == nil {
					err = a.Decode(&n)
				}
				if err == nil && n != i {
					err = fmt.Errorf("ack %d for emit %d", n, i)
				}
				done <- err
			}, "message-with-ack", i); err != nil {
				t.Fatal(err)
			}
		}
		for range sizes.burst {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		// The app does not answer unknown events: the wait ends with the context.
		ctx, cancel := context.WithTimeout(goCtx(t), 300*time.Millisecond)
		defer cancel()
		if _, err := c.EmitWithAck(ctx, "unknown-event", 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("EmitWithAck(unknown-event) = %v", err)
		}
	})
	t.Run("rooms-and-broadcast", func(t *testing.T) {
		var la eventLog
		a := dial(t, nil, func(c *socketio.Client) { la = logEvents(c.ClientSocket) })
		b := dial(t, nil, nil)
		room := "room-" + a.ID()
		ack, err := a.EmitWithAck(goCtx(t), "join", room)
		if err != nil {
			t.Fatal(err)
		}
		sameArgs(t, "join ack", ack.Values(), []any{room})
		if err := b.Emit("to-room", room, "hi", []byte{7}); err != nil {
			t.Fatal(err)
		}
		sameArgs(t, "room-message", withoutOffset(la.wait(t, "room-message", nil), recovery), []any{"hi", []byte{7}})
		token := "b-" + b.ID()
		if err := b.Emit("broadcast", token, []byte{8}); err != nil {
			t.Fatal(err)
		}
		la.wait(t, "broadcast-back", func(args []any) bool { return len(args) > 0 && args[0] == token })
	})
	t.Run("request-ack", func(t *testing.T) {
		var l eventLog
		c := dial(t, nil, func(c *socketio.Client) {
			l = logEvents(c.ClientSocket)
			c.On("ack-me", func(ack socketio.Ack, args ...any) { ack(append(args, "from go")...) })
		})
		if err := c.Emit("request-ack", 1, []byte{9}); err != nil {
			t.Fatal(err)
		}
		sameArgs(t, "ack-me", l.wait(t, "ack-me", nil), []any{1.0, []byte{9}})
		sameArgs(t, "ack-result", withoutOffset(l.wait(t, "ack-result", nil), recovery), []any{1.0, []byte{9}, "from go"})
	})
	t.Run("disconnect-me", func(t *testing.T) {
		reasons := make(chan socketio.DisconnectReason, 2)
		c := dial(t, &socketio.ClientOptions{ReconnectionDelay: time.Millisecond}, func(c *socketio.Client) {
			c.OnDisconnect(func(r socketio.DisconnectReason) { reasons <- r })
		})
		if err := c.Emit("disconnect-me"); err != nil {
			t.Fatal(err)
		}
		if r := <-reasons; r != socketio.ReasonIOServerDisconnect {
			t.Fatalf("reason %q", r)
		}
		if c.Connected() || c.Emit("message") == nil {
			t.Fatal("still connected after a server-side disconnect")
		}
	})
	t.Run("namespaces", func(t *testing.T) {
		var lm eventLog
		c := dial(t, nil, func(c *socketio.Client) { lm = logEvents(c.ClientSocket) })
		custom := c.Of("/custom", map[string]any{"who": "custom"})
		lc := logEvents(custom)
		if err := custom.Connect(goCtx(t)); err != nil {
			t.Fatal(err)
		}
		sameArgs(t, "custom auth", withoutOffset(lc.wait(t, "auth", nil), recovery), []any{map[string]any{"who": "custom"}})
		var ce *socketio.ConnectError
		if err := c.Of("/nope", nil).Connect(goCtx(t)); !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
			t.Fatalf("Connect(/nope) = %v", err)
		}
		if err := custom.Disconnect(); err != nil {
			t.Fatal(err)
		}
		if err := c.Emit("message", "main still there"); err != nil {
			t.Fatal(err)
		}
		sameArgs(t, "message-back", withoutOffset(lm.wait(t, "message-back", nil), recovery), []any{"main still there"})
		if err := custom.Connect(goCtx(t)); err != nil {
			t.Fatal(err)
		}
		lc.wait(t, "auth", nil)
	})
	t.Run("large", func(t *testing.T) {
		c := dial(t, nil, nil)
		text := strings.Repeat("é", sizes.text) // two bytes each in UTF-8
		bin := make([]byte, sizes.binary)
		for i := range bin {
			bin[i] = byte(i)
		}
		a, err := c.EmitWithAck(goCtx(t), "message-with-ack", text, bin)
		if err != nil {
			t.Fatal(err)
		}
		var s string
		var b []byte
		if err := a.Decode(&s, &b); err != nil || s != text || !reflect.DeepEqual(b, bin) {
			t.Fatalf("large ack: %d chars, %d bytes, %v", len(s), len(b), err)
		}
	})
}

// TestGoClientNode runs every scenario against Node's socket.io, in every transport mode,
// with recovery off and on.
func TestGoClientNode(t *testing.T) {
	requireNode(t)
	t.Parallel()
	for _, recovery := range []bool{false, true} {
		t.Run(fmt.Sprintf("recovery=%v", recovery), func(t *testing.T) {
			t.Parallel()
			argv := []string{"node", "node/sio-reference-server.mjs", "0"}
			if recovery {
				argv = append(argv, "--recovery")
			}
			url := startListening(t, "node sio-reference-server.mjs", argv, "listening on ")
			for mode := range goClientTransports {
				t.Run(mode, func(t *testing.T) {
					t.Parallel()
					runGoClientScenarios(t, url, mode, recovery, fullSizes, nil)
				})
			}
		})
	}
}

// restartable is a server process that can be stopped and started again on the same port.
type restartable struct {
	argv   func(port string) []string
	prefix string // what precedes the URL on its first line
	port   string
	stop   func()
}

// start runs the server (on the port of the previous run, if any) and returns its URL.
func (r *restartable) start(t *testing.T) string {
	t.Helper()
	port := r.port
	if port == "" {
		port = "0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := command(ctx, r.argv(port))
	var output testenv.Buffer
	cmd.Stderr = &output
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	first := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		br := bufio.NewReader(stdout)
		line, _ := br.ReadString('\n')
		first <- line
		_, _ = io.Copy(&output, br)
	}()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			exited := make(chan struct{})
			go func() {
				<-copied
				_ = cmd.Wait()
				close(exited)
			}()
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cancel() // kills the group
				<-exited
			}
			cancel()
			_ = killGroup(cmd)
		})
	}
	t.Cleanup(r.stop)
	var line string
	select {
	case line = <-first:
	case <-time.After(30 * time.Second):
		t.Fatalf("%v printed no listening line within 30s", r.argv(port))
	}
	raw, ok := strings.CutPrefix(strings.TrimSpace(line), r.prefix)
	u, err := url.Parse(raw)
	if !ok || err != nil || u.Port() == "" {
		r.stop()
		t.Fatalf("%v: first line %q; output:\n%s", r.argv(port), line, output.String())
	}
	r.port = u.Port()
	return raw
}

// testReconnectAfterRestart connects, stops the server, emits while it is down, starts it
// again on the same port, and checks the client rejoins every namespace and sends what was
// buffered.
func testReconnectAfterRestart(t *testing.T, srv *restartable, mode string) {
	url := srv.start(t)
	connects := make(chan struct{}, 8)
	reasons := make(chan socketio.DisconnectReason, 8)
	var l eventLog
	c := newGoClient(t, url, goClientTransports[mode], &socketio.ClientOptions{
		ReconnectionDelay:    20 * time.Millisecond,
		ReconnectionDelayMax: 200 * time.Millisecond,
	}, func(c *socketio.Client) {
		l = logEvents(c.ClientSocket)
		c.OnConnect(func() { connects <- struct{}{} })
		c.OnDisconnect(func(r socketio.DisconnectReason) { reasons <- r })
	})
	<-connects
	l.wait(t, "auth", nil)
	custom := c.Of("/custom", map[string]any{"ns": "custom"})
	lc := logEvents(custom)
	if err := custom.Connect(goCtx(t)); err != nil {
		t.Fatal(err)
	}
	lc.wait(t, "auth", nil)
	first := c.ID()

	srv.stop()
	select {
	case r := <-reasons:
		// A server that takes its time to exit (python-socketio shuts down gracefully) may
		// stop pinging before its connections close: the client then sees a ping timeout.
		if r != socketio.ReasonTransportClose && r != socketio.ReasonTransportError && r != socketio.ReasonPingTimeout {
			t.Fatalf("reason %q", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no disconnect within 20s of the server's stop")
	}
	if err := c.Emit("message", "sent while down", []byte{1}); err != nil {
		t.Fatal(err)
	}
	acked := make(chan error, 1)
	c.EmitWithAckFunc(goCtx(t), func(a socketio.Args, err error) { acked <- err }, "message-with-ack", "later")

	srv.start(t)
	select {
	case <-connects:
	case <-time.After(20 * time.Second):
		t.Fatal("no reconnection within 20s of the restart")
	}
	l.wait(t, "auth", nil)
	sameArgs(t, "buffered message", l.wait(t, "message-back", nil), []any{"sent while down", []byte{1}})
	if err := <-acked; err != nil {
		t.Fatal(err)
	}
	sameArgs(t, "custom auth", lc.wait(t, "auth", nil), []any{map[string]any{"ns": "custom"}})
	if c.ID() == first || c.Recovered() {
		t.Fatalf("id %q (before %q), recovered %v", c.ID(), first, c.Recovered())
	}
}

func TestGoClientNodeRestart(t *testing.T) {
	requireNode(t)
	t.Parallel()
	for mode := range goClientTransports {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := &restartable{
				argv:   func(port string) []string { return []string{"node", "node/sio-reference-server.mjs", port} },
				prefix: "listening on ",
			}
			testReconnectAfterRestart(t, srv, mode)
		})
	}
}

// TestGoClientNodeRecovery cuts the network between a client and Node's socket.io with
// recovery on: the client comes back with its session (same id, same rooms), gets what was
// emitted to it meanwhile, and sends what it buffered.
func TestGoClientNodeRecovery(t *testing.T) {
	requireNode(t)
	t.Parallel()
	url := startListening(t, "node sio-reference-server.mjs --recovery",
		[]string{"node", "node/sio-reference-server.mjs", "0", "--recovery"}, "listening on ")
	for mode := range goClientTransports {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			proxy := startCutProxy(t, strings.TrimPrefix(url, "http://"))
			connects := make(chan struct{}, 8)
			reasons := make(chan socketio.DisconnectReason, 8)
			var l eventLog
			a := newGoClient(t, "http://"+proxy.addr(), goClientTransports[mode], &socketio.ClientOptions{
				ReconnectionDelay:    20 * time.Millisecond,
				ReconnectionDelayMax: 100 * time.Millisecond,
			}, func(c *socketio.Client) {
				l = logEvents(c.ClientSocket)
				c.OnConnect(func() { connects <- struct{}{} })
				c.OnDisconnect(func(r socketio.DisconnectReason) { reasons <- r })
			})
			<-connects
			l.wait(t, "auth", nil)
			room := "recovery-" + a.ID()
			if _, err := a.EmitWithAck(goCtx(t), "join", room); err != nil {
				t.Fatal(err)
			}
			b := newGoClient(t, url, goClientTransports[mode], nil, nil)
			id := a.ID()

			proxy.cut(true)
			<-reasons
			if err := b.Emit("to-room", room, "missed", []byte{5}); err != nil {
				t.Fatal(err)
			}
			// Node handles b's packets in order: once this answer is in, the one before has
			// been stored for a. The pause lets Node see a's connection go, which on
			// long-polling it may only learn from its heartbeat (300 ms + 200 ms here).
			if _, err := b.EmitWithAck(goCtx(t), "message-with-ack"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(700 * time.Millisecond)
			if err := a.Emit("message", "buffered"); err != nil {
				t.Fatal(err)
			}
			proxy.setDown(false)

			select {
			case <-connects:
			case <-time.After(20 * time.Second):
				t.Fatal("no reconnection within 20s")
			}
			if !a.Recovered() || a.ID() != id {
				t.Fatalf("recovered %v, id %q, want %q", a.Recovered(), a.ID(), id)
			}
			sameArgs(t, "missed room-message", withoutOffset(l.wait(t, "room-message", nil), true), []any{"missed", []byte{5}})
			sameArgs(t, "buffered", withoutOffset(l.wait(t, "message-back", nil), true), []any{"buffered"})
			// Still in the room.
			if err := b.Emit("to-room", room, "after"); err != nil {
				t.Fatal(err)
			}
			sameArgs(t, "room-message", withoutOffset(l.wait(t, "room-message", nil), true), []any{"after"})
		})
	}
}
