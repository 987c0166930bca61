package websocket

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// MessageType is the type of a data message.
type MessageType int

const (
	// MessageText is a UTF-8 text message.
	MessageText MessageType = 1
	// MessageBinary is a binary message.
	MessageBinary MessageType = 2
)

func (t MessageType) String() string {
	switch t {
	case MessageText:
		return "text"
	case MessageBinary:
		return "binary"
	}
	return fmt.Sprintf("MessageType(%d)", int(t))
}

const (
	defaultReadLimit = 1 << 20
	// closeTimeout bounds the wait for the peer's half of the close handshake.
	closeTimeout = 5 * time.Second
	// closePoll is how often Close checks whether anyone is reading.
	closePoll = 10 * time.Millisecond
	// DefaultWriteTimeout is the WriteTimeout of AcceptOptions and DialOptions left at zero.
	DefaultWriteTimeout = 10 * time.Second
)

// Conn is a WebSocket connection, from Accept or Dial.
//
// One goroutine at a time reads (Read or Reader); pings are answered and close frames handled
// inside reads, so a connection that expects pongs or a peer's close must have a reader. Writes
// (Write, Writer, WritePrepared, Ping, Close) are safe from any number of goroutines: messages are
// never interleaved.
type Conn struct {
	// What TryWritePrepared and a broadcast's PreparedBatch touch comes first, in one cache
	// line: in a broadcast to thousands of connections each line is a cache miss. The rest is
	// grouped by size, pointers first and flags last, so that the struct has no padding: every
	// idle connection holds one, and a few bytes decide its size class.
	nc            net.Conn
	compressAbove int
	msgLock       ctxMutex   // one data message at a time, held across a Writer's fragments
	frameMu       sync.Mutex // one frame at a time; control frames slip in between fragments
	// nowait is TryWritePrepared's direct writer, made on first use: see Conn.socketWriter.
	nowait    atomic.Pointer[socketWriter]
	client    bool
	neg       negotiated
	closeSent bool // guarded by frameMu

	subprotocol string
	onPing      func([]byte)
	onPong      func([]byte)
	readLimit   atomic.Int64

	rd    readState             // read side, owned by whoever holds rd.lock
	watch atomic.Pointer[watch] // set by Poller.Watch

	// Write side (and msgLock, frameMu, nowait and closeSent, above).
	maskRand *rand.ChaCha8  // clients only; guarded by frameMu
	vec      net.Buffers    // header and payload of a large frame, for writev; guarded by frameMu
	mw       *messageWriter // made by the first Writer, which holds msgLock
	// writeTimeout bounds every write to the network; writeDeadline is the deadline last set
	// on it, guarded by frameMu.
	writeTimeout  time.Duration
	writeDeadline time.Time

	// Lifecycle. The channel that tells waiters the connection closed is made only when a
	// wait needs it (Ping, CloseContext): most connections never wait, and a channel is
	// 96 bytes of every idle connection.
	closeErr error         // why the connection ended; set before closed
	closedCh chan struct{} // closed with the connection; made on first use, guarded by mu
	mu       sync.Mutex    // guards closedCh and the ping fields
	pingSeq  uint64
	// pingWaits holds the Pings waiting for their pong; made on first use.
	pingWaits map[uint64]chan struct{}

	keepAlive      time.Duration
	keepAliveTimer *time.Timer

	closed          atomic.Bool // set once, under mu, when the network connection is closed
	peerClose       atomic.Bool // the peer's close frame has arrived
	activity        atomic.Bool // a frame arrived since the last keep-alive tick
	keepAliveUnseen bool        // a keep-alive ping is unanswered; only touched by the timer
}

// connConfig is what Accept and Dial hand to newConn.
type connConfig struct {
	client        bool
	subprotocol   string
	neg           negotiated
	compressAbove int
	readLimit     int64
	keepAlive     time.Duration
	writeTimeout  time.Duration
	onPing        func([]byte)
	onPong        func([]byte)
}

func newConn(nc net.Conn, prefix []byte, cfg connConfig) *Conn {
	c := &Conn{
		nc:            nc,
		client:        cfg.client,
		subprotocol:   cfg.subprotocol,
		neg:           cfg.neg,
		compressAbove: cfg.compressAbove,
		onPing:        cfg.onPing,
		onPong:        cfg.onPong,
		keepAlive:     cfg.keepAlive,
		writeTimeout:  cfg.writeTimeout,
	}
	if c.writeTimeout <= 0 {
		c.writeTimeout = DefaultWriteTimeout
	}
	// Deadlines left by the HTTP server or the handshake (a server's ReadTimeout, say) would
	// end the connection at a time unrelated to it; from here on the Conn sets its own.
	_ = nc.SetDeadline(time.Time{})
	if c.compressAbove <= 0 {
		c.compressAbove = defaultCompressAbove
	}
	c.SetReadLimit(cfg.readLimit)
	c.rd.init(c, prefix)
	if c.client {
		var seed [32]byte
		_, _ = crand.Read(seed[:]) // never fails on supported platforms
		c.maskRand = rand.NewChaCha8(seed)
	}
	if c.keepAlive > 0 {
		t := time.AfterFunc(time.Hour, c.keepAliveTick)
		t.Stop()
		c.keepAliveTimer = t // assigned before the first tick can run
		t.Reset(c.keepAlive)
	}
	return c
}

// Subprotocol returns the subprotocol agreed in the handshake, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetReadLimit sets the largest message, in bytes after decompression, that reads accept. A
// larger message fails the connection with StatusMessageTooBig before it is buffered. Zero
// restores the default of 1 MiB; a negative limit removes it.
func (c *Conn) SetReadLimit(n int64) {
	if n == 0 {
		n = defaultReadLimit
	}
	c.readLimit.Store(n)
}

// Close performs the closing handshake: it sends a close frame with code and reason, waits a
// bounded time (5 s) for the peer's close frame, then closes the connection. It is
// CloseContext with a context that never ends.
func (c *Conn) Close(code StatusCode, reason string) error {
	return c.CloseContext(context.Background(), code, reason)
}

// CloseContext performs the closing handshake: it sends a close frame with code and reason,
// waits for the peer's close frame until ctx ends or for 5 s at most, then closes the
// connection. Use StatusNoStatusRcvd to send a close frame without a code. Reads and writes
// after it fail with an error matching ErrClosed.
//
// A write blocked on a peer that does not read never holds it up beyond that bound: when the
// close frame cannot be sent in time, the connection is closed without it, which also ends
// the blocked write.
//
// The peer's close frame arrives through reads. A Read blocked in another goroutine receives it;
// when no Read is in progress (for about 20 ms), CloseContext reads itself and discards the
// messages that arrive before the peer's close frame. To be sure to receive every message the
// peer sends before closing, keep reading until a read returns the *CloseError.
func (c *Conn) CloseContext(ctx context.Context, code StatusCode, reason string) error {
	if code != StatusNoStatusRcvd && !code.sendable() {
		return fmt.Errorf("websocket: close code %d may not be sent", int(code))
	}
	ctx, cancel := context.WithTimeout(ctx, closeTimeout)
	defer cancel()
	if err := c.writeClose(ctx, code, reason); err != nil {
		c.closeWith(nil)
		return err
	}
	// Wait for the peer's close frame, read by the user's reader or, when none is reading, by
	// this goroutine. Reading is taken over only when no read was in progress at two checks in a
	// row, which gives a read loop busy with a message the time to come back for the next.
	tick := time.NewTicker(closePoll)
	defer tick.Stop()
	closed := c.closedChan()
	idleChecks := 0
	for done := false; !done; {
		select {
		case <-closed: // also when the peer's close frame arrives: the reader then closes
			done = true
		case <-ctx.Done():
			done = true
		case <-tick.C:
			if !c.rd.lock.tryLock() {
				idleChecks = 0
			} else if idleChecks++; idleChecks < 2 {
				c.rd.lock.unlock()
			} else {
				c.rd.drain(ctx)
				if c.rd.err == nil {
					c.rd.err = ErrClosed
				} else {
					c.rd.err = fmt.Errorf("%w: %w", ErrClosed, c.rd.err)
				}
				c.rd.lock.unlock()
				done = true
			}
		}
	}
	c.closeWith(nil)
	return nil
}

// CloseNow closes the connection at once, without a close handshake.
func (c *Conn) CloseNow() error {
	if !c.closeWith(nil) {
		return ErrClosed
	}
	return nil
}

// closeWith closes the network connection once, recording why; it reports whether this call
// closed it. A nil reason means the user closed it.
func (c *Conn) closeWith(reason error) bool {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return false
	}
	c.closeErr = reason
	c.closed.Store(true)
	if c.closedCh != nil {
		close(c.closedCh)
	}
	c.mu.Unlock()
	c.unwatch()
	c.retireSocketWriter() // before the descriptor can be closed and its number reused
	_ = c.nc.Close()
	if c.keepAliveTimer != nil {
		c.keepAliveTimer.Stop()
	}
	return true
}

// closedChan returns a channel closed when the network connection is, for a select; it is
// made by the first call.
func (c *Conn) closedChan() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closedCh == nil {
		c.closedCh = make(chan struct{})
		if c.closed.Load() {
			close(c.closedCh)
		}
	}
	return c.closedCh
}

// isClosed reports whether the network connection was closed.
func (c *Conn) isClosed() bool { return c.closed.Load() }

// errClosed is what operations on a closed connection return: ErrClosed, carrying the reason.
// It is called once isClosed or closeWith has reported the connection closed, so closeErr,
// written before the flag, is set.
func (c *Conn) errClosed() error {
	if c.closeErr == nil {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, c.closeErr)
}

// gotPeerClose reports whether the peer's close frame has arrived.
func (c *Conn) gotPeerClose() bool { return c.peerClose.Load() }

// peerClosed records the peer's close frame.
func (c *Conn) peerClosed() { c.peerClose.Store(true) }

// fail ends the connection because of err, from the reading side: a protocol error is reported
// to the peer with its close code, then the connection is closed. It returns the error the reader
// should see.
func (c *Conn) fail(err error) error {
	if c.isClosed() {
		return c.errClosed()
	}
	var ce *CloseError
	if errors.As(err, &ce) && ce.Code.sendable() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if c.writeClose(ctx, ce.Code, ce.Reason) == nil {
			c.linger()
		}
		cancel()
	}
	if !c.closeWith(err) {
		return c.errClosed()
	}
	return err
}

// lingerTimeout bounds how long a failed connection waits for the peer to stop sending.
const lingerTimeout = 2 * time.Second

// linger lets the close frame just sent reach the peer before the connection is closed. A peer
// may still be sending (the rest of an oversized message, say); closing a socket with unread
// input makes the kernel send a reset, which can destroy the close frame before the peer reads
// it. So: signal the end of our output, then discard input until the peer closes its side, or
// for a bounded time.
func (c *Conn) linger() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	var buf [512]byte
	for range 1 << 16 { // at most 32 MiB
		if _, err := c.nc.Read(buf[:]); err != nil {
			return
		}
	}
}

// Ping sends a ping and waits for its pong. Another goroutine must be reading, since pongs are
// received by reads.
func (c *Conn) Ping(ctx context.Context) error {
	c.mu.Lock()
	c.pingSeq++
	seq := c.pingSeq
	if c.pingWaits == nil {
		c.pingWaits = make(map[uint64]chan struct{})
	}
	done := make(chan struct{})
	c.pingWaits[seq] = done
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pingWaits, seq)
		c.mu.Unlock()
	}()

	var payload [8]byte
	binary.BigEndian.PutUint64(payload[:], seq)
	if err := c.writeControl(ctx, opPing, payload[:]); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-c.closedChan():
		return c.errClosed()
	case <-ctx.Done():
		return fmt.Errorf("websocket: ping: %w", ctx.Err())
	}
}

// gotPong wakes the Ping waiting for this pong, if any.
func (c *Conn) gotPong(p []byte) {
	if len(p) != 8 {
		return
	}
	seq := binary.BigEndian.Uint64(p)
	c.mu.Lock()
	if done, ok := c.pingWaits[seq]; ok {
		close(done)
		delete(c.pingWaits, seq)
	}
	c.mu.Unlock()
}

// keepAliveTick runs on the keep-alive timer: a quiet peer is pinged, and a peer still quiet a
// whole interval after the ping is considered gone.
func (c *Conn) keepAliveTick() {
	if c.isClosed() {
		return
	}
	if c.activity.Swap(false) {
		c.keepAliveUnseen = false
		c.keepAliveTimer.Reset(c.keepAlive)
		return
	}
	if c.keepAliveUnseen {
		c.closeWith(&CloseError{
			Code:   StatusAbnormalClosure,
			Reason: fmt.Sprintf("keep-alive timeout: no answer to a ping within %v", c.keepAlive),
			Local:  true,
		})
		return
	}
	c.keepAliveUnseen = true
	ctx, cancel := context.WithTimeout(context.Background(), c.keepAlive)
	_ = c.writeControl(ctx, opPing, nil)
	cancel()
	c.keepAliveTimer.Reset(c.keepAlive)
}

// aLongTimeAgo is a deadline in the past: setting it makes blocked I/O return at once.
var aLongTimeAgo = time.Unix(1, 0)

// Which deadline watchCtx interrupts.
const (
	readSide = iota
	writeSide
	bothSides
)

// watchCtx arranges for ctx's end to interrupt I/O on nc by setting a deadline in the past on
// the given side. The returned function stops the watch and reports whether ctx ended first, in
// which case the connection is no longer usable. It returns nil, and costs nothing, for a ctx
// that never ends.
func watchCtx(ctx context.Context, nc net.Conn, side int) func() bool {
	if ctx.Done() == nil {
		return nil
	}
	stop := context.AfterFunc(ctx, func() {
		switch side {
		case readSide:
			_ = nc.SetReadDeadline(aLongTimeAgo)
		case writeSide:
			_ = nc.SetWriteDeadline(aLongTimeAgo)
		default:
			_ = nc.SetDeadline(aLongTimeAgo)
		}
	})
	return func() bool { return !stop() }
}
