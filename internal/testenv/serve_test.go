package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

func TestServe(t *testing.T) {
	stopped := make(chan error, 1)
	var addr string
	t.Run("serving", func(t *testing.T) {
		addr = Serve(t, func(ctx context.Context, ln net.Listener) error {
			go func() {
				<-ctx.Done()
				ln.Close()
			}()
			for {
				c, err := ln.Accept()
				if err != nil {
					stopped <- ctx.Err()
					return nil
				}
				c.Write([]byte("hello"))
				c.Close()
			}
		})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 5)
		if _, err := c.Read(buf); err != nil || string(buf) != "hello" {
			t.Fatalf("read %q, %v", buf, err)
		}
	})
	// The subtest's cleanup canceled the server and waited for it.
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("serve stopped with context error %v, want canceled", err)
		}
	default:
		t.Fatal("serve still running after its test ended")
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("address %q, want loopback", addr)
	}
}

func TestBufferConcurrent(t *testing.T) {
	t.Parallel()
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&b, "%d.%d\n", i, j)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 {
		t.Errorf("%d lines, want 800", n)
	}
}
