//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package websocket

import (
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// blockingConn is a net.Conn whose syscall.Conn is a socket left in blocking mode, as a
// user's own net.Conn may be.
type blockingConn struct {
	net.Conn
	f *os.File
}

func (c blockingConn) SyscallConn() (syscall.RawConn, error) { return c.f.SyscallConn() }

// TestSocketWriterNeedsANonBlockingSocket checks that the raw write, which the scheduler
// does not see, is used only on a socket that cannot block: a TCP connection gets a
// socketWriter, a blocking socket none (its writes then go through the net.Conn).
func TestSocketWriterNeedsANonBlockingSocket(t *testing.T) {
	_, tcp := tcpPair(t)
	if newSocketWriter(tcp) == nil {
		t.Error("a TCP connection gets no socketWriter")
	}

	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "blocking")
	defer f.Close()
	defer syscall.Close(fds[1])
	if newSocketWriter(blockingConn{f: f}) != nil {
		t.Error("a blocking socket gets a socketWriter")
	}
}

// fdOf returns nc's descriptor number.
func fdOf(t *testing.T, nc net.Conn) int {
	t.Helper()
	fd := -1
	if err := rawConnOf(nc).Control(func(d uintptr) { fd = int(d) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestTryWritePreparedAfterCloseSparesReusedDescriptor checks the guard on the kept
// descriptor number: after a Conn closes, its number goes to the next socket opened, and
// a TryWritePrepared on the closed Conn must write nothing there. Without the
// retirement in Conn's close, the frame would reach the new connection's peer.
func TestTryWritePreparedAfterCloseSparesReusedDescriptor(t *testing.T) {
	pm, err := NewPreparedMessage(MessageText, []byte("for the old connection only"))
	if err != nil {
		t.Fatal(err)
	}
	// The kernel gives a new socket the lowest free number, but another goroutine of the
	// test binary may take it first: try a few times until a new socket has it.
	for attempt := 0; ; attempt++ {
		if attempt == 20 {
			t.Fatal("no new socket reused the closed connection's descriptor number")
		}
		server, client := tcpPair(t)
		c := newConn(server, nil, connConfig{})
		if ok, err := c.TryWritePrepared(pm); !ok || err != nil {
			t.Fatalf("first write: %v, %v", ok, err)
		}
		got := make([]byte, len(pm.frame(framePlain)))
		if _, err := io.ReadFull(client, got); err != nil {
			t.Fatal(err)
		}
		old := fdOf(t, server)
		c.CloseNow()

		// The new pair's ends: whichever has the old number is the socket a stray
		// write would reach; its peer must read nothing.
		s2, c2 := tcpPair(t)
		var victimPeer net.Conn
		switch old {
		case fdOf(t, s2):
			victimPeer = c2
		case fdOf(t, c2):
			victimPeer = s2
		default:
			continue
		}
		if ok, err := c.TryWritePrepared(pm); ok {
			t.Fatalf("TryWritePrepared on a closed Conn wrote (err %v)", err)
		}
		// Nothing has been written to the new pair: any byte the peer sees is stray.
		_ = victimPeer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		var b [1]byte
		if n, err := victimPeer.Read(b[:]); n > 0 {
			t.Fatalf("the closed Conn's frame reached the socket that reused its descriptor %d", old)
		} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Fatalf("reading the new socket's peer: %v", err)
		}
		return
	}
}

// TestSocketWriterRetiredBeforeFirstUse checks the other order: a Conn closed before its
// first TryWritePrepared never makes a writer for the socket.
func TestSocketWriterRetiredBeforeFirstUse(t *testing.T) {
	server, _ := tcpPair(t)
	c := newConn(server, nil, connConfig{})
	c.CloseNow()
	if w := c.socketWriter(); w != nil {
		t.Fatal("a closed Conn made a socketWriter")
	}
	if c.nowait.Load() != retiredSocketWriter {
		t.Fatal("the close did not mark the Conn's writer retired")
	}
}

// TestSocketWriterRetire checks that a retired writer writes nothing and says so.
func TestSocketWriterRetire(t *testing.T) {
	server, client := tcpPair(t)
	w := newSocketWriter(server)
	if w == nil {
		t.Fatal("no socketWriter for a TCP connection")
	}
	if n, err := w.writeNow([]byte("x")); n != 1 || err != nil {
		t.Fatalf("writeNow: %d, %v", n, err)
	}
	var b [1]byte
	if _, err := io.ReadFull(client, b[:]); err != nil {
		t.Fatal(err)
	}
	w.retire()
	if n, err := w.writeNow([]byte("y")); n != 0 || err != net.ErrClosed {
		t.Fatalf("writeNow after retire: %d, %v; want 0, net.ErrClosed", n, err)
	}
}

// TestTryWritePreparedRacesClose runs first writes against closes, for the race detector:
// the writer's publication and the close's retirement meet from both sides.
func TestTryWritePreparedRacesClose(t *testing.T) {
	pm, err := NewPreparedMessage(MessageText, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		server, client := tcpPair(t)
		go func() { _, _ = io.Copy(io.Discard, client) }()
		c := newConn(server, nil, connConfig{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if ok, err := c.TryWritePrepared(pm); err != nil || !ok && c.isClosed() {
					return
				}
			}
		}()
		c.CloseNow()
		<-done
		if c.nowait.Load() != retiredSocketWriter {
			t.Fatal("a closed Conn's writer is not retired")
		}
		client.Close()
	}
}
