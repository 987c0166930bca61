package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-rt/tether/bench/internal/proc"
)

// echoResult is the one JSON line echo mode prints.
type echoResult struct {
	Conns      int     `json:"conns"`
	Size       int     `json:"size"`
	Msgs       int64   `json:"msgs"`    // echoes completed in the counted window
	Seconds    float64 `json:"seconds"` // length of the counted window
	MsgsPerSec float64 `json:"msgs_per_sec"`
	ServerCPU  float64 `json:"server_cpu_seconds,omitempty"` // server user+system time in the window
}

// worker drives one connection: write a pre-masked frame, read the echo,
// compare, repeat. All its buffers are allocated once.
type worker struct {
	c     net.Conn
	br    *bufio.Reader
	frame []byte // the whole client frame, masked once up front
	want  []byte // the payload the echo must carry
	in    []byte
	count atomic.Int64
	_     [64]byte // keep hot counters of neighbouring workers off one cache line
}

func newWorker(c net.Conn, br *bufio.Reader, size, seed int) *worker {
	w := &worker{c: c, br: br, want: make([]byte, size), in: make([]byte, size)}
	for i := range w.want {
		w.want[i] = byte(seed + i)
	}
	mask := [4]byte{byte(seed), byte(seed >> 8), 0x5a, 0xa5}
	w.frame = appendHeader(nil, 0x2, true, len(w.want))
	w.frame = append(w.frame, mask[:]...)
	for i, b := range w.want {
		w.frame = append(w.frame, b^mask[i&3])
	}
	return w
}

// appendHeader appends a FIN binary frame header for an n-byte payload.
func appendHeader(b []byte, opcode byte, masked bool, n int) []byte {
	var m byte
	if masked {
		m = 0x80
	}
	b = append(b, 0x80|opcode)
	switch {
	case n < 126:
		return append(b, m|byte(n))
	case n <= 0xffff:
		return append(b, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, m|127)
		for s := 56; s >= 0; s -= 8 {
			b = append(b, byte(uint64(n)>>s))
		}
		return b
	}
}

var errBadEcho = errors.New("echo does not match the message sent")

func (w *worker) roundTrip() error {
	if _, err := w.c.Write(w.frame); err != nil {
		return err
	}
	h, err := w.br.Peek(2)
	if err != nil {
		return err
	}
	if h[0] != 0x82 || h[1]&0x80 != 0 {
		return fmt.Errorf("unexpected frame header %#x %#x (want unmasked FIN binary)", h[0], h[1])
	}
	n, hlen := int(h[1]), 2
	switch n {
	case 126:
		hlen = 4
	case 127:
		hlen = 10
	}
	if hlen > 2 {
		if h, err = w.br.Peek(hlen); err != nil {
			return err
		}
		n = 0
		for _, b := range h[2:] {
			n = n<<8 | int(b)
		}
	}
	if n != len(w.in) {
		return fmt.Errorf("echo is %d bytes, want %d", n, len(w.in))
	}
	if _, err := w.br.Discard(hlen); err != nil {
		return err
	}
	if _, err := readFull(w.br, w.in); err != nil {
		return err
	}
	if !bytes.Equal(w.in, w.want) {
		return errBadEcho
	}
	return nil
}

// readFull is io.ReadFull without the interface conversion.
func readFull(br *bufio.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := br.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func runEcho(o *options) (echoResult, error) {
	res := echoResult{Conns: o.conns, Size: o.size}
	workers := make([]*worker, o.conns)
	conns, err := dialAll(o, func(i int, c net.Conn, br *bufio.Reader) {
		workers[i] = newWorker(c, br, o.size, i)
	})
	if err != nil {
		return res, err
	}
	defer closeAll(conns)

	// Every read and write is bounded, so a stalled server ends the run.
	deadline := time.Now().Add(o.warmup + o.duration + 30*time.Second)
	var stop atomic.Bool
	start := make(chan struct{})
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for _, w := range workers {
		_ = w.c.SetDeadline(deadline)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for !stop.Load() {
				if err := w.roundTrip(); err != nil {
					select {
					case errc <- err:
					default:
					}
					return
				}
				w.count.Add(1)
			}
		}()
	}
	sum := func() (n int64) {
		for _, w := range workers {
			n += w.count.Load()
		}
		return n
	}
	sample := func() (int64, time.Duration, time.Time, error) {
		var cpu time.Duration
		var err error
		if o.serverPID > 0 {
			cpu, err = proc.CPUTime(o.serverPID)
		}
		return sum(), cpu, time.Now(), err
	}

	close(start)
	var c0, c1 int64
	var cpu0, cpu1 time.Duration
	var t0, t1 time.Time
	if err = sleep(o.warmup, errc); err == nil {
		if c0, cpu0, t0, err = sample(); err == nil {
			if err = sleep(o.duration, errc); err == nil {
				c1, cpu1, t1, err = sample()
			}
		}
	}
	stop.Store(true)
	if err != nil {
		closeAll(conns) // unblock workers waiting on a server that failed
	}
	wg.Wait()
	if err != nil {
		return res, err
	}
	select {
	case err := <-errc:
		return res, err
	default:
	}
	res.Msgs = c1 - c0
	res.Seconds = t1.Sub(t0).Seconds()
	res.MsgsPerSec = float64(res.Msgs) / res.Seconds
	res.ServerCPU = (cpu1 - cpu0).Seconds()
	return res, nil
}

// sleep waits for d unless a worker reports an error first.
func sleep(d time.Duration, errc chan error) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case err := <-errc:
		return err
	}
}
