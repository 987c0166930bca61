package websocket

import "sync"

// Write buffers come from a pool for the time a frame is being written, so that an idle
// connection holds none: with many thousands of mostly idle connections, parked buffers would
// be most of a server's memory.

const maxPooledBuf = 1 << 20 // larger buffers are left to the garbage collector

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
