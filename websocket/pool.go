package websocket

import (
	"bufio"
	"io"
	"sync"
)

// Buffers are taken from pools for the time a message is being read or written and given back
// after, so that an idle connection holds none: with many thousands of mostly idle connections,
// parked buffers are most of a server's memory.

const (
	readBufferSize = 4096
	maxPooledBuf   = 1 << 20 // larger buffers are left to the garbage collector
)

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

func getReader(r io.Reader) *bufio.Reader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
