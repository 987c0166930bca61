package websocket

import (
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"sync/atomic"
)

// readState is the read side of a connection. Only the holder of lock touches it: a Reader or
// Read call, a messageReader.Read, or Close draining the connection.
type readState struct {
	// Fields are ordered by size, the flags last, so that the struct has no padding: every
	// connection holds one.
	c      *Conn
	lock   ctxMutex
	waiter *readWaiter
	br     *readBuffer   // nil while idle: taken from the pool once bytes arrive
	prefix prefixReader  // bytes that arrived with the handshake, then the connection
	err    error         // sticky: the error that ended reading
	begun  atomic.Uint64 // messages begun: the Poller's watch tells from it whether a run read any
	// polled is set while a Poller's run has read from the socket. TryRead then reports
	// ErrWouldBlock on an empty buffer without the read that would tell whether more has come:
	// the run makes that read itself (awaitInput reads before it waits), or re-arms the
	// registration, which reports bytes that arrived meanwhile. That saves a read per message
	// of a busy connection, and one per wake-up of an idle one.
	polled atomic.Bool

	// The message being read.
	typ      MessageType
	ctx      context.Context
	stop     func() bool // ends the watch on ctx
	size     int64       // bytes delivered so far (after decompression)
	wireSize int64       // payload bytes received so far
	utf8     utf8Validator

	// The data frame being read.
	frameLeft int64
	maskKey   uint32

	// Decompression.
	infl     io.ReadCloser
	src      deflateSource
	tailLeft int
	window   []byte // the peer's LZ77 window, when it uses context takeover

	noWait     bool // TryRead's begin: do not wait for a frame that has not begun to arrive
	inMessage  bool // a message is being read
	compressed bool // the message is compressed
	fin        bool // the frame being read is the message's last
	masked     bool // the frame being read is masked
	one        [1]byte
}

func (r *readState) init(c *Conn, prefix []byte) {
	r.c = c
	r.prefix = prefixReader{b: prefix, nc: c.nc}
	r.waiter = newReadWaiter(c.nc)
	r.src.r = r
}

// prefixReader reads bytes that arrived together with the handshake, then the connection.
type prefixReader struct {
	b  []byte
	nc net.Conn
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.b) > 0 {
		n := copy(b, p.b)
		p.b = p.b[n:]
		return n, nil
	}
	return p.nc.Read(b)
}

// Reader waits for the next message and returns its type and a reader for its payload, which
// is valid until the next call to Reader or Read. A message that was not read to its end is
// discarded first. If ctx ends before the message has been read, the connection is closed.
func (c *Conn) Reader(ctx context.Context) (MessageType, io.Reader, error) {
	c.waitIdle(ctx)
	return c.reader(ctx, false)
}

func (c *Conn) reader(ctx context.Context, noWait bool) (MessageType, io.Reader, error) {
	if err := c.rd.lock.lock(ctx); err != nil {
		return 0, nil, err
	}
	defer c.rd.lock.unlock()
	typ, err := c.rd.begin(ctx, noWait)
	if err != nil {
		return 0, nil, err
	}
	return typ, (*messageReader)(c), nil
}

// Read waits for the next message and returns it whole.
func (c *Conn) Read(ctx context.Context) (MessageType, []byte, error) {
	c.waitIdle(ctx)
	return c.read(ctx, false)
}

// ErrWouldBlock is what TryRead returns when no byte of a message has arrived.
var ErrWouldBlock = errors.New("websocket: no message has arrived")

// TryRead is Read for connections read on readiness (see Poller): when no byte of the next
// message has arrived, it returns ErrWouldBlock at once instead of waiting, having handled
// any control frames that came. Once part of a message has arrived, it waits for the rest as
// Read does, until ctx ends or the connection closes.
//
// Inside a Poller's call of ready, once TryRead has read from the socket, it reports
// ErrWouldBlock when what it read is used up, without asking the socket again: the Poller
// asks, and calls ready again if more has come. ready loses nothing by returning.
//
// On a connection that cannot be read without waiting (TLS, or a platform without direct
// socket reads; Poller.Watch refuses those), TryRead waits like Read.
func (c *Conn) TryRead(ctx context.Context) (MessageType, []byte, error) {
	return c.read(ctx, true)
}

// TryReader is Reader for connections read on readiness, as TryRead is Read: it returns
// ErrWouldBlock at once when no byte of the next message has arrived. Reading the message into
// a buffer of one's own, rather than TryRead's new slice per message, saves an allocation per
// message; once part of a message has arrived, the returned reader waits for the rest as
// Reader's does.
func (c *Conn) TryReader(ctx context.Context) (MessageType, io.Reader, error) {
	return c.reader(ctx, true)
}

func (c *Conn) read(ctx context.Context, noWait bool) (MessageType, []byte, error) {
	typ, r, err := c.reader(ctx, noWait)
	if err != nil {
		return 0, nil, err
	}
	// Size the buffer from the first frame: exactly, for a message of one uncompressed frame.
	// The read limit has already vetted that length.
	c.rd.lock.mu.Lock()
	size := c.rd.frameLeft
	if !c.rd.fin || c.rd.compressed {
		size = max(size, 512)
	}
	c.rd.lock.unlock()
	b := make([]byte, 0, min(size, 1<<20))
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		switch {
		case err == io.EOF:
			return typ, b, nil
		case err != nil:
			return 0, nil, err
		case n == 0 && len(b) == cap(b):
			b = append(b, 0)[:len(b)] // full and not at the end: grow
		}
	}
}

// messageReader is the io.Reader that Reader returns: the Conn itself under another method
// set, so that a reader costs a connection no field.
type messageReader Conn

func (m *messageReader) Read(p []byte) (int, error) {
	r := &m.rd
	r.lock.mu.Lock()
	defer r.lock.unlock()
	return r.read(p)
}

// begin reads up to the first frame of the next data message. With noWait, it returns
// ErrWouldBlock instead of waiting for a frame that has not begun to arrive.
func (r *readState) begin(ctx context.Context, noWait bool) (MessageType, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.inMessage {
		if err := r.skipMessage(); err != nil {
			return 0, err
		}
	}
	r.release()
	r.ctx = ctx
	r.stop = watchCtx(ctx, r.c.nc, readSide)
	r.noWait = noWait
	h, err := r.nextDataFrame()
	r.noWait = false
	if err == ErrWouldBlock {
		// Nothing was consumed: the connection is as it was, and stays usable.
		stop := r.stop
		r.stop = nil
		if stop != nil && stop() {
			return 0, r.finish(r.canceled())
		}
		return 0, err
	}
	if err != nil {
		return 0, r.finish(err)
	}
	if h.opcode == opContinuation {
		return 0, r.finish(r.c.fail(protocolErr(StatusProtocolError, "continuation frame without a message to continue")))
	}
	r.inMessage = true
	r.begun.Add(1)
	r.typ = MessageType(h.opcode)
	r.compressed = h.rsv1
	r.size, r.wireSize = 0, 0
	r.utf8.reset()
	if err := r.startFrame(h); err != nil {
		return 0, r.finish(err)
	}
	return r.typ, nil
}

// read reads the current message's payload, validating and decompressing it.
func (r *readState) read(p []byte) (int, error) {
	if !r.inMessage {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	var n int
	var err error
	if r.compressed {
		n, err = r.readInflated(p)
	} else {
		n, err = r.readPayload(p)
	}
	if n > 0 && r.typ == MessageText && !r.utf8.write(p[:n]) {
		return 0, r.finish(r.c.fail(protocolErr(StatusInvalidFramePayloadData, "text message is not valid UTF-8")))
	}
	switch err {
	case nil:
		return n, nil
	case io.EOF:
		if r.typ == MessageText && !r.utf8.complete() {
			return 0, r.finish(r.c.fail(protocolErr(StatusInvalidFramePayloadData, "text message ends inside a UTF-8 sequence")))
		}
		if err := r.finish(nil); err != nil {
			return n, err
		}
		return n, io.EOF
	}
	return 0, r.finish(err)
}

// finish ends the current message, after its end or an error, and returns err.
func (r *readState) finish(err error) error {
	if r.stop != nil {
		if r.stop() && err == nil {
			// ctx ended just as the message did: the connection's read deadline is spoiled.
			err = r.canceled()
		}
		r.stop = nil
	}
	if r.infl != nil {
		putDecompressor(r.infl)
		r.infl = nil
	}
	r.inMessage = false
	if err != nil {
		r.err = err
		return err
	}
	r.release()
	return nil
}

// release gives the read buffer back to the pool when it holds no unread bytes.
func (r *readState) release() {
	if r.br != nil && r.br.Buffered() == 0 {
		putReadBuffer(r.br)
		r.br = nil
	}
}

// waitIdle waits for input to an idle connection from a shallow stack frame, then leaves the
// rest to the read path. A connection spends most of its life waiting, and the runtime shrinks
// a parked goroutine's stack only while it uses under a quarter of it: waiting at the bottom of
// the full read path would keep every idle reader's stack at 4 KiB instead of 2 KiB. Reads
// whose ctx can end, and connections already mid-message or holding input, go the usual way.
func (c *Conn) waitIdle(ctx context.Context) {
	r := &c.rd
	if ctx.Done() != nil || r.waiter == nil || !r.lock.mu.TryLock() {
		return
	}
	if r.br == nil && r.err == nil && !r.inMessage && len(r.prefix.b) == 0 {
		if br, err := r.waiter.wait(); err == nil {
			r.br = br // an error is met again, and reported, by the read path
		}
	}
	r.lock.mu.Unlock()
}

// fill makes sure a read buffer is in place. Where it can, it waits for data before taking one;
// with noWait set, it does not wait and returns ErrWouldBlock when there is none.
func (r *readState) fill() error {
	switch {
	case r.br != nil:
		return nil
	case len(r.prefix.b) > 0:
		r.br = getReadBuffer(&r.prefix)
	case r.waiter != nil && r.noWait:
		if r.polled.Load() {
			return ErrWouldBlock
		}
		br, err := r.waiter.try()
		if err != nil {
			return err
		}
		if br == nil {
			return ErrWouldBlock
		}
		r.br = br
		if r.c.watch.Load() != nil {
			r.polled.Store(true)
		}
	case r.waiter != nil:
		br, err := r.waiter.wait()
		if err != nil {
			return err
		}
		r.br = br
	default:
		r.br = getReadBuffer(r.c.nc)
	}
	return nil
}

// nextDataFrame reads frame headers until a data frame's, handling control frames on the way.
func (r *readState) nextDataFrame() (header, error) {
	c := r.c
	for {
		if r.noWait {
			r.release() // so that fill asks the socket, without waiting, rather than an empty buffer
		}
		if err := r.fill(); err == ErrWouldBlock {
			return header{}, err
		} else if err != nil {
			return header{}, r.ioFailed(err)
		}
		h, err := readHeader(r.br)
		if err != nil {
			var ce *CloseError
			if errors.As(err, &ce) {
				return h, c.fail(ce)
			}
			return h, r.ioFailed(err)
		}
		if c.keepAlive > 0 {
			c.activity.Store(true)
		}
		switch {
		case h.masked && c.client:
			return h, c.fail(protocolErr(StatusProtocolError, "masked frame from server"))
		case !h.masked && !c.client:
			return h, c.fail(protocolErr(StatusProtocolError, "unmasked frame from client"))
		case h.rsv1 && !c.neg.deflate:
			return h, c.fail(protocolErr(StatusProtocolError, "RSV1 set but no extension was negotiated"))
		case h.rsv1 && (h.opcode == opContinuation || h.opcode.isControl()):
			return h, c.fail(protocolErr(StatusProtocolError, "RSV1 set on a continuation or control frame"))
		}
		if !h.opcode.isControl() {
			return h, nil
		}
		if err := r.control(h); err != nil {
			return h, err
		}
	}
}

// startFrame takes on a data frame's header and enforces the read limit before any of its
// payload is read.
func (r *readState) startFrame(h header) error {
	r.fin = h.fin
	r.frameLeft = h.length
	r.masked = h.masked
	r.maskKey = h.maskKey
	r.wireSize += h.length
	if limit := r.c.readLimit.Load(); !r.compressed && limit >= 0 && r.wireSize > limit {
		return r.c.fail(protocolErr(StatusMessageTooBig,
			fmt.Sprintf("message of %d bytes or more exceeds the read limit of %d bytes", r.wireSize, limit)))
	}
	return nil
}

// readPayload reads raw (unmasked) payload bytes of the current message, across its frames.
func (r *readState) readPayload(p []byte) (int, error) {
	for r.frameLeft == 0 {
		if r.fin {
			return 0, io.EOF
		}
		h, err := r.nextDataFrame()
		if err != nil {
			return 0, err
		}
		if h.opcode != opContinuation {
			return 0, r.c.fail(protocolErr(StatusProtocolError, "new data message before the previous one ended"))
		}
		if err := r.startFrame(h); err != nil {
			return 0, err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > r.frameLeft {
		p = p[:r.frameLeft]
	}
	n, err := r.br.Read(p)
	r.frameLeft -= int64(n)
	if r.masked {
		r.maskKey = mask(r.maskKey, p[:n])
	}
	if err != nil {
		return n, r.ioFailed(err)
	}
	if r.frameLeft == 0 && r.fin {
		return n, io.EOF
	}
	return n, nil
}

// readInflated reads the decompressed payload of a compressed message.
func (r *readState) readInflated(p []byte) (int, error) {
	c := r.c
	if r.infl == nil {
		var dict []byte
		if !c.neg.peerNoContext {
			dict = r.window
		}
		r.tailLeft = len(deflateTail)
		r.infl = getDecompressor(&r.src, dict)
	}
	n, err := r.infl.Read(p)
	if n > 0 {
		r.size += int64(n)
		if limit := c.readLimit.Load(); limit >= 0 && r.size > limit {
			return 0, c.fail(protocolErr(StatusMessageTooBig,
				fmt.Sprintf("message exceeds the read limit of %d bytes when decompressed", limit)))
		}
		if !c.neg.peerNoContext {
			r.window = appendWindow(r.window, p[:n])
		}
	}
	var corrupt flate.CorruptInputError
	var internal flate.InternalError
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		// The sender ended the deflate stream with a final block; skip what follows it.
		for !r.srcDone() {
			if _, err := r.src.Read(r.one[:]); err != nil && err != io.EOF {
				return 0, err
			}
		}
		return n, io.EOF
	case err == io.ErrUnexpectedEOF && r.srcDone():
		// The normal end: RFC 7692 messages stop at a sync flush, not at a final block.
		return n, io.EOF
	case errors.As(err, &corrupt), errors.As(err, &internal), err == io.ErrUnexpectedEOF:
		return 0, c.fail(protocolErr(StatusInvalidFramePayloadData, "invalid compressed data: "+err.Error()))
	}
	return n, err
}

func (r *readState) srcDone() bool { return r.fin && r.frameLeft == 0 && r.tailLeft == 0 }

// deflateSource feeds a compressed message's payload, then the sync flush tail that senders
// strip, to the decompressor. It is an io.ByteReader so that flate adds no buffer of its own.
type deflateSource struct{ r *readState }

func (s *deflateSource) Read(p []byte) (int, error) {
	r := s.r
	n, err := r.readPayload(p)
	if err == io.EOF {
		if n > 0 {
			return n, nil
		}
		if r.tailLeft > 0 {
			n = copy(p, deflateTail[len(deflateTail)-r.tailLeft:])
			r.tailLeft -= n
			return n, nil
		}
	}
	return n, err
}

func (s *deflateSource) ReadByte() (byte, error) {
	r := s.r
	if r.frameLeft > 0 && r.br.Buffered() > 0 {
		b, _ := r.br.ReadByte() // cannot fail: a byte is buffered
		r.frameLeft--
		if r.masked {
			b ^= byte(r.maskKey)
			r.maskKey = bits.RotateLeft32(r.maskKey, -8)
		}
		return b, nil
	}
	for {
		n, err := s.Read(r.one[:])
		if n == 1 {
			return r.one[0], nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// control handles a control frame that arrived while reading.
func (r *readState) control(h header) error {
	c := r.c
	// A control payload fits the read buffer: unmask it there, then consume it.
	p, err := r.br.Peek(int(h.length))
	if err != nil {
		return r.ioFailed(err)
	}
	_, _ = r.br.Discard(len(p))
	if h.masked {
		mask(h.maskKey, p)
	}
	switch h.opcode {
	case opPing:
		if c.onPing != nil {
			c.onPing(p)
		}
		// A failed pong shows up on the next read or write; after our close frame none is sent.
		_ = c.writeControl(context.Background(), opPong, p)
	case opPong:
		if c.onPong != nil {
			c.onPong(p)
		}
		c.gotPong(p)
	case opClose:
		code, reason, perr := parseClosePayload(p)
		if perr != nil {
			return c.fail(perr)
		}
		c.peerClosed()
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		_ = c.writeClose(ctx, code, "") // answer with the same code, unless we sent ours first
		cancel()
		// The peer's close is what ended the connection, even if our answer could not be sent.
		ce := &CloseError{Code: code, Reason: reason}
		c.closeWith(ce)
		return ce
	}
	return nil
}

// ioFailed turns an I/O error met while reading into the error reads report.
func (r *readState) ioFailed(err error) error {
	c := r.c
	if c.isClosed() {
		return c.errClosed()
	}
	if r.ctx != nil && r.ctx.Err() != nil {
		return r.canceled()
	}
	reason := "connection lost: " + err.Error()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		reason = "connection closed by the peer without a close frame"
	}
	ce := &CloseError{Code: StatusAbnormalClosure, Reason: reason, Local: true, cause: err}
	if !c.closeWith(ce) {
		return c.errClosed()
	}
	return ce
}

// canceled closes the connection because the read's ctx ended, and returns ctx's error.
func (r *readState) canceled() error {
	cause := r.ctx.Err()
	r.c.closeWith(&CloseError{Code: StatusAbnormalClosure, Reason: "read canceled", Local: true, cause: cause})
	return fmt.Errorf("websocket: read: %w", cause)
}

// skipMessage discards the rest of a message the user did not read to its end.
func (r *readState) skipMessage() error {
	var buf [512]byte
	for {
		_, err := r.read(buf[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// drain reads and discards messages until the peer's close frame ends the connection or ctx
// ends; Close uses it when no one else is reading.
func (r *readState) drain(ctx context.Context) {
	for r.err == nil && ctx.Err() == nil {
		if _, err := r.begin(ctx, false); err != nil {
			return
		}
		if err := r.skipMessage(); err != nil {
			return
		}
	}
}
