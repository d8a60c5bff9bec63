package bridge

import (
	"context"
	"sync"
	"testing"
	"time"

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
	r.mu.Unlock()
	r.ch <- c
	return nil
}

func (r *presenceRecorder) next(t *testing.T) presenceCall {
	t.Helper()
	select {
	case c := <-r.ch:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no presence update")
		return presenceCall{}
	}
}

func TestPresenceCoalescing(t *testing.T) {
	const interval = 300 * time.Millisecond
	rec := newPresenceRecorder()
	pb := newPresenceBridge(true, interval, rec.apply)
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
	pb := newPresenceBridge(false, 0, rec.apply)
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
	pb := newPresenceBridge(true, 0, rec.apply)
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
