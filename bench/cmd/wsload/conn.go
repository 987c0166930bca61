package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// The handshake uses RFC 6455's example key, so the expected accept value is
// a constant: the client does no hashing per connection.
const (
	handshakeKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	handshakeAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
	dialAttempts    = 5
	dialTimeout     = 5 * time.Second
)

// dial opens a TCP connection (from 127.0.0.(1+i%sources) when sources > 1)
// and performs the WebSocket handshake, retrying a bounded number of times:
// a burst of thousands of connects can overflow a listen backlog.
func dial(ctx context.Context, o *options, i int) (net.Conn, *bufio.Reader, error) {
	d := net.Dialer{Timeout: dialTimeout}
	if o.sources > 1 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%o.sources))}
	}
	var err error
	for attempt := 0; attempt < dialAttempts; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
		var c net.Conn
		if c, err = d.DialContext(ctx, "tcp", o.addr); err != nil {
			continue
		}
		var br *bufio.Reader
		if br, err = handshake(c, o.addr); err == nil {
			return c, br, nil
		}
		closeHard(c)
	}
	return nil, nil, fmt.Errorf("connection %d: %w", i, err)
}

// handshake sends the upgrade request and checks for a 101 with the right
// accept value. The returned reader may hold bytes the server sent after
// its response.
func handshake(c net.Conn, host string) (*bufio.Reader, error) {
	_ = c.SetDeadline(time.Now().Add(dialTimeout))
	defer c.SetDeadline(time.Time{})
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + handshakeKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(c, 256)
	status, err := br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 101 ")) {
		return nil, fmt.Errorf("handshake: unexpected status %q", bytes.TrimSpace(status))
	}
	accepted := false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, fmt.Errorf("handshake: %w", err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		if bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")) {
			accepted = string(bytes.TrimSpace(value)) == handshakeAccept
		}
	}
	if !accepted {
		return nil, errors.New("handshake: missing or wrong Sec-WebSocket-Accept")
	}
	return br, nil
}

// dialAll opens n connections with o.dialers at a time and calls use for
// each; it stops at the first error, closing what it opened.
func dialAll(o *options, use func(i int, c net.Conn, br *bufio.Reader)) ([]net.Conn, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conns := make([]net.Conn, o.conns)
	next := make(chan int)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for w := 0; w < min(o.dialers, o.conns); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, br, err := dial(ctx, o, i)
				if err != nil {
					select {
					case errc <- err:
					default:
					}
					cancel()
					continue
				}
				conns[i] = c
				use(i, c, br)
			}
		}()
	}
feed:
	for i := range o.conns {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		closeAll(conns)
		return nil, err
	default:
		return conns, nil
	}
}

// closeHard closes without a TCP TIME_WAIT: thousands of connections per run
// would otherwise pile up and exhaust loopback source ports across rounds.
func closeHard(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			closeHard(c)
		}
	}
}
