//go:build linux

package netpoll

import (
	"fmt"
	"os"
	"sync"
	"syscall"
)

// Poller watches sockets for readability on one epoll instance.
type Poller struct {
	epfd    int
	wakeR   int // the read end of a pipe in the epoll set: a byte written to wakeW ends the wait
	wakeW   int
	mu      sync.Mutex // guards regs, gen, running and closed
	regs    map[int32]*Registration
	gen     int32
	running bool // the waiter goroutine is running: there are registrations, or it is about to end
	closed  bool
	waiting sync.WaitGroup // the waiter
}

// Registration is one socket watched by a Poller.
type Registration struct {
	p      *Poller
	fd     int32
	gen    int32 // tells this registration from an earlier one of the same descriptor number
	ready  func(*Registration)
	closed bool // guarded by p.mu
}

// New returns a Poller. It holds an epoll instance and a pipe until Close; its one goroutine
// runs only while a socket is registered, so an unused Poller costs no goroutine.
func New() (*Poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("pipe2", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(pipe[0]), Pad: -1}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(pipe[0])
		syscall.Close(pipe[1])
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return &Poller{epfd: epfd, wakeR: pipe[0], wakeW: pipe[1], regs: map[int32]*Registration{}}, nil
}

// Register watches the socket under raw; ready runs, given the Registration, once it has bytes
// to read, has been closed by the peer, or has failed. Then the socket is not watched until
// Rearm. ready may run before Register returns.
//
// ready runs on the Poller's goroutine, which serves every socket: it must not block (start a
// goroutine to read). The Registration should be closed before the socket is.
func (p *Poller) Register(raw syscall.RawConn, ready func(*Registration)) (*Registration, error) {
	var fd int
	if err := raw.Control(func(s uintptr) { fd = int(s) }); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if old := p.regs[int32(fd)]; old != nil {
		// The descriptor was closed without Close and its number reused: the old
		// registration can never fire again, as closing a socket leaves the epoll set.
		old.closed = true
	}
	p.gen++
	r := &Registration{p: p, fd: int32(fd), gen: p.gen, ready: ready}
	if err := p.ctl(syscall.EPOLL_CTL_ADD, r); err != nil {
		return nil, err
	}
	p.regs[r.fd] = r
	if !p.running {
		p.running = true
		p.waiting.Add(1)
		go p.wait()
	}
	return r, nil
}

// ctl adds or re-arms r's descriptor, one-shot. p.mu is held.
func (p *Poller) ctl(op int, r *Registration) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: r.fd, Pad: r.gen}
	if err := syscall.EpollCtl(p.epfd, op, int(r.fd), &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Rearm watches the socket again after its handler ran.
func (r *Registration) Rearm() error {
	p := r.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.closed || p.closed {
		return ErrClosed
	}
	return p.ctl(syscall.EPOLL_CTL_MOD, r)
}

// Close stops watching the socket; its handler does not run afterwards unless the Poller's
// goroutine had already taken its event.
func (r *Registration) Close() error {
	p := r.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if p.regs[r.fd] != r || p.closed {
		// The socket was closed first and its descriptor number now belongs to another
		// registration: removing the number from the epoll set would silence that one.
		return nil
	}
	delete(p.regs, r.fd)
	if len(p.regs) == 0 {
		p.wakeLocked() // the waiter ends: nothing is left to wait for
	}
	ev := syscall.EpollEvent{}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(r.fd), &ev); err != nil && err != syscall.ENOENT && err != syscall.EBADF {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// wakeLocked ends the waiter's epoll_wait so that it looks at the Poller's state. A full pipe
// already holds a wake-up, so EAGAIN is no failure. p.mu is held.
func (p *Poller) wakeLocked() {
	_, _ = syscall.Write(p.wakeW, []byte{1})
}

// Close stops the Poller and waits for its goroutine; a handler running finishes first.
// Sockets still registered are no longer watched.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.wakeLocked()
	p.mu.Unlock()
	p.waiting.Wait()
	syscall.Close(p.wakeR)
	syscall.Close(p.wakeW)
	if err := syscall.Close(p.epfd); err != nil {
		return fmt.Errorf("netpoll: %w", os.NewSyscallError("close", err))
	}
	return nil
}

// wait takes events from the kernel and runs their registrations' handlers. It blocks one OS
// thread in epoll_wait, whatever the number of sockets, and ends when none is registered.
func (p *Poller) wait() {
	defer p.waiting.Done()
	events := make([]syscall.EpollEvent, 128)
	var drain [64]byte
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			// Only a broken epoll descriptor gets here; nothing is watched any more.
			p.mu.Lock()
			p.running = false
			p.mu.Unlock()
			return
		}
		for _, ev := range events[:n] {
			if ev.Pad == -1 && ev.Fd == int32(p.wakeR) {
				for {
					if n, _ := syscall.Read(p.wakeR, drain[:]); n <= 0 {
						break
					}
				}
				p.mu.Lock()
				if p.closed || len(p.regs) == 0 {
					p.running = false
					p.mu.Unlock()
					return
				}
				p.mu.Unlock()
				continue
			}
			p.mu.Lock()
			r := p.regs[ev.Fd]
			if r != nil && (r.gen != ev.Pad || r.closed) {
				r = nil // an event of an earlier registration of this descriptor number
			}
			p.mu.Unlock()
			if r != nil {
				r.ready(r)
			}
		}
	}
}
