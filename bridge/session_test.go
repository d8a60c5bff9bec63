package bridge

import (
	"errors"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// Events that arrive before the bridge attaches are delivered first and in
// order; the first Disconnected ends the session.
func TestSessionBuffersUntilAttached(t *testing.T) {
	s := newSession()
	s.handle(&msnclient.Connected{Version: 18})
	s.handle(&msnclient.ContactPresence{Email: "a@x.com"})
	var got []any
	s.attach(func(evt any) { got = append(got, evt) })
	s.handle(&msnclient.Typing{From: "a@x.com"})
	if len(got) != 3 {
		t.Fatalf("got %d events, want 3", len(got))
	}
	if _, ok := got[0].(*msnclient.Connected); !ok {
		t.Errorf("first event %T", got[0])
	}
	if _, ok := got[2].(*msnclient.Typing); !ok {
		t.Errorf("last event %T", got[2])
	}
	select {
	case <-s.done:
		t.Fatal("session done before Disconnected")
	default:
	}
	lost := errors.New("reset")
	s.handle(&msnclient.Disconnected{Reason: msnclient.ReasonOtherLogin})
	s.handle(&msnclient.Disconnected{Reason: msnclient.ReasonConnectionLost, Err: lost})
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("session not done")
	}
	if r := s.reason(); r.Reason != msnclient.ReasonOtherLogin {
		t.Errorf("reason = %v, want the first one", r.Reason)
	}
}

func TestBackoffDelay(t *testing.T) {
	for n := 1; n <= 20; n++ {
		d := backoffDelay(n)
		if d < time.Second || d > 6*time.Minute {
			t.Errorf("backoffDelay(%d) = %v out of bounds", n, d)
		}
		nominal := min(2*time.Second<<(n-1), 5*time.Minute)
		if n > 10 {
			nominal = 5 * time.Minute
		}
		low, high := nominal*8/10, nominal*12/10
		if d < low || d > high {
			t.Errorf("backoffDelay(%d) = %v, want within 20%% of %v", n, d, nominal)
		}
	}
	if backoffDelay(1) > 3*time.Second {
		t.Error("first retry is not quick")
	}
}
