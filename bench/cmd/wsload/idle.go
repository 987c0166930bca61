package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// runIdle opens o.conns connections that never send a message, prints
// "ready N" and holds them until stdin reaches EOF, SIGINT/SIGTERM arrives or
// o.hold passes.
func runIdle(o *options) error {
	conns, err := dialAll(o, func(i int, c net.Conn, br *bufio.Reader) {
		if br.Buffered() > 0 {
			fmt.Fprintf(os.Stderr, "wsload: connection %d: server sent data before any message\n", i)
		}
	})
	if err != nil {
		return err
	}
	defer closeAll(conns)
	fmt.Printf("ready %d\n", len(conns))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-sig:
	case <-time.After(o.hold):
	}
	return nil
}
