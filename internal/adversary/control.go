//go:build linux

package adversary

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Control client settings: every ControlEvery the control client emits message-with-ack and
// must get the ack within ControlAckBound. The bound is generous so that a loaded 2-core CI
// machine does not fail it; an attack that hurts the server's other clients delays acks by
// far more, or disconnects them.
const (
	ControlEvery    = 100 * time.Millisecond
	ControlAckBound = 5 * time.Second
)

// sioPath is the Socket.IO endpoint over WebSocket, without polling first.
const sioPath = "/socket.io/?EIO=4&transport=websocket"

// SIOClient is a minimal Socket.IO v5 client over a raw WebSocket, connected to namespace "/":
// it answers pings, can emit message-with-ack on a timer and check the acks, and records
// everything that would hurt a real client as a failure: a disconnect, a missing ack, a text
// frame that is not valid UTF-8. It serves as the control client, and as the healthy clients
// and observers of some attacks.
type SIOClient struct {
	Name string
	SID  string // the Engine.IO session id
	ws   *WS

	mu       sync.Mutex
	start    time.Time
	failures []string
	more     int // failures past maxFailures
	closing  bool
	pending  map[int]time.Time // ack id → when it was asked for
	nextID   int
	acks     int
	acked    chan struct{} // closed and replaced on every ack

	onEvent func(payload []byte) // "42" packets, without the "42"
	stop    chan struct{}
	wg      sync.WaitGroup
}

// DialSIO opens a Socket.IO connection to "/" over conn (which it closes on failure) within
// ctx: the WebSocket handshake, the Engine.IO open packet, CONNECT and its answer.
func DialSIO(ctx context.Context, name string, conn net.Conn) (*SIOClient, error) {
	c, err := dialSIO(ctx, name, conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

func dialSIO(ctx context.Context, name string, conn net.Conn) (*SIOClient, error) {
	ws, err := Handshake(ctx, conn, sioPath)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	f, err := ws.ReadFrame(64 << 10)
	if err != nil {
		return nil, fmt.Errorf("reading the open packet: %w", err)
	}
	if f.Op != OpText || !bytes.HasPrefix(f.Payload, []byte("0{")) {
		return nil, fmt.Errorf("first frame %q (opcode %d), want the open packet 0{…}", f.Payload, f.Op)
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(f.Payload[1:], &open); err != nil || open.SID == "" {
		return nil, fmt.Errorf("open packet %q: no sid", f.Payload)
	}
	if err := ws.WriteText("40"); err != nil {
		return nil, err
	}
	for {
		f, err := ws.ReadFrame(1 << 20)
		if err != nil {
			return nil, fmt.Errorf("waiting for the CONNECT answer: %w", err)
		}
		switch {
		case f.Op == OpText && bytes.Equal(f.Payload, []byte("2")):
			if err := ws.WriteText("3"); err != nil {
				return nil, err
			}
		case f.Op == OpText && bytes.HasPrefix(f.Payload, []byte("40{")):
			if !stop() {
				return nil, ctx.Err()
			}
			ws.SetWriteTimeout(ControlAckBound)
			return &SIOClient{Name: name, SID: open.SID, ws: ws, start: time.Now(), pending: map[int]time.Time{},
				acked: make(chan struct{}), stop: make(chan struct{})}, nil
		default:
			return nil, fmt.Errorf("CONNECT answered with %q (opcode %d), want 40{\"sid\":…}", f.Payload, f.Op)
		}
	}
}

// Start runs the reader. onEvent, if not nil, is called on the reader's goroutine with the
// JSON array of every event the server sends.
func (c *SIOClient) Start(onEvent func(payload []byte)) {
	c.onEvent = onEvent
	c.wg.Go(c.read)
}

// StartAcks emits message-with-ack every `every` and fails any ack not back within bound.
func (c *SIOClient) StartAcks(every, bound time.Duration) {
	c.wg.Go(func() { c.emitAcks(every, bound) })
}

// Emit sends the event packet 42 followed by the JSON array arr.
func (c *SIOClient) Emit(arr string) error {
	return c.ws.WriteText("42" + arr)
}

// Ask emits message-with-ack with an id of its own and waits for the ack. The ack counts as
// late (a failure) past the bound StartAcks set, if it was called.
func (c *SIOClient) Ask(ctx context.Context) error {
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.pending[id] = time.Now()
	c.mu.Unlock()
	if err := c.Emit(strconv.Itoa(id) + `["message-with-ack",` + strconv.Itoa(id) + `]`); err != nil {
		return err
	}
	for {
		c.mu.Lock()
		_, waiting := c.pending[id]
		ch, fails := c.acked, len(c.failures)
		c.mu.Unlock()
		if !waiting {
			return nil
		}
		if fails > 0 {
			return fmt.Errorf("%s: %v", c.Name, c.Failures())
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Failures returns what went wrong so far, each with the time since the client connected.
func (c *SIOClient) Failures() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]string(nil), c.failures...)
	if c.more > 0 {
		out = append(out, fmt.Sprintf("%s: %d more failures", c.Name, c.more))
	}
	return out
}

// Acks returns how many acks came back.
func (c *SIOClient) Acks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acks
}

// WaitAcks waits until at least n acks came back.
func (c *SIOClient) WaitAcks(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		got, ch, fails := c.acks, c.acked, len(c.failures)
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		if fails > 0 {
			return fmt.Errorf("%s: %v", c.Name, c.Failures())
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%s: %d of %d acks: %w", c.Name, got, n, ctx.Err())
		}
	}
}

// Close ends the connection from the client's side (nothing after this is a failure) and
// waits for the client's goroutines.
func (c *SIOClient) Close() {
	c.mu.Lock()
	already := c.closing
	c.closing = true
	c.mu.Unlock()
	if already {
		return
	}
	close(c.stop)
	_ = c.ws.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.ws.WriteFrame(Frame{Fin: true, Op: OpClose, Masked: true, Payload: ClosePayload(1000, "")})
	_ = c.ws.Conn.Close()
	c.wg.Wait()
}

// fail records a failure, unless the client is closing.
func (c *SIOClient) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if len(c.failures) >= maxFailures {
		c.more++
		return
	}
	msg := fmt.Sprintf(format, args...)
	c.failures = append(c.failures, fmt.Sprintf("%s at %.1fs: %s", c.Name, time.Since(c.start).Seconds(), msg))
}

// maxFailures is how many failures a client records; the rest are only counted.
const maxFailures = 20

func (c *SIOClient) read() {
	var msg []byte // a fragmented message being put together
	var msgOp byte
	for {
		f, err := c.ws.ReadFrame(8 << 20)
		if err != nil {
			c.fail("connection lost: %v", err)
			return
		}
		switch f.Op {
		case OpClose:
			code, reason := CloseFrame(f.Payload)
			c.fail("server sent a close frame %d %q", code, reason)
			return
		case OpPing:
			_ = c.ws.WriteFrame(Frame{Fin: true, Op: OpPong, Masked: true, Payload: f.Payload})
			continue
		case OpPong:
			continue
		case OpText, OpBinary:
			msg, msgOp = f.Payload, f.Op
		case OpContinuation:
			msg = append(msg, f.Payload...)
		}
		if !f.Fin {
			continue
		}
		if msgOp == OpText {
			if !utf8.Valid(msg) {
				c.fail("text frame of %d bytes is not valid UTF-8: %q", len(msg), clip(msg, 80))
			}
			c.handle(msg)
		}
		msg = nil
	}
}

// handle takes one Engine.IO text packet.
func (c *SIOClient) handle(p []byte) {
	switch {
	case bytes.Equal(p, []byte("2")):
		if err := c.ws.WriteText("3"); err != nil {
			c.fail("answering a ping: %v", err)
		}
	case len(p) > 0 && p[0] == '1':
		c.fail("Engine.IO close packet")
	case bytes.HasPrefix(p, []byte("41")):
		c.fail("the server disconnected the namespace: %q", clip(p, 80))
	case bytes.HasPrefix(p, []byte("44")):
		c.fail("CONNECT_ERROR: %q", clip(p, 80))
	case bytes.HasPrefix(p, []byte("43")):
		i := 2
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
		}
		id, err := strconv.Atoi(string(p[2:i]))
		if err != nil {
			c.fail("ack without an id: %q", clip(p, 80))
			return
		}
		c.mu.Lock()
		if _, ok := c.pending[id]; ok {
			delete(c.pending, id)
			c.acks++
			close(c.acked)
			c.acked = make(chan struct{})
		}
		c.mu.Unlock()
	case bytes.HasPrefix(p, []byte("42")):
		if c.onEvent != nil {
			c.onEvent(p[2:])
		}
	}
}

func (c *SIOClient) emitAcks(every, bound time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-tick.C:
			c.mu.Lock()
			id := c.nextID
			c.nextID++
			c.pending[id] = now
			var late []int
			for pid, at := range c.pending {
				if now.Sub(at) > bound {
					late = append(late, pid)
					delete(c.pending, pid)
				}
			}
			c.mu.Unlock()
			for _, pid := range late {
				c.fail("no ack for message-with-ack %d within %v", pid, bound)
			}
			err := c.Emit(strconv.Itoa(id) + `["message-with-ack",` + strconv.Itoa(id) + `]`)
			if err != nil && !errors.Is(err, net.ErrClosed) {
				c.fail("emitting message-with-ack %d: %v", id, err)
			}
		}
	}
}

// clip returns at most n bytes of b, for messages.
func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
