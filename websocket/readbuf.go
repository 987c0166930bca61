package websocket

import (
	"io"
	"sync"
)

// readBuffer buffers a connection's input while a message is being read. It is taken from a
// pool when bytes arrive and given back once it holds none, so an idle connection keeps no
// buffer. Unlike bufio.Reader it can be filled by the socket's readiness callback, so waking
// up for a message costs one read system call.
type readBuffer struct {
	buf  []byte
	r, w int
	src  io.Reader
}

const readBufferSize = 4096

var readBufferPool = sync.Pool{New: func() any { return &readBuffer{buf: make([]byte, readBufferSize)} }}

func getReadBuffer(src io.Reader) *readBuffer {
	b := readBufferPool.Get().(*readBuffer)
	b.src = src
	return b
}

func putReadBuffer(b *readBuffer) {
	b.r, b.w, b.src = 0, 0, nil
	readBufferPool.Put(b)
}

// Buffered returns the number of bytes that can be read without reading the source.
func (b *readBuffer) Buffered() int { return b.w - b.r }

// fill reads once from the source into the free space.
func (b *readBuffer) fill() error {
	if b.r > 0 && b.r == b.w {
		b.r, b.w = 0, 0
	}
	for range 100 {
		n, err := b.src.Read(b.buf[b.w:])
		b.w += n
		if n > 0 {
			return nil // an error will come back with the next read
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// Peek returns the next n bytes without consuming them; n is at most the buffer's size.
func (b *readBuffer) Peek(n int) ([]byte, error) {
	for b.w-b.r < n {
		if len(b.buf)-b.r < n {
			b.w = copy(b.buf, b.buf[b.r:b.w])
			b.r = 0
		}
		if err := b.fill(); err != nil {
			if err == io.EOF && b.w > b.r {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return b.buf[b.r : b.r+n], nil
}

// Discard skips n buffered bytes.
func (b *readBuffer) Discard(n int) (int, error) {
	b.r += n
	return n, nil
}

// Read reads buffered bytes, or from the source directly when p is at least a buffer long.
func (b *readBuffer) Read(p []byte) (int, error) {
	if b.r == b.w {
		if len(p) >= len(b.buf) {
			return b.src.Read(p)
		}
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// ReadByte reads one byte.
func (b *readBuffer) ReadByte() (byte, error) {
	if b.r == b.w {
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	c := b.buf[b.r]
	b.r++
	return c, nil
}
