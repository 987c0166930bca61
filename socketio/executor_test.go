package socketio

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// TestExecutorBoundsBytes: events waiting for a socket's handlers are bounded in bytes, so a
// client sending large events to a slow handler is stopped well before HandlerQueueSize.
func TestExecutorBoundsBytes(t *testing.T) {
	workers := newWorkerPool(time.Second)
	defer workers.close()
	var e executor
	e.init(256, workers)
	release := make(chan struct{})
	e.submit(func() { <-release }) // a slow handler
	queued := make(chan int, 10)
	go func() {
		for i := range 10 {
			e.submitSized(func() {}, 1<<20)
			queued <- i
		}
	}()
	// 4 MiB may wait; the fifth megabyte waits for room.
	for i := range 4 {
		select {
		case <-queued:
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d was not queued", i)
		}
	}
	select {
	case i := <-queued:
		t.Fatalf("event %d queued beyond 4 MiB", i)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	for i := 4; i < 10; i++ {
		select {
		case <-queued:
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d never queued after the handler caught up", i)
		}
	}
	// One event larger than the bound still goes through an empty queue.
	done := make(chan struct{})
	e.submitSized(func() { close(done) }, 8<<20)
	<-done
}

// TestWorkerPoolShrinksUnderTrickle: after a burst, a steady trickle of work keeps one worker
// busy and lets the others go, instead of sharing itself among all of them forever.
func TestWorkerPoolShrinksUnderTrickle(t *testing.T) {
	p := newWorkerPool(200 * time.Millisecond)
	defer p.close()
	release := make(chan struct{})
	var started sync.WaitGroup
	for range 20 { // a burst: 20 workers at once
		started.Add(1)
		p.run(func() { started.Done(); <-release })
	}
	started.Wait()
	close(release)
	idleWorkers := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.idle)
	}
	deadline := time.Now().Add(60 * time.Second)
	for idleWorkers() < 20 {
		if time.Now().After(deadline) {
			t.Fatal("the burst's workers never went idle")
		}
		time.Sleep(time.Millisecond)
	}
	// A task every 10 ms for well over the idle time: each finds the same idle worker. The
	// next task waits until that worker is idle again, however slow the machine, so the test
	// checks which worker is chosen, not how fast it gets back.
	done := make(chan struct{}, 1)
	for range 100 {
		p.mu.Lock()
		var w *worker // nil when every worker timed out (a stalled machine): run starts one
		if len(p.idle) > 0 {
			w = p.idle[len(p.idle)-1]
		}
		p.mu.Unlock()
		p.run(func() { done <- struct{}{} })
		<-done
		for back := w == nil; !back; {
			if time.Now().After(deadline) {
				t.Fatal("the worker never went idle again")
			}
			time.Sleep(time.Millisecond)
			p.mu.Lock()
			back = slices.Contains(p.idle, w)
			p.mu.Unlock()
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := idleWorkers(); n > 2 {
		t.Fatalf("%d workers still idle after a trickle, want the trickle's one or two", n)
	}
}
