package bridge

import (
	"sync"
	"time"
)

// background tracks a login's goroutines (contact syncs, the side-work
// worker) so that disconnecting and logging out can wait for them: none of
// them may write after the login's rows were deleted.
type background struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

// Go runs fn in a tracked goroutine.
func (b *background) Go(fn func()) {
	b.mu.Lock()
	if b.n == 0 {
		b.idle = make(chan struct{})
	}
	b.n++
	b.mu.Unlock()
	go func() {
		defer b.done()
		fn()
	}()
}

func (b *background) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n--
	if b.n == 0 {
		close(b.idle)
	}
}

// Wait waits up to timeout for every tracked goroutine to end; it reports
// whether they did.
func (b *background) Wait(timeout time.Duration) bool {
	b.mu.Lock()
	if b.n == 0 {
		b.mu.Unlock()
		return true
	}
	idle := b.idle
	b.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}
