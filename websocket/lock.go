package websocket

import (
	"context"
	"sync"
)

// ctxMutex is a mutex whose lock can give up when a context ends. Taking it uncontended is as
// cheap as sync.Mutex: a channel-based lock costs a measurable share of a small message's time.
type ctxMutex struct{ mu sync.Mutex }

func (m *ctxMutex) lock(ctx context.Context) error {
	if m.mu.TryLock() {
		return nil
	}
	if ctx.Done() == nil {
		m.mu.Lock()
		return nil
	}
	// Contended with a context that may end: wait in a goroutine, which hands the lock back
	// if ctx ended first. This path is rare: it needs two writers at once and a deadline.
	acquired := make(chan struct{})
	go func() {
		m.mu.Lock()
		close(acquired)
	}()
	select {
	case <-acquired:
		return nil
	case <-ctx.Done():
		go func() {
			<-acquired
			m.mu.Unlock()
		}()
		return ctx.Err()
	}
}

func (m *ctxMutex) tryLock() bool { return m.mu.TryLock() }

func (m *ctxMutex) unlock() { m.mu.Unlock() }
