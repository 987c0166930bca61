package socketio

import (
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
