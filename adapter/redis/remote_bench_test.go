package redis

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tether-rt/tether/internal/redistest"
	"github.com/tether-rt/tether/socketio"
)

// BenchmarkRemoteBroadcast measures what a node spends on a broadcast another node published,
// from the subscription's handler to the last local delivery: decoding it, choosing its
// sockets and writing it to each, with the deliveries spread over 1 or 2 workers. The
// clients are a child process (this one would run out of descriptors at 10,000 and share its
// scheduler with them) that reads every message; at 10,000 sockets it reads
// lazily, so as to take little CPU from the server on a small machine. The benchmark fails if
// a socket is gone at its end (too slow a reader, say), as it would then measure fewer
// deliveries than it counts. Besides ns/op, the wall
// time of a broadcast, it reports µs/delivery (wall time per local recipient) and
// cpu-µs/delivery (this process's CPU time per recipient: the server's cost, whatever the
// workers).
func BenchmarkRemoteBroadcast(b *testing.B) {
	for _, n := range []int{10, 200, 10000} {
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("sockets=%d/workers=%d", n, w), func(b *testing.B) { benchRemote(b, n, w) })
		}
	}
}

func benchRemote(b *testing.B, sockets, workers int) {
	r := redistest.Start(b)
	rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	b.Cleanup(func() { _ = rdb.Close() })
	factory := NewAdapter(rdb, &Options{DeliveryWorkers: workers})
	var a *pubSubAdapter
	srv := socketio.NewServer(&socketio.ServerOptions{Adapter: func(h socketio.AdapterHost) socketio.Adapter {
		ad := factory(h)
		if h.Namespace() == "/" {
			a = ad.(*pubSubAdapter)
		}
		return ad
	}})
	srv.Of("/")
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	holdClients(b, hs.Listener.Addr().String(), sockets)
	deadline := time.Now().Add(time.Minute)
	for {
		got, _ := a.MemoryAdapter.FetchSockets(context.Background(), socketio.BroadcastOptions{})
		if len(got) == sockets {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d sockets connected", len(got), sockets)
		}
		time.Sleep(50 * time.Millisecond)
	}

	p, err := socketio.NewPacket("/", "tick", strings.Repeat("x", 64))
	if err != nil {
		b.Fatal(err)
	}
	pv, err := packetValue(p)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	// Numbered 0, as from a Node node: every copy is fresh.
	if err := array(str("remote"), pv, optionsValue(socketio.BroadcastOptions{}), integer(0)).encodeMsgpack(&buf); err != nil {
		b.Fatal(err)
	}
	payload := buf.Bytes()
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		a.onBroadcast(a.channel, payload)
	}
	cpu := processCPU(b) - cpu0
	if got, _ := a.MemoryAdapter.FetchSockets(context.Background(), socketio.BroadcastOptions{}); len(got) != sockets {
		b.Fatalf("%d of %d sockets still connected at the end", len(got), sockets)
	}
	deliveries := float64(b.N * sockets)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries/1e3, "µs/delivery")
	b.ReportMetric(float64(cpu.Nanoseconds())/deliveries/1e3, "cpu-µs/delivery")
}

// processCPU returns the user and system time this process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// holdClients starts a child process (TestHoldClients) holding n Socket.IO clients of the
// server at addr, and returns once all are connected. The child ends with the benchmark.
func holdClients(tb testing.TB, addr string, n int) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldClients$", "-test.v=false")
	cmd.Env = append(os.Environ(), "TETHER_HOLD_CLIENTS="+addr+" "+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close() // the child exits when its standard input ends
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		tb.Fatalf("client process: %q, %v", line, err)
	}
}

// TestHoldClients is the child process of holdClients; it does nothing in a normal run.
func TestHoldClients(t *testing.T) {
	spec := os.Getenv("TETHER_HOLD_CLIENTS")
	if spec == "" {
		t.Skip("the child process of BenchmarkRemoteBroadcast")
	}
	addr, count, _ := strings.Cut(spec, " ")
	n, err := strconv.Atoi(count)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]net.Conn, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, _, err := dialSIO(addr)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			go drain(c, n > 1000)
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		_ = c.Close()
	}
}

// dialSIO connects a bare Socket.IO client over WebSocket to the main namespace. Read the
// connection through the reader returned, which may hold the start of what follows.
func dialSIO(addr string) (net.Conn, *bufio.Reader, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"+
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	br := bufio.NewReaderSize(c, 4<<10)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		c.Close()
		return nil, nil, fmt.Errorf("handshake: %q %v", status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	if err := writeText(c, "40"); err != nil {
		c.Close()
		return nil, nil, err
	}
	for { // the Engine.IO open packet, then the CONNECT's answer
		msg, err := readText(br)
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		if strings.HasPrefix(msg, "40") {
			break
		}
	}
	_ = c.SetDeadline(time.Time{})
	return c, br, nil
}

// drain reads and drops what the server sends until the connection ends, a buffer at a time.
// With lazy, it then sleeps for a second, leaving the cores to the server: the kernel's buffer
// keeps what arrives meanwhile, which must be little (the benchmark's large broadcasts come a
// few a second). It answers no ping: a sub-benchmark ends well before the server's first ping
// would time out (25 s + 20 s).
func drain(c net.Conn, lazy bool) {
	buf := make([]byte, 64<<10)
	if lazy {
		buf = buf[:4<<10]
	}
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
		if lazy {
			time.Sleep(time.Second)
		}
	}
}

// writeText writes a short masked text frame (the zero mask leaves the payload as it is).
func writeText(c net.Conn, s string) error {
	_, err := c.Write(append([]byte{0x81, 0x80 | byte(len(s)), 0, 0, 0, 0}, s...))
	return err
}

// readText reads one unmasked frame from the server and returns its payload.
func readText(br *bufio.Reader) (string, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return "", err
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return "", err
		}
		n = int(ext[0])<<8 | int(ext[1])
	case 127:
		return "", errors.New("frame too long")
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		return "", err
	}
	return string(payload), nil
}
