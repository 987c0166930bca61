package websocket

import (
	"context"
	"fmt"
	"io"
	"testing"
)

var benchSizes = []int{16, 1 << 10, 64 << 10}

// loopReader repeats one byte sequence forever: a peer that sends the same frame again and again.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.data[l.off:])
		n += c
		l.off = (l.off + c) % len(l.data)
	}
	return n, nil
}

// discardConn is a pipeConn whose writes go nowhere.
func discardConn() *pipeConn { return &pipeConn{r: &loopReader{data: []byte{0}}} }

// benchReads reads the same frame, carrying a message of size bytes, over and over with Reader
// into a reused buffer, and checks that each message ends where it should.
func benchReads(b *testing.B, frame []byte, size int, cfg connConfig) {
	c := newConn(&pipeConn{r: &loopReader{data: frame}}, nil, cfg)
	ctx := context.Background()
	buf := make([]byte, size+1)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		_, r, err := c.Reader(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf[:size]); err != nil {
			b.Fatal(err)
		}
		if n, _ := r.Read(buf[size:]); n != 0 {
			b.Fatal("message longer than expected")
		}
	}
}

// BenchmarkRead reads messages with Reader into a reused buffer, the allocation-free path.
func BenchmarkRead(b *testing.B) {
	for _, size := range benchSizes {
		for _, typ := range []MessageType{MessageBinary, MessageText} {
			b.Run(fmt.Sprintf("%s/%dB", typ, size), func(b *testing.B) {
				frame := clientFrame(0x80|byte(typ), make([]byte, size)) // zeros: valid UTF-8 too
				benchReads(b, frame, size, connConfig{})
			})
		}
	}
}

// BenchmarkReadCompressed reads deflated messages.
func BenchmarkReadCompressed(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			payload := make([]byte, size)
			for i := range payload {
				payload[i] = byte('a' + i%7)
			}
			z := appendDeflate(nil, payload, false)
			frame := clientFrame(0x80|0x40|byte(opBinary), z)
			benchReads(b, frame, size, connConfig{neg: negotiated{deflate: true, peerNoContext: true}})
		})
	}
}

// BenchmarkWrite writes whole messages as a server (no masking) and as a client (masking).
func BenchmarkWrite(b *testing.B) {
	for _, client := range []bool{false, true} {
		side := "server"
		if client {
			side = "client"
		}
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dB", side, size), func(b *testing.B) {
				c := newConn(discardConn(), nil, connConfig{client: client})
				ctx := context.Background()
				msg := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Write(ctx, MessageBinary, msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkWritePrepared writes one prepared message over and over: the broadcast path.
func BenchmarkWritePrepared(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			c := newConn(discardConn(), nil, connConfig{})
			pm, _ := NewPreparedMessage(MessageBinary, make([]byte, size))
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WritePrepared(ctx, pm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEchoLoopback measures a round trip between our client and server over TCP.
func BenchmarkEchoLoopback(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			url, _ := echoServerB(b)
			c, _, err := Dial(context.Background(), url, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.CloseNow()
			ctx := context.Background()
			msg := make([]byte, size)
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Write(ctx, MessageBinary, msg); err != nil {
					b.Fatal(err)
				}
				_, r, err := c.Reader(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(r, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
