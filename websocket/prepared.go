package websocket

import (
	"context"
	"fmt"
	"sync"
	"unicode/utf8"
)

// PreparedMessage is a message framed, and compressed when a connection wants it, once, then
// written as is to any number of connections: the broadcast path. It is safe for concurrent use.
type PreparedMessage struct {
	typ  MessageType
	op   opcode
	data []byte
	// plain keeps the message uncompressed even on connections that negotiated compression.
	plain bool

	// Server frames, built on first use: uncompressed, deflated, deflated without back-references.
	once   [3]sync.Once
	frames [3][]byte
}

const (
	framePlain = iota
	frameDeflate
	frameDeflateSmallWindow
)

// NewPreparedMessage prepares data to be sent as one message of the given type. data is kept:
// it must not be modified afterwards. Text must be valid UTF-8 (ErrInvalidUTF8 otherwise).
func NewPreparedMessage(typ MessageType, data []byte) (*PreparedMessage, error) {
	op, err := dataOpcode(typ)
	if err != nil {
		return nil, err
	}
	if op == opText && !utf8.Valid(data) {
		return nil, ErrInvalidUTF8
	}
	return &PreparedMessage{typ: typ, op: op, data: data}, nil
}

// PreparedHeadroom is the room NewPreparedMessageInPlace wants in front of a message.
const PreparedHeadroom = maxHeaderSize

// NewPreparedMessageInPlace is NewPreparedMessage for a message that sits in buf after
// PreparedHeadroom bytes of room, where the frame header is written: the uncompressed frame a
// server sends is then a slice of buf, and the message is held once rather than twice, which
// matters for a large broadcast queued for slow clients. buf is kept and must not be modified
// afterwards. With uncompressed set, the message is never compressed (see
// NewUncompressedPreparedMessage).
func NewPreparedMessageInPlace(typ MessageType, buf []byte, uncompressed bool) (*PreparedMessage, error) {
	if len(buf) < PreparedHeadroom {
		return nil, fmt.Errorf("websocket: NewPreparedMessageInPlace: %d bytes, less than the %d of headroom", len(buf), PreparedHeadroom)
	}
	pm, err := NewPreparedMessage(typ, buf[PreparedHeadroom:])
	if err != nil {
		return nil, err
	}
	pm.plain = uncompressed
	var hb [maxHeaderSize]byte
	hdr := appendHeader(hb[:0], header{fin: true, opcode: pm.op, length: int64(len(pm.data))})
	start := PreparedHeadroom - len(hdr)
	copy(buf[start:], hdr)
	pm.once[framePlain].Do(func() { pm.frames[framePlain] = buf[start:] })
	return pm, nil
}

// NewUncompressedPreparedMessage is NewPreparedMessage for a message never compressed, even on
// connections that negotiated permessage-deflate: data that does not compress (images, already
// compressed bytes) or that is too small to gain from it.
func NewUncompressedPreparedMessage(typ MessageType, data []byte) (*PreparedMessage, error) {
	pm, err := NewPreparedMessage(typ, data)
	if pm != nil {
		pm.plain = true
	}
	return pm, err
}

func (pm *PreparedMessage) frame(kind int) []byte {
	pm.once[kind].Do(func() {
		if kind == framePlain {
			h := header{fin: true, opcode: pm.op, length: int64(len(pm.data))}
			b := make([]byte, 0, maxHeaderSize+len(pm.data))
			pm.frames[kind] = append(appendHeader(b, h), pm.data...)
			return
		}
		z := appendDeflate(make([]byte, 0, len(pm.data)/2+64), pm.data, kind == frameDeflateSmallWindow)
		h := header{fin: true, rsv1: true, opcode: pm.op, length: int64(len(z))}
		pm.frames[kind] = append(appendHeader(make([]byte, 0, maxHeaderSize+len(z)), h), z...)
	})
	return pm.frames[kind]
}

// WritePrepared writes a prepared message. On a server connection the bytes framed once are
// written as they are; a client connection must mask each frame with its own key, so it frames
// the message anew.
func (c *Conn) WritePrepared(ctx context.Context, pm *PreparedMessage) error {
	if c.client {
		return c.Write(ctx, pm.typ, pm.data)
	}
	frame := c.preparedFrame(pm)
	if err := c.msgLock.lock(ctx); err != nil {
		return err
	}
	defer c.msgLock.unlock()
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	if c.closeSent {
		return c.errAfterClose()
	}
	c.armWrite()
	stop := watchCtx(ctx, c.nc, writeSide)
	err := c.writeNet(frame)
	return c.wrote(ctx, stop, err)
}

// preparedFrame returns pm framed as this connection sends it.
func (c *Conn) preparedFrame(pm *PreparedMessage) []byte {
	kind := framePlain
	if c.neg.deflate && !pm.plain && len(pm.data) >= c.compressAbove {
		kind = frameDeflate
		if c.neg.ownSmallWindow {
			kind = frameDeflateSmallWindow
		}
	}
	return pm.frame(kind)
}

// TryWritePrepared writes pm only if that can start at once: no other message is being
// written and the socket takes the bytes without waiting. It reports whether it wrote; if
// not, nothing was sent, and the caller can send pm with WritePrepared from a goroutine
// that may block. If the socket takes only part of the message, the rest is written in
// the background and later writes wait for it.
//
// A server sending to thousands of connections writes this way from the sending
// goroutine and needs a writer goroutine only for the connections that fall behind.
func (c *Conn) TryWritePrepared(pm *PreparedMessage) (bool, error) {
	w, frame, ok, err := c.reservePrepared(pm)
	if !ok {
		return false, err
	}
	// An error comes with nothing written; WritePrepared will meet it again and report it.
	n, _ := w.writeNow(frame)
	return c.finishPrepared(frame, n), nil
}

// reservePrepared takes the connection for a direct write of pm, if one can start at once:
// on ok, the message and frame locks are held and the caller writes frame with w, then
// calls finishPrepared. err is the connection's, once closed.
func (c *Conn) reservePrepared(pm *PreparedMessage) (w *socketWriter, frame []byte, ok bool, err error) {
	if c.client {
		return nil, nil, false, nil
	}
	frame = c.preparedFrame(pm)
	if !c.msgLock.tryLock() {
		return nil, nil, false, nil
	}
	if !c.frameMu.TryLock() {
		c.msgLock.unlock()
		return nil, nil, false, nil
	}
	if c.closeSent {
		c.unlockMessage()
		return nil, nil, false, c.errAfterClose()
	}
	if w = c.socketWriter(); w == nil {
		c.unlockMessage()
		return nil, nil, false, nil
	}
	return w, frame, true, nil
}

// finishPrepared ends a reserved write of which n bytes went out: it releases the
// connection, or leaves the rest to a goroutine that releases it after, and reports
// whether the message went (false: nothing was written).
func (c *Conn) finishPrepared(frame []byte, n int) bool {
	switch n {
	case len(frame):
		c.unlockMessage()
		return true
	case 0:
		c.unlockMessage()
		return false
	}
	go func() {
		defer c.unlockMessage()
		err := c.writeNet(frame[n:])
		_ = c.wrote(context.Background(), nil, err)
	}()
	return true
}

// PreparedBatch writes prepared messages to many server connections with their system
// calls back to back: Reserve each connection, then Write them all. It is the broadcast
// path's TryWritePrepared. On a loopback or a fast network, a write to a socket whose
// reader sleeps costs the writer the reader's wake-up, and a reader falls asleep during
// any work between two writes: in bench/cmd/writefloor, 1.7 µs of work between writes
// to 10,000 sockets made each write cost 1.5 to 3 µs more kernel time. Reserving first,
// and writing after, keeps that work out of the run of writes.
//
// A batch is not safe for concurrent use. Its zero value is ready; Reset empties it for
// reuse without freeing its memory.
type PreparedBatch struct {
	items []batchItem
}

type batchItem struct {
	c     *Conn
	w     *socketWriter // held from Reserve to Write
	frame []byte
	n     int // written by Write; -1 before
}

// Reserve adds c to the batch for a write of pm at the next Write, if TryWritePrepared
// could write it now; it reports whether it did. A reserved connection's other writes,
// and its closing, wait until Write, so the caller calls Write soon and meanwhile waits
// for nothing that a writer or closer of a reserved connection may hold. When it reports false nothing is reserved or
// written, and err is the connection's, once closed.
func (b *PreparedBatch) Reserve(c *Conn, pm *PreparedMessage) (bool, error) {
	w, frame, ok, err := c.reservePrepared(pm)
	if !ok {
		return false, err
	}
	if !w.hold() { // closed meanwhile: WritePrepared will say so
		c.unlockMessage()
		return false, nil
	}
	b.items = append(b.items, batchItem{c: c, w: w, frame: frame, n: -1})
	return true, nil
}

// Len returns the number of connections reserved and not yet written.
func (b *PreparedBatch) Len() int { return len(b.items) }

// Write makes the reserved writes, one system call each and nothing else between them,
// and then releases the connections. Afterwards Wrote tells, for each in the order they
// were reserved, whether its message went; a message of which the socket took only part
// goes on in the background, as with TryWritePrepared.
func (b *PreparedBatch) Write() {
	for i := range b.items {
		it := &b.items[i]
		// An error comes with nothing written; WritePrepared will meet it again.
		it.n, _ = it.w.writeHeld(it.frame)
		it.w.release()
	}
	for i := range b.items {
		it := &b.items[i]
		if it.c.finishPrepared(it.frame, it.n) {
			it.n = len(it.frame)
		} else {
			it.n = 0
		}
	}
}

// Wrote reports whether Write sent the i-th reserved message (false: nothing of it was
// written, and the caller sends it another way, e.g. with WritePrepared).
func (b *PreparedBatch) Wrote(i int) bool { return b.items[i].n > 0 }

// Reset empties the batch after Write, keeping its memory.
func (b *PreparedBatch) Reset() {
	clear(b.items)
	b.items = b.items[:0]
}

// unlockMessage releases the locks TryWritePrepared takes. A method, not a closure, so
// that taking them costs no allocation.
func (c *Conn) unlockMessage() {
	c.frameMu.Unlock()
	c.msgLock.unlock()
}

// noSocketWriter and retiredSocketWriter are the values of Conn.nowait other than a
// connection's own writer: it has no socket to write to directly, or it was closed.
var noSocketWriter, retiredSocketWriter = new(socketWriter), new(socketWriter)

// socketWriter returns the connection's socketWriter, made on first use, or nil when
// TryWritePrepared must leave the write to WritePrepared. The frame lock is held.
//
// The writer is published with a compare-and-swap that retireSocketWriter's swap orders
// against: either the Conn's close finds the writer and retires it before closing the
// socket, or this finds the close's mark and drops the writer unused. newSocketWriter
// read the descriptor while it was open, and the close cannot have come before the mark.
func (c *Conn) socketWriter() *socketWriter {
	w := c.nowait.Load()
	if w == nil {
		if w = newSocketWriter(c.nc); w == nil {
			w = noSocketWriter
		}
		if !c.nowait.CompareAndSwap(nil, w) {
			w = c.nowait.Load() // retired meanwhile
		}
	}
	if w == noSocketWriter || w == retiredSocketWriter {
		return nil
	}
	return w
}

// retireSocketWriter stops every direct write to the socket before the Conn closes it.
func (c *Conn) retireSocketWriter() {
	if w := c.nowait.Swap(retiredSocketWriter); w != nil && w != noSocketWriter && w != retiredSocketWriter {
		w.retire()
	}
}
