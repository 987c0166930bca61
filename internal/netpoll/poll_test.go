//go:build linux

package netpoll

import (
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pairs returns n connected loopback TCP pairs: the accepted ends and the dialled ends.
func pairs(t *testing.T, n int) (server, client []*net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		server = append(server, s.(*net.TCPConn))
		client = append(client, c.(*net.TCPConn))
	}
	t.Cleanup(func() {
		for i := range server {
			server[i].Close()
			client[i].Close()
		}
	})
	return server, client
}

// newPoller returns a Poller closed when the test ends.
func newPoller(t *testing.T) *Poller {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func rawOf(t *testing.T, c *net.TCPConn) syscall.RawConn {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// readAll reads what the socket holds without waiting, as a handler on the event path does.
func readAll(raw syscall.RawConn) (got []byte, eof bool) {
	buf := make([]byte, 64)
	raw.Read(func(fd uintptr) bool {
		for {
			n, err := syscall.Read(int(fd), buf)
			if n > 0 {
				got = append(got, buf[:n]...)
				continue
			}
			eof = n == 0 && err == nil
			return true // never park: the poller tells when there is more
		}
	})
	return got, eof
}

// TestReadyOnlyForSocketsWithData registers many idle sockets, writes to a few, and checks
// that exactly those handlers run, once each, with no goroutine per socket.
func TestReadyOnlyForSocketsWithData(t *testing.T) {
	const n = 200
	server, client := pairs(t, n)
	before := runtime.NumGoroutine()
	p := newPoller(t)
	var mu sync.Mutex
	got := map[int]string{}
	done := make(chan int, n)
	for i := range server {
		raw := rawOf(t, server[i])
		r, err := p.Register(raw, func(*Registration) {
			b, _ := readAll(raw)
			mu.Lock()
			got[i] += string(b)
			mu.Unlock()
			done <- i
		})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
	}
	if g := runtime.NumGoroutine() - before; g > 1 {
		t.Fatalf("%d goroutines for %d idle sockets, want at most 1 (the waiter)", g, n)
	}
	written := map[int]bool{3: true, 77: true, 150: true, 199: true}
	for i := range written {
		if _, err := client[i].Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
	}
	for range written {
		if i := <-done; !written[i] {
			t.Fatalf("socket %d reported readable; nothing was written to it", i)
		}
	}
	// One-shot: a second write is not reported until Rearm.
	if _, err := client[3].Write([]byte("again")); err != nil {
		t.Fatal(err)
	}
	// Then a write to another socket: its handler is the only one that may run next, as
	// socket 3 is not armed. Without one-shot registrations 3's could come first.
	if _, err := client[4].Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if i := <-done; i != 4 {
		t.Fatalf("socket %d reported readable before Rearm", i)
	}
	mu.Lock()
	for i := range written {
		if got[i] != "hello" {
			t.Errorf("socket %d read %q, want hello", i, got[i])
		}
	}
	mu.Unlock()
}

// TestRearmReportsBytesThatCameMeanwhile checks that bytes arriving while the socket was not
// watched are reported as soon as it is re-armed: level-triggered, not edge.
func TestRearmReportsBytesThatCameMeanwhile(t *testing.T) {
	server, client := pairs(t, 1)
	p := newPoller(t)
	raw := rawOf(t, server[0])
	ready := make(chan struct{}, 2)
	r, err := p.Register(raw, func(*Registration) { ready <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	client[0].Write([]byte("a"))
	<-ready // not read: the byte stays in the socket
	if err := r.Rearm(); err != nil {
		t.Fatal(err)
	}
	<-ready // reported again because the byte is still there
	if b, _ := readAll(raw); string(b) != "a" {
		t.Fatalf("read %q, want a", b)
	}
}

// TestPeerCloseIsReported checks that a socket whose peer closed runs its handler, which
// then sees the end of the stream.
func TestPeerCloseIsReported(t *testing.T) {
	server, client := pairs(t, 1)
	p := newPoller(t)
	raw := rawOf(t, server[0])
	eof := make(chan bool, 1)
	r, err := p.Register(raw, func(*Registration) { _, e := readAll(raw); eof <- e })
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	client[0].Close()
	if !<-eof {
		t.Fatal("the handler ran but did not see the end of the stream")
	}
}

// waitGoroutines waits until at most want goroutines run, allowing the runtime a moment to
// account for goroutines that ended.
func waitGoroutines(t *testing.T, want int, what string) {
	t.Helper()
	for range 200 {
		if runtime.NumGoroutine() <= want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: %d goroutines, want at most %d", what, runtime.NumGoroutine(), want)
}

// TestWaiterRunsOnlyWhileWatching checks that a Poller with nothing registered holds no
// goroutine, before the first registration and after the last one closes, and that it
// watches again after that.
func TestWaiterRunsOnlyWhileWatching(t *testing.T) {
	server, client := pairs(t, 2)
	before := runtime.NumGoroutine()
	p := newPoller(t)
	if g := runtime.NumGoroutine(); g != before {
		t.Fatalf("New started %d goroutines, want none", g-before)
	}
	for round := range 3 {
		var regs []*Registration
		ready := make(chan int, len(server))
		for i := range server {
			r, err := p.Register(rawOf(t, server[i]), func(*Registration) { ready <- i })
			if err != nil {
				t.Fatal(err)
			}
			regs = append(regs, r)
		}
		if _, err := client[round%2].Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if i := <-ready; i != round%2 {
			t.Fatalf("round %d: socket %d reported readable", round, i)
		}
		readAll(rawOf(t, server[round%2]))
		regs[0].Close()
		if runtime.NumGoroutine() > before+1 {
			t.Fatalf("round %d: %d goroutines with one socket watched, want 1", round, runtime.NumGoroutine()-before)
		}
		regs[1].Close()
		waitGoroutines(t, before, "after the last registration closed")
	}
}

// TestClosedRegistration checks that Rearm after Close fails, that a closed Poller refuses
// registrations, and that Close ends every goroutine of the Poller.
func TestClosedRegistration(t *testing.T) {
	server, _ := pairs(t, 1)
	before := runtime.NumGoroutine()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Register(rawOf(t, server[0]), func(*Registration) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Rearm(); err != ErrClosed {
		t.Fatalf("Rearm after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Register(rawOf(t, server[0]), func(*Registration) {}); err != ErrClosed {
		t.Fatalf("Register after Close: %v, want ErrClosed", err)
	}
	waitGoroutines(t, before, "after Close")
}

// TestCloseAfterDescriptorReuse closes a socket before its registration, so that the next
// socket gets the same descriptor number, and checks that closing the stale registration
// leaves the new one watched.
func TestCloseAfterDescriptorReuse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accept := func() (*net.TCPConn, *net.TCPConn, int) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		var fd int
		rawOf(t, s.(*net.TCPConn)).Control(func(x uintptr) { fd = int(x) })
		return s.(*net.TCPConn), c.(*net.TCPConn), fd
	}
	p := newPoller(t)
	s1, c1, fd1 := accept()
	old, err := p.Register(rawOf(t, s1), func(*Registration) { t.Error("the closed socket's handler ran") })
	if err != nil {
		t.Fatal(err)
	}
	// Close the dialled end too: the next dial then takes its number back, and the next
	// accepted end the registered socket's.
	s1.Close()
	c1.Close()
	s2, c2, fd2 := accept()
	defer s2.Close()
	defer c2.Close()
	if fd2 != fd1 {
		t.Skipf("the kernel gave the new socket descriptor %d, not the closed one's %d", fd2, fd1)
	}
	ready := make(chan struct{}, 1)
	r, err := p.Register(rawOf(t, s2), func(*Registration) { ready <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	c2.Write([]byte("x"))
	<-ready
}
