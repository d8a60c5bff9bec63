package bridge

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

func TestMatrixPresence(t *testing.T) {
	tests := []struct {
		in       contactPresence
		presence event.Presence
		msg      string
	}{
		{contactPresence{msnclient.StatusOnline, ""}, event.PresenceOnline, ""},
		{contactPresence{msnclient.StatusOnline, "at work"}, event.PresenceOnline, "at work"},
		{contactPresence{msnclient.StatusBusy, ""}, event.PresenceUnavailable, "Busy"},
		{contactPresence{msnclient.StatusAway, "back soon"}, event.PresenceUnavailable, "Away - back soon"},
		{contactPresence{msnclient.StatusBeRightBack, ""}, event.PresenceUnavailable, "Be right back"},
		{contactPresence{msnclient.StatusOnThePhone, ""}, event.PresenceUnavailable, "On the phone"},
		{contactPresence{msnclient.StatusOutToLunch, ""}, event.PresenceUnavailable, "Out to lunch"},
		{contactPresence{msnclient.StatusIdle, ""}, event.PresenceUnavailable, "Idle"},
		{contactPresence{msnclient.StatusOffline, "psm"}, event.PresenceOffline, "psm"},
		{contactPresence{msnclient.StatusInvisible, ""}, event.PresenceOffline, ""},
		{contactPresence{"", ""}, event.PresenceOffline, ""},
	}
	for _, tt := range tests {
		p, msg := matrixPresence(tt.in)
		if p != tt.presence || msg != tt.msg {
			t.Errorf("matrixPresence(%+v) = %q %q, want %q %q", tt.in, p, msg, tt.presence, tt.msg)
		}
	}
}

// presenceRecorder records applied updates with their times.
type presenceRecorder struct {
	mu    sync.Mutex
	calls []presenceCall
	ch    chan presenceCall
	// fail, when set, gives the result of call number n (1-based).
	fail func(n int) error
	// block, when set, holds every call until it is closed.
	block chan struct{}
}

type presenceCall struct {
	email string
	p     contactPresence
	at    time.Time
}

func newPresenceRecorder() *presenceRecorder {
	return &presenceRecorder{ch: make(chan presenceCall, 100)}
}

func (r *presenceRecorder) apply(_ context.Context, email string, p contactPresence) error {
	c := presenceCall{email, p, time.Now()}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	n := len(r.calls)
	r.mu.Unlock()
	r.ch <- c
	if r.block != nil {
		<-r.block
	}
	if r.fail != nil {
		return r.fail(n)
	}
	return nil
}

func (r *presenceRecorder) next(t *testing.T) presenceCall {
	t.Helper()
	select {
	case c := <-r.ch:
		return c
	case <-time.After(testTimeout):
		t.Fatal("no presence update")
		return presenceCall{}
	}
}

// none checks that no update is sent for a while.
func (r *presenceRecorder) none(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case c := <-r.ch:
		t.Errorf("unexpected update %+v", c)
	case <-time.After(wait):
	}
}

func TestPresenceCoalescing(t *testing.T) {
	const interval = 300 * time.Millisecond
	rec := newPresenceRecorder()
	pb := newPresenceBridge(true, interval, zerolog.Nop(), rec.apply)
	defer pb.stop()

	set := func(s msnclient.Status) {
		pb.update("a@x.com", func(p *contactPresence) { p.Status = s })
	}
	set(msnclient.StatusOnline)
	first := rec.next(t)
	if first.email != "a@x.com" {
		t.Fatalf("first update for %q", first.email)
	}
	// A burst right after the first update is merged into one update that
	// carries the last value and waits for the interval.
	set(msnclient.StatusAway)
	set(msnclient.StatusBusy)
	pb.update("a@x.com", func(p *contactPresence) { p.PSM = "hi" })
	second := rec.next(t)
	if second.p != (contactPresence{msnclient.StatusBusy, "hi"}) {
		t.Errorf("coalesced update = %+v", second.p)
	}
	if gap := second.at.Sub(first.at); gap < interval-20*time.Millisecond {
		t.Errorf("updates %v apart, interval is %v", gap, interval)
	}
	// Setting the same value again sends nothing; a different contact is
	// independent.
	set(msnclient.StatusBusy)
	pb.update("b@x.com", func(p *contactPresence) { p.Status = msnclient.StatusOnline })
	third := rec.next(t)
	if third.email != "b@x.com" {
		t.Errorf("unexpected update %+v", third)
	}
	select {
	case c := <-rec.ch:
		t.Errorf("unexpected extra update %+v", c)
	case <-time.After(2 * interval):
	}
}

func TestPresenceDisabled(t *testing.T) {
	rec := newPresenceRecorder()
	pb := newPresenceBridge(false, 0, zerolog.Nop(), rec.apply)
	pb.update("a@x.com", func(p *contactPresence) { p.Status = msnclient.StatusOnline })
	pb.refresh()
	select {
	case c := <-rec.ch:
		t.Errorf("disabled presence sent %+v", c)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestPresenceRefreshAndStop(t *testing.T) {
	rec := newPresenceRecorder()
	pb := newPresenceBridge(true, 0, zerolog.Nop(), rec.apply)
	pb.update("a@x.com", func(p *contactPresence) { p.Status = msnclient.StatusOnline })
	pb.update("off@x.com", func(p *contactPresence) { p.Status = msnclient.StatusOffline })
	got := map[string]bool{rec.next(t).email: true, rec.next(t).email: true}
	if !got["a@x.com"] || !got["off@x.com"] {
		t.Fatalf("initial updates = %v", got)
	}
	pb.refresh()
	if c := rec.next(t); c.email != "a@x.com" {
		t.Errorf("refresh sent %+v; only online contacts are refreshed", c)
	}
	pb.stop()
	pb.update("a@x.com", func(p *contactPresence) { p.Status = msnclient.StatusAway })
	select {
	case c := <-rec.ch:
		t.Errorf("stopped bridge sent %+v", c)
	case <-time.After(200 * time.Millisecond):
	}
}

// A refresh asked for while an update is in flight is sent after it, not
// lost.
func TestPresenceRefreshDuringSend(t *testing.T) {
	rec := newPresenceRecorder()
	rec.block = make(chan struct{})
	pb := newPresenceBridge(true, 0, zerolog.Nop(), rec.apply)
	defer pb.stop()
	pb.update("a@x.com", func(p *contactPresence) { p.Status = msnclient.StatusOnline })
	rec.next(t) // in flight until block is closed
	pb.refresh()
	close(rec.block)
	if c := rec.next(t); c.email != "a@x.com" || c.p.Status != msnclient.StatusOnline {
		t.Errorf("refresh sent %+v", c)
	}
}

// The contact list sync reads a snapshot, then applies it contact by
// contact; a live presence change that arrives in between is newer and
// must not be overwritten by the stale snapshot value.
func TestPresenceSnapshotKeepsNewerLiveChange(t *testing.T) {
	rec := newPresenceRecorder()
	rec.block = make(chan struct{})
	pb := newPresenceBridge(true, 0, zerolog.Nop(), rec.apply)
	defer pb.stop()
	// An earlier update of bob is in flight, so what follows is coalesced
	// into the next one.
	pb.update("bob@x.com", func(p *contactPresence) { p.Status = msnclient.StatusAway })
	rec.next(t)

	since := pb.mark() // the sync reads its snapshot: bob has no status
	pb.update("bob@x.com", func(p *contactPresence) { p.Status = msnclient.StatusOnline })
	pb.updateSnapshot("bob@x.com", since, func(p *contactPresence) { p.Status = "" })
	pb.updateSnapshot("carol@x.com", since, func(p *contactPresence) { p.Status = msnclient.StatusBusy })
	close(rec.block)

	got := make(map[string]contactPresence)
	for len(got) < 2 {
		c := rec.next(t)
		got[c.email] = c.p
	}
	if got["bob@x.com"].Status != msnclient.StatusOnline {
		t.Errorf("bob shown as %+v after the sync, want online (the live change is newer)", got["bob@x.com"])
	}
	if got["carol@x.com"].Status != msnclient.StatusBusy {
		t.Errorf("carol shown as %+v, want the snapshot's busy", got["carol@x.com"])
	}
	rec.none(t, 200*time.Millisecond)
}

// A failed update is retried with growing delays until it succeeds.
func TestPresenceRetry(t *testing.T) {
	rec := newPresenceRecorder()
	rec.fail = func(n int) error {
		if n <= 2 {
			return errors.New("homeserver said 502")
		}
		return nil
	}
	pb := newPresenceBridge(true, 0, zerolog.Nop(), rec.apply)
	var mu sync.Mutex
	var attempts []int
	pb.retryDelay = func(attempt int) time.Duration {
		mu.Lock()
		attempts = append(attempts, attempt)
		mu.Unlock()
		return 20 * time.Millisecond
	}
	defer pb.stop()
	pb.update("a@x.com", func(p *contactPresence) { p.Status = msnclient.StatusOnline })
	var last presenceCall
	for i := 0; i < 3; i++ {
		c := rec.next(t)
		if c.email != "a@x.com" || c.p.Status != msnclient.StatusOnline {
			t.Fatalf("attempt %d sent %+v", i+1, c)
		}
		if i > 0 && c.at.Sub(last.at) < 20*time.Millisecond {
			t.Errorf("retry %d came %v after the failure, before the backoff", i, c.at.Sub(last.at))
		}
		last = c
	}
	rec.none(t, 200*time.Millisecond) // the third attempt succeeded
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(attempts, []int{1, 2}) {
		t.Errorf("backoff asked for attempts %v, want [1 2]", attempts)
	}
}

// Retries are bounded; the next change tries again.
func TestPresenceRetryBounded(t *testing.T) {
	rec := newPresenceRecorder()
	rec.fail = func(int) error { return errors.New("homeserver down") }
	pb := newPresenceBridge(true, 0, zerolog.Nop(), rec.apply)
	pb.retryDelay = func(int) time.Duration { return 10 * time.Millisecond }
	pb.maxRetries = 2
	defer pb.stop()
	pb.update("a@x.com", func(p *contactPresence) { p.Status = msnclient.StatusOnline })
	for i := 0; i < 3; i++ {
		rec.next(t)
	}
	rec.none(t, 300*time.Millisecond)
	pb.update("a@x.com", func(p *contactPresence) { p.Status = msnclient.StatusBusy })
	if c := rec.next(t); c.p.Status != msnclient.StatusBusy {
		t.Errorf("after giving up, a change sent %+v", c)
	}
}

func TestPresenceRetryDelay(t *testing.T) {
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := presenceRetryDelay(i + 1); got != w {
			t.Errorf("presenceRetryDelay(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := presenceRetryDelay(1000); got != presenceRetryMax {
		t.Errorf("presenceRetryDelay(1000) = %v, want the cap", got)
	}
}

// Every login keeps one presenceState per contact: it stays in the
// 96-byte size class (it was 160), 1.3 KiB per login with 20 contacts.
func TestPresenceStateSize(t *testing.T) {
	if n := unsafe.Sizeof(presenceState{}); n > 96 {
		t.Errorf("presenceState is %d bytes, want at most 96", n)
	}
}
