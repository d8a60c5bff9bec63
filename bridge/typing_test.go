package bridge

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

type typingRecorder struct {
	ch   chan networkid.PortalKey
	fail atomic.Bool
}

func (r *typingRecorder) send(_ context.Context, pk networkid.PortalKey) error {
	if r.fail.Load() {
		return errors.New("offline")
	}
	r.ch <- pk
	return nil
}

func (r *typingRecorder) expect(t *testing.T, pk networkid.PortalKey) {
	t.Helper()
	select {
	case got := <-r.ch:
		if got != pk {
			t.Fatalf("typing sent to %v, want %v", got, pk)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no typing notification for %v", pk)
	}
}

func (r *typingRecorder) expectNone(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case got := <-r.ch:
		t.Fatalf("unexpected typing notification for %v", got)
	case <-time.After(wait):
	}
}

func testPortal(pk networkid.PortalKey) *bridgev2.Portal {
	return &bridgev2.Portal{Portal: &database.Portal{PortalKey: pk}}
}

// While the Matrix user types, MSN gets a typing notification at once and
// then every interval, until typing stops.
func TestTypingRepeatLoop(t *testing.T) {
	const interval = 100 * time.Millisecond
	rec := &typingRecorder{ch: make(chan networkid.PortalKey, 100)}
	m := &MSNClient{typing: newTypingSender(interval, rec.send)}
	pk := portalKeyOf("bob@x.com", "me@x.com")
	portal := testPortal(pk)

	start := time.Now()
	if err := m.HandleMatrixTyping(context.Background(), &bridgev2.MatrixTyping{Portal: portal, IsTyping: true, Type: bridgev2.TypingTypeText}); err != nil {
		t.Fatal(err)
	}
	// A repeated "typing" from Matrix does not start a second loop.
	_ = m.HandleMatrixTyping(context.Background(), &bridgev2.MatrixTyping{Portal: portal, IsTyping: true, Type: bridgev2.TypingTypeText})
	for range 3 {
		rec.expect(t, pk)
	}
	if elapsed := time.Since(start); elapsed < 2*interval-10*time.Millisecond {
		t.Errorf("3 notifications in %v; they should be %v apart", elapsed, interval)
	}
	_ = m.HandleMatrixTyping(context.Background(), &bridgev2.MatrixTyping{Portal: portal, IsTyping: false})
	if m.typing.active(pk) {
		t.Error("loop still registered after typing stopped")
	}
	m.typing.wg.Wait() // the loop goroutine has exited
	drain(rec.ch)
	rec.expectNone(t, 3*interval)
}

func TestTypingStopsOnMessageAndErrors(t *testing.T) {
	const interval = 50 * time.Millisecond
	rec := &typingRecorder{ch: make(chan networkid.PortalKey, 100)}
	ts := newTypingSender(interval, rec.send)
	a, b := portalKeyOf("a@x.com", "me"), portalKeyOf("b@x.com", "me")
	ts.start(a)
	ts.start(b)
	rec.expect2(t, a, b)
	ts.stop(a) // what HandleMatrixMessage does after sending
	waitFor(t, func() bool { return !ts.active(a) && ts.active(b) })

	// A failing send (contact offline) ends the loop by itself.
	rec.fail.Store(true)
	waitFor(t, func() bool { return !ts.active(b) })
	rec.fail.Store(false)

	// Uploading media is not text typing: nothing is sent.
	m := &MSNClient{typing: ts}
	_ = m.HandleMatrixTyping(context.Background(), &bridgev2.MatrixTyping{Portal: testPortal(a), IsTyping: true, Type: bridgev2.TypingTypeUploadingMedia})
	if ts.active(a) {
		t.Error("media upload started a typing loop")
	}
	ts.start(a)
	ts.stopAll()
	if ts.active(a) {
		t.Error("stopAll left a loop")
	}
}

func TestTypingMaxDuration(t *testing.T) {
	rec := &typingRecorder{ch: make(chan networkid.PortalKey, 1000)}
	ts := newTypingSender(20*time.Millisecond, rec.send)
	ts.maxDur = 200 * time.Millisecond
	pk := portalKeyOf("a@x.com", "me")
	ts.start(pk)
	waitFor(t, func() bool { return !ts.active(pk) })
}

func (r *typingRecorder) expect2(t *testing.T, a, b networkid.PortalKey) {
	t.Helper()
	seen := map[networkid.PortalKey]bool{}
	deadline := time.After(10 * time.Second)
	for !seen[a] || !seen[b] {
		select {
		case pk := <-r.ch:
			seen[pk] = true
		case <-deadline:
			t.Fatalf("typing seen for %v only", seen)
		}
	}
}

func drain[T any](ch chan T) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// waitFor polls cond until it holds (state owned by goroutines, no event).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
