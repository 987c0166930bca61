// Command writefloor measures the floor under a broadcast: what it costs a
// process to hand one identical, already-built frame to each of many loopback
// TCP sockets, one write(2) each, and nothing else. A Socket.IO server's
// broadcast cannot cost less than these write calls, so its CPU per delivery
// divided by this program's is the server's overhead as a ratio (issue 17's
// target is at most 1.1).
//
// The frame is exactly what Tether sends in the bench's broadcast scenario: a
// WebSocket text frame of the Engine.IO/Socket.IO packet
// 42["broadcast-back","<100-byte string>"]. The reading ends of the
// connections live in -readers child processes of this binary, which only
// drain them and tell the writer when a round has fully arrived; like the
// bench's broadcast, the next round leaves only then, so every write finds an
// empty socket and a reader waiting. The default, 2, is what `tether bench`
// uses for 10,000 subscribers and a publisher; it matters, since a write's
// cost includes waking the reader (more reading processes, more epoll
// waiters to wake). No child holds more than 19,000 connections, under the
// 20,000 descriptors a process may open here: more are started if needed.
//
// Rounds alternate between the ways of writing (-modes), so that noise from a
// shared machine falls on all of them alike:
//
//	rawsys   syscall.RawSyscall(SYS_WRITE) on the descriptor: the bare system
//	         call, unseen by the Go scheduler (what websocket.Conn's
//	         TryWritePrepared makes): the floor
//	raw      syscall.Write, which tells the scheduler of the system call
//	rawconn  syscall.RawConn.Write around syscall.Write (the runtime poller's
//	         locks, no waiting)
//	netconn  net.Conn.Write
//
// For each it prints, per write, the writing thread's CPU time (user+sys, then
// the system part alone; getrusage RUSAGE_THREAD around the write loop alone),
// the whole process's CPU time (RUSAGE_SELF, the round including the wait for
// the readers, as the bench measures a server), and the wall time of the write
// loop: medians over the rounds, with min and max. -spin adds busy work
// between writes, to see how the writes' own cost depends on their pace.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// childEnv marks a child process and carries its part: the writer's address,
// the number of connections to open and the bytes of one round on each.
const childEnv = "WRITEFLOOR_DRAIN"

func main() {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := drain(spec); err != nil {
			fmt.Fprintln(os.Stderr, "writefloor drain:", err)
			os.Exit(1)
		}
		return
	}
	var cfg config
	flag.IntVar(&cfg.conns, "conns", 10_000, "loopback connections, one write to each per round")
	flag.IntVar(&cfg.rounds, "rounds", 60, "measured rounds per mode")
	flag.IntVar(&cfg.warmup, "warmup", 5, "rounds before measuring")
	flag.IntVar(&cfg.size, "size", 100, "the broadcast's string argument, in bytes")
	flag.StringVar(&cfg.event, "event", "broadcast-back", "the event name in the frame")
	flag.StringVar(&cfg.modes, "modes", "rawsys,raw,rawconn,netconn", "ways of writing, comma-separated: rawsys, raw, rawconn, netconn")
	flag.DurationVar(&cfg.spin, "spin", 0, "busy user-space work between two writes, standing for a server's own per-recipient work")
	flag.IntVar(&cfg.readers, "readers", 2, "reading child processes (at least conns/19,000, for the descriptor limit)")
	flag.BoolVar(&cfg.shuffle, "shuffle", false, "write to the connections in a fixed random order rather than in the order they were accepted, as a server iterating a map of its clients does")
	flag.Parse()
	if err := run(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "writefloor:", err)
		os.Exit(1)
	}
}

type config struct {
	conns, rounds, warmup, size, readers int
	event, modes                         string
	spin                                 time.Duration
	shuffle                              bool
}

// writer is one way of writing the frame to connection i; it returns the bytes
// the socket took without waiting (len(frame) unless its buffer was full).
type writer func(i int, frame []byte) int

type target struct {
	conns []*net.TCPConn
	fds   []int
	raws  []syscall.RawConn
}

func (t *target) writers() map[string]writer {
	var n int
	var werr error
	var frame []byte
	// Bound once, as a server would, so that the rawconn loop allocates no
	// closure per write.
	rawWrite := func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), frame)
		return true
	}
	return map[string]writer{
		"raw": func(i int, b []byte) int {
			m, err := syscall.Write(t.fds[i], b)
			if err != nil {
				return 0
			}
			return m
		},
		"rawsys": func(i int, b []byte) int {
			m, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(t.fds[i]), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
			if errno != 0 {
				return 0
			}
			return int(m)
		},
		"rawconn": func(i int, b []byte) int {
			frame = b
			if err := t.raws[i].Write(rawWrite); err != nil || werr != nil {
				return 0
			}
			return n
		},
		"netconn": func(i int, b []byte) int {
			// With the reader waiting the socket always has room, so this
			// never waits for it.
			m, _ := t.conns[i].Write(b)
			return m
		},
	}
}

func run(cfg *config) error {
	if cfg.conns <= 0 || cfg.rounds <= 0 || cfg.readers <= 0 {
		return fmt.Errorf("-conns, -rounds and -readers must be positive")
	}
	frame := broadcastFrame(cfg.event, cfg.size)
	modes := strings.Split(cfg.modes, ",")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()

	accepted := make(chan *net.TCPConn, 1024)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c.(*net.TCPConn)
		}
	}()

	kids, err := startChildren(ln.Addr().String(), cfg.conns, max(cfg.readers, (cfg.conns+maxPerChild-1)/maxPerChild), len(frame))
	if err != nil {
		return err
	}
	defer kids.stop()

	t := &target{}
	timeout := time.After(2 * time.Minute)
	for len(t.conns) < cfg.conns {
		select {
		case c, ok := <-accepted:
			if !ok {
				return fmt.Errorf("listener closed after %d connections", len(t.conns))
			}
			t.conns = append(t.conns, c)
		case err := <-kids.failed:
			return err
		case <-timeout:
			return fmt.Errorf("only %d of %d connections after 2 minutes", len(t.conns), cfg.conns)
		}
	}
	for _, c := range t.conns {
		raw, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var fd int
		if err := raw.Control(func(d uintptr) { fd = int(d) }); err != nil {
			return err
		}
		t.fds = append(t.fds, fd)
		t.raws = append(t.raws, raw)
	}
	if cfg.shuffle {
		// The kernel's objects for sockets accepted one after the other tend to lie near
		// each other, and descriptors index an array: in accept order, a round walks them
		// almost sequentially, which a server sending in its own order does not.
		rng := rand.New(rand.NewPCG(1, 2))
		rng.Shuffle(len(t.conns), func(i, j int) {
			t.conns[i], t.conns[j] = t.conns[j], t.conns[i]
			t.fds[i], t.fds[j] = t.fds[j], t.fds[i]
			t.raws[i], t.raws[j] = t.raws[j], t.raws[i]
		})
	}
	writers := t.writers()
	for _, m := range modes {
		if writers[m] == nil {
			return fmt.Errorf("unknown mode %q (want rawsys, raw, rawconn or netconn)", m)
		}
	}

	// One OS thread does every write, so that its own CPU time is the writes'.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	results := map[string]*samples{}
	incomplete := 0
	total := cfg.warmup + cfg.rounds*len(modes)
	for r := 0; r < total; r++ {
		mode := modes[0]
		if r >= cfg.warmup {
			mode = modes[(r-cfg.warmup)%len(modes)]
		}
		w := writers[mode]
		self0, thread0 := rusage(syscall.RUSAGE_SELF), rusage(rusageThread)
		sys0 := sysTime(rusageThread)
		start := time.Now()
		var short []int
		for i := range t.conns {
			if m := w(i, frame); m != len(frame) {
				short = append(short, i, m)
			}
			if cfg.spin > 0 {
				spin(cfg.spin)
			}
		}
		wall := time.Since(start)
		thread1 := rusage(rusageThread)
		sys1 := sysTime(rusageThread)
		// A socket that did not take the whole frame (never seen with the
		// readers waiting) gets the rest by a waiting write, outside the
		// measured loop; it is counted and reported.
		for j := 0; j < len(short); j += 2 {
			i, m := short[j], max(short[j+1], 0)
			incomplete++
			_ = t.conns[i].SetWriteDeadline(time.Time{})
			if _, err := t.conns[i].Write(frame[m:]); err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
		}
		if err := kids.roundDone(); err != nil {
			return err
		}
		self1 := rusage(syscall.RUSAGE_SELF)
		if r < cfg.warmup {
			continue
		}
		s := results[mode]
		if s == nil {
			s = &samples{}
			results[mode] = s
		}
		n := float64(len(t.conns))
		s.thread = append(s.thread, float64((thread1-thread0).Microseconds())/n)
		s.sys = append(s.sys, float64((sys1-sys0).Microseconds())/n)
		s.self = append(s.self, float64((self1-self0).Microseconds())/n)
		s.wall = append(s.wall, float64(wall.Nanoseconds())/1e3/n)
	}

	fmt.Printf("writefloor: %d loopback connections in %d reading process(es), %d-byte frame (%q of a %d-byte string), %d rounds per mode after %d of warm-up, Go %s, %s/%s, %d CPUs\n",
		cfg.conns, len(kids.procs), len(frame), cfg.event, cfg.size, cfg.rounds, cfg.warmup, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Println("µs per write: median (min–max) over the rounds")
	fmt.Printf("%-8s  %-24s  %-24s  %-24s  %-24s\n", "mode", "writer thread CPU", "of which system", "process CPU", "wall (write loop)")
	for _, m := range modes {
		s := results[m]
		fmt.Printf("%-8s  %-24s  %-24s  %-24s  %-24s\n", m, summary(s.thread), summary(s.sys), summary(s.self), summary(s.wall))
	}
	if incomplete > 0 {
		fmt.Printf("%d writes found a full socket and were finished outside the measured loop\n", incomplete)
	}
	return nil
}

type samples struct{ thread, sys, self, wall []float64 }

// spin keeps the CPU busy in user space for about d, standing for the work a
// server does per recipient between two writes.
func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

// sysTime returns the system CPU time of who.
func sysTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Stime.Nano())
}

func summary(xs []float64) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	return fmt.Sprintf("%.3f (%.3f–%.3f)", s[len(s)/2], s[0], s[len(s)-1])
}

// rusage returns the user+system CPU time of who (RUSAGE_SELF or the calling
// thread).
func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		panic(err) // only for an invalid argument, a bug here
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// children are the reading processes.
type children struct {
	procs  []*exec.Cmd
	stdins []io.WriteCloser
	done   chan int   // a child's index, once per round it fully received
	failed chan error // a child that stopped
}

// maxPerChild keeps a reading process under the 20,000 descriptors it may open.
const maxPerChild = 19_000

// startChildren starts readers processes that open conns connections between
// them, spread evenly.
func startChildren(addr string, conns, readers, frameLen int) (*children, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	k := &children{done: make(chan int, 64), failed: make(chan error, 64)}
	readers = min(readers, conns)
	for r := range readers {
		part := conns/readers + btoi(r < conns%readers)
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", childEnv, addr, part, frameLen))
		cmd.Stderr = os.Stderr
		// The child exits when its stdin closes: when this process ends,
		// however it ends.
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			k.stop()
			return nil, err
		}
		idx := len(k.procs)
		k.procs = append(k.procs, cmd)
		k.stdins = append(k.stdins, in)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				k.done <- idx
			}
			k.failed <- fmt.Errorf("reading process %d stopped", idx)
		}()
	}
	return k, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// roundDone waits until every child has received the round.
func (k *children) roundDone() error {
	for range k.procs {
		select {
		case <-k.done:
		case err := <-k.failed:
			return err
		case <-time.After(time.Minute):
			return fmt.Errorf("a round did not arrive within a minute")
		}
	}
	return nil
}

func (k *children) stop() {
	for _, in := range k.stdins {
		in.Close()
	}
	for _, p := range k.procs {
		_ = p.Wait()
	}
}

// drain is a child's whole work: open the connections, then read them,
// printing a line each time every one of them has received one more round.
func drain(spec string) error {
	var addr string
	var conns, frameLen int
	if _, err := fmt.Sscanf(spec, "%s %d %d", &addr, &conns, &frameLen); err != nil {
		return fmt.Errorf("bad %s %q: %w", childEnv, spec, err)
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	round := int64(conns) * int64(frameLen)
	var total atomic.Int64
	var mu sync.Mutex
	errs := make(chan error, 1)
	for i := 0; i < conns; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		go func() {
			buf := make([]byte, 512)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					after := total.Add(int64(n))
					// The reader whose bytes complete a round says so.
					for r := (after-int64(n))/round + 1; r <= after/round; r++ {
						mu.Lock()
						_, werr := os.Stdout.WriteString(strconv.FormatInt(r, 10) + "\n")
						mu.Unlock()
						if werr != nil {
							select {
							case errs <- werr:
							default:
							}
						}
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
	return <-errs
}
