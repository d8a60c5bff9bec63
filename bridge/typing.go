package bridge

import (
	"context"
	"sync"
	"time"

	"maunium.net/go/mautrix/bridgev2/networkid"
)

// MSN clients show "is typing" for a few seconds after each TypingUser
// message, so while the Matrix user types we repeat it.
const (
	typingRepeatInterval = 4 * time.Second
	// typingMaxDuration stops a loop whose "stopped typing" never came.
	typingMaxDuration = 2 * time.Minute
	typingSendTimeout = 10 * time.Second
)

// typingSender runs one repeat loop per portal while the user is typing.
type typingSender struct {
	interval time.Duration
	maxDur   time.Duration
	send     func(ctx context.Context, pk networkid.PortalKey) error

	mu    sync.Mutex
	loops map[networkid.PortalKey]*typingLoop
	wg    sync.WaitGroup
}

// typingLoop is one running repeat loop.
type typingLoop struct {
	cancel context.CancelFunc
}

func newTypingSender(interval time.Duration, send func(context.Context, networkid.PortalKey) error) *typingSender {
	return &typingSender{
		interval: interval,
		maxDur:   typingMaxDuration,
		send:     send,
		loops:    make(map[networkid.PortalKey]*typingLoop),
	}
}

// start begins (or keeps) sending typing notifications to a portal.
func (t *typingSender) start(pk networkid.PortalKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, running := t.loops[pk]; running {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.maxDur)
	tl := &typingLoop{cancel: cancel}
	t.loops[pk] = tl
	t.wg.Add(1)
	go t.loop(ctx, pk, tl)
}

func (t *typingSender) loop(ctx context.Context, pk networkid.PortalKey, tl *typingLoop) {
	defer t.wg.Done()
	defer t.forget(pk, tl)
	ticker := time.NewTicker(t.interval)
	defer ticker.Stop()
	for {
		sendCtx, sendCancel := context.WithTimeout(ctx, typingSendTimeout)
		err := t.send(sendCtx, pk)
		sendCancel()
		if err != nil {
			return // not connected, contact offline: nobody to show it to
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// forget removes the loop's entry if it is still the current one.
func (t *typingSender) forget(pk networkid.PortalKey, tl *typingLoop) {
	tl.cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.loops[pk] == tl {
		delete(t.loops, pk)
	}
}

// stop ends the loop of a portal (typing stopped or a message was sent).
func (t *typingSender) stop(pk networkid.PortalKey) {
	t.mu.Lock()
	tl, ok := t.loops[pk]
	delete(t.loops, pk)
	t.mu.Unlock()
	if ok {
		tl.cancel()
	}
}

// stopAll ends every loop and waits for them.
func (t *typingSender) stopAll() {
	t.mu.Lock()
	loops := t.loops
	t.loops = make(map[networkid.PortalKey]*typingLoop)
	t.mu.Unlock()
	for _, tl := range loops {
		tl.cancel()
	}
	t.wg.Wait()
}

// active reports whether a loop runs for the portal.
func (t *typingSender) active(pk networkid.PortalKey) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.loops[pk]
	return ok
}
