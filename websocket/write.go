package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unicode/utf8"
)

const (
	// copyLimit is the largest payload copied behind its header to go out in one write;
	// larger ones are written from the caller's slice with writev.
	copyLimit = 16 << 10
	// fragmentSize is how much a Writer buffers before it sends a fragment.
	fragmentSize = 32 << 10
	// writeChunk is the most handed to the socket in one write: each chunk gets WriteTimeout
	// anew, so the timeout bounds a stall, not the time a large message takes to a slow peer.
	writeChunk = 256 << 10
)

// errCloseSent is returned for messages written after this side sent its close frame.
var errCloseSent = fmt.Errorf("%w: close frame already sent", ErrClosed)

func dataOpcode(typ MessageType) (opcode, error) {
	switch typ {
	case MessageText:
		return opText, nil
	case MessageBinary:
		return opBinary, nil
	}
	return 0, fmt.Errorf("websocket: invalid message type %d", int(typ))
}

// Write sends p as one message. It is safe to call from many goroutines; messages go out whole,
// one after another. If ctx ends before the message is written, the connection is closed. A
// text message must be valid UTF-8: otherwise nothing is sent and the error is ErrInvalidUTF8.
func (c *Conn) Write(ctx context.Context, typ MessageType, p []byte) error {
	op, err := dataOpcode(typ)
	if err != nil {
		return err
	}
	if op == opText && !utf8.Valid(p) {
		return ErrInvalidUTF8
	}
	if err := c.msgLock.lock(ctx); err != nil {
		return err
	}
	defer c.msgLock.unlock()
	if c.neg.deflate && len(p) >= c.compressAbove {
		bp := getBuf()
		defer putBuf(bp)
		b := appendDeflate(headroom(bp), p, c.neg.ownSmallWindow)
		*bp = b
		return c.writeBuffered(ctx, b, true, op, true)
	}
	return c.writeFrame(ctx, true, op, p)
}

// headroom returns the pooled buffer emptied but for room to put a frame header in front of
// the payload that will be appended.
func headroom(bp *[]byte) []byte {
	b := *bp
	if cap(b) < maxHeaderSize {
		b = make([]byte, 0, 4096)
	}
	return b[:maxHeaderSize]
}

// writeFrame writes one uncompressed frame carrying p, which it does not modify.
func (c *Conn) writeFrame(ctx context.Context, fin bool, op opcode, p []byte) error {
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	if c.closeSent {
		return c.errAfterClose()
	}
	c.armWrite()
	stop := watchCtx(ctx, c.nc, writeSide)
	h := header{fin: fin, opcode: op, length: int64(len(p))}
	bp := getBuf()
	b := appendHeader((*bp)[:0], c.maskHeader(&h))
	var err error
	switch {
	case !c.client && len(p) > writeChunk:
		if err = c.writeNet(b); err == nil {
			err = c.writeNet(p)
		}
	case !c.client && len(p) > copyLimit:
		// writev from a slice kept in the Conn: a local one would escape, one allocation a write.
		c.vec = append(c.vec[:0], b, p)
		_, err = c.vec.WriteTo(c.nc)
		c.vec = c.vec[:cap(c.vec)]
		clear(c.vec) // keep no reference to the caller's payload
	default:
		// Copy behind the header: one write for small payloads, and for clients a copy to mask.
		key := h.maskKey
		for first := true; first || len(p) > 0; first = false {
			chunk := p[:min(len(p), fragmentSize)]
			off := len(b)
			b = append(b, chunk...)
			if h.masked {
				key = mask(key, b[off:])
			}
			c.armWrite()
			if _, err = c.nc.Write(b); err != nil {
				break
			}
			b, p = b[:0], p[len(chunk):]
		}
	}
	*bp = b
	putBuf(bp)
	return c.wrote(ctx, stop, err)
}

// writeBuffered writes a frame whose payload sits in b after maxHeaderSize bytes of headroom,
// in a buffer the caller owns; the header is put in the headroom and the payload masked in place.
func (c *Conn) writeBuffered(ctx context.Context, b []byte, fin bool, op opcode, rsv1 bool) error {
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	if c.closeSent {
		return c.errAfterClose()
	}
	c.armWrite()
	stop := watchCtx(ctx, c.nc, writeSide)
	payload := b[maxHeaderSize:]
	h := header{fin: fin, rsv1: rsv1, opcode: op, length: int64(len(payload))}
	c.maskHeader(&h)
	if h.masked {
		mask(h.maskKey, payload)
	}
	var hb [maxHeaderSize]byte
	hdr := appendHeader(hb[:0], h)
	start := maxHeaderSize - len(hdr)
	copy(b[start:], hdr)
	err := c.writeNet(b[start:])
	return c.wrote(ctx, stop, err)
}

// writeControl writes a control frame. Control frames may go out between the fragments of a
// message, so they take only the frame lock.
func (c *Conn) writeControl(ctx context.Context, op opcode, payload []byte) error {
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	if c.closeSent {
		return c.errAfterClose()
	}
	return c.writeControlLocked(ctx, op, payload)
}

// writeClose sends a close frame, once. Data frames may not follow it. A write in progress
// is waited for until ctx ends; then the connection is closed, which ends that write too:
// a peer that does not read must not keep the connection, and its descriptor, open.
func (c *Conn) writeClose(ctx context.Context, code StatusCode, reason string) error {
	if !c.frameMu.TryLock() {
		stop := context.AfterFunc(ctx, func() {
			c.closeWith(&CloseError{Code: StatusAbnormalClosure, Local: true, cause: ctx.Err(),
				Reason: "close frame not sent in time: a write to the peer was blocked"})
		})
		c.frameMu.Lock()
		stop()
	}
	defer c.frameMu.Unlock()
	if c.closeSent {
		return c.errAfterClose()
	}
	c.closeSent = true
	var pb [maxControlPayload]byte
	return c.writeControlLocked(ctx, opClose, appendClosePayload(pb[:0], code, reason))
}

func (c *Conn) writeControlLocked(ctx context.Context, op opcode, payload []byte) error {
	c.armWrite()
	stop := watchCtx(ctx, c.nc, writeSide)
	h := header{fin: true, opcode: op, length: int64(len(payload))}
	bp := getBuf()
	b := appendHeader((*bp)[:0], c.maskHeader(&h))
	off := len(b)
	b = append(b, payload...)
	if h.masked {
		mask(h.maskKey, b[off:])
	}
	_, err := c.nc.Write(b)
	*bp = b
	putBuf(bp)
	return c.wrote(ctx, stop, err)
}

// armWrite gives the write about to start its deadline, WriteTimeout from now; frameMu is
// held. Setting a deadline updates a timer in the runtime's poller, so a deadline still at
// least 7/8 of WriteTimeout away is kept: each write gets between 7/8 of WriteTimeout and all
// of it, and a stream of small writes touches the timer once every WriteTimeout/8.
func (c *Conn) armWrite() {
	now := time.Now()
	if c.writeDeadline.Sub(now) >= c.writeTimeout-c.writeTimeout/8 {
		return
	}
	c.writeDeadline = now.Add(c.writeTimeout)
	_ = c.nc.SetWriteDeadline(c.writeDeadline)
}

// writeNet writes b to the network in chunks of at most writeChunk, each with a fresh write
// deadline; frameMu is held. The caller armed the first before watching its context, so a
// context's end (which sets a deadline in the past) is not undone but in the rare case where
// it comes just as a later chunk re-arms; the write then still ends within WriteTimeout.
func (c *Conn) writeNet(b []byte) error {
	for len(b) > 0 {
		n := min(len(b), writeChunk)
		c.armWrite()
		if _, err := c.nc.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// maskHeader gives a client's frame its fresh mask key (RFC 6455 section 5.3); frameMu is held.
func (c *Conn) maskHeader(h *header) header {
	if c.client {
		h.masked = true
		h.maskKey = uint32(c.maskRand.Uint64())
	}
	return *h
}

// wrote ends a write: it stops the ctx watch and turns a failure into the error to report. A
// failed or interrupted write leaves a partial frame behind, so it closes the connection.
func (c *Conn) wrote(ctx context.Context, stop func() bool, err error) error {
	if stop != nil && stop() {
		c.closeWith(&CloseError{Code: StatusAbnormalClosure, Reason: "write canceled", Local: true, cause: ctx.Err()})
		return fmt.Errorf("websocket: write: %w", ctx.Err())
	}
	if err == nil {
		return nil
	}
	if c.isClosed() {
		return c.errClosed()
	}
	if c.gotPeerClose() {
		// The reader is ending the connection with the peer's reason, the better one.
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	ce := &CloseError{Code: StatusAbnormalClosure, Reason: "connection lost: " + err.Error(), Local: true, cause: err}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		ce.Reason = fmt.Sprintf("write timed out: the peer took nothing for %v", c.writeTimeout)
		ce.cause = fmt.Errorf("%w: %w", ErrWriteTimeout, err)
	}
	if !c.closeWith(ce) {
		return c.errClosed()
	}
	return ce
}

func (c *Conn) errAfterClose() error {
	if c.isClosed() {
		return c.errClosed()
	}
	return errCloseSent
}

// Writer returns a writer for one message of the given type, sent in fragments as it is
// written; Close sends the last fragment. Until then other messages wait (control frames do
// not). If ctx ends before the message is written, the connection is closed.
//
// The bytes of a text message are checked as they are written: a Write whose bytes cannot
// continue valid UTF-8 returns ErrInvalidUTF8 and sends none of them, and so does a Close
// that ends inside a character. The message is then abandoned: if nothing of it was sent
// yet, the connection goes on; otherwise the connection is closed.
func (c *Conn) Writer(ctx context.Context, typ MessageType) (io.WriteCloser, error) {
	op, err := dataOpcode(typ)
	if err != nil {
		return nil, err
	}
	if err := c.msgLock.lock(ctx); err != nil {
		return nil, err
	}
	if c.mw == nil {
		// Made once per connection, on first use: many connections never stream a message.
		c.mw = &messageWriter{c: c}
	}
	w := c.mw
	w.ctx, w.op, w.open = ctx, op, true
	w.text, w.sent = op == opText, false
	w.utf8.reset()
	w.compress = c.neg.deflate
	w.buf = getBuf()
	if w.compress {
		w.comp, w.compKind = getCompressor(c.neg.ownSmallWindow)
		w.comp.out.b = headroom(w.buf)
		w.comp.fw.Reset(&w.comp.out)
	} else {
		*w.buf = (*w.buf)[:0]
	}
	return w, nil
}

// messageWriter is the io.WriteCloser that Writer returns; a connection makes one, on first use.
type messageWriter struct {
	c        *Conn
	ctx      context.Context
	op       opcode // the next frame's opcode: the message type, then continuation
	open     bool
	compress bool
	text     bool          // a text message: its bytes are checked as they come
	utf8     utf8Validator // for text
	sent     bool          // a fragment went out
	buf      *[]byte
	comp     *compressor
	compKind int
	err      error
}

var errWriterClosed = errors.New("websocket: write to a closed message writer")

func (w *messageWriter) Write(p []byte) (int, error) {
	if !w.open {
		return 0, errWriterClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.text && !w.utf8.write(p) {
		w.err = ErrInvalidUTF8
		return 0, w.err
	}
	if w.compress {
		_, _ = w.comp.fw.Write(p) // the output is a slice: no error
		// Send all but the last bytes, which may turn out to be the start of the sync tail.
		if out := w.comp.out.b; len(out)-maxHeaderSize > fragmentSize+len(deflateTail) {
			keep := len(deflateTail)
			var tail [4]byte
			copy(tail[:], out[len(out)-keep:])
			w.err = w.fragment(out[:len(out)-keep], false)
			w.comp.out.b = append(out[:maxHeaderSize], tail[:keep]...)
		}
		return len(p), w.err
	}
	n := 0
	for len(p) > 0 && w.err == nil {
		b := *w.buf
		take := min(len(p), fragmentSize-len(b))
		*w.buf = append(b, p[:take]...)
		n += take
		p = p[take:]
		if len(*w.buf) == fragmentSize {
			w.err = w.c.writeFrame(w.ctx, false, w.op, *w.buf)
			w.op, w.sent = opContinuation, true
			*w.buf = (*w.buf)[:0]
		}
	}
	return n, w.err
}

// fragment sends compressed bytes (after headroom) as the message's next frame.
func (w *messageWriter) fragment(b []byte, fin bool) error {
	rsv1 := w.op != opContinuation
	err := w.c.writeBuffered(w.ctx, b, fin, w.op, rsv1)
	w.op, w.sent = opContinuation, true
	return err
}

// Close sends the message's final fragment and lets the next message go.
func (w *messageWriter) Close() error {
	if !w.open {
		return errWriterClosed
	}
	w.open = false
	err := w.err
	if err == nil && w.text && !w.utf8.complete() {
		err = ErrInvalidUTF8 // the text ends inside a character
	}
	if err == ErrInvalidUTF8 && w.sent {
		// The peer has the message's first fragments and would wait for its end forever;
		// the only valid way out is to end the connection.
		w.c.closeWith(&CloseError{Code: StatusInternalError, Local: true, cause: err,
			Reason: "a text message being written turned out not to be UTF-8"})
	}
	if err == nil {
		if w.compress {
			_ = w.comp.fw.Flush()
			out := w.comp.out.b
			err = w.fragment(out[:len(out)-len(deflateTail)], true)
		} else {
			err = w.c.writeFrame(w.ctx, true, w.op, *w.buf)
		}
	}
	if w.compress {
		*w.buf = w.comp.out.b
		w.comp.out.b = nil
		compressorPools[w.compKind].Put(w.comp)
		w.comp = nil
	}
	putBuf(w.buf)
	w.buf, w.ctx, w.err = nil, nil, nil
	w.c.msgLock.unlock()
	return err
}
