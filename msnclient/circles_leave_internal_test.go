package msnclient

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// eventLog collects a client's events for internal tests.
type eventLog struct {
	mu     sync.Mutex
	events []any
}

func (l *eventLog) handle(evt any) {
	l.mu.Lock()
	l.events = append(l.events, evt)
	l.mu.Unlock()
}

// waitFor polls until match accepts an event.
func (l *eventLog) waitFor(t *testing.T, what string, match func(any) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, evt := range l.events {
			if match(evt) {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestLeftCircleStaysGone: an address book read that started before we
// left a circle, and whose circle sync runs after, must not bring the
// circle back (nor send to it); a later read that lists it again (a new
// invitation) does. This is the interleaving that made
// TestCircleCreateInviteAcceptDeclineLeave flaky: the server's circle NOT
// to the leaver starts a background refresh during BreakConnection.
func TestLeftCircleStaysGone(t *testing.T) {
	srv, err := msntest.Start(msntest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	for _, a := range []string{"alice", "bob"} {
		if err := srv.AddAccount(a+"@example.com", "pw", a); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := srv.CreateCircle("Club", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddCircleMember(raw, "bob@example.com", msntest.CircleMember); err != nil {
		t.Fatal(err)
	}
	id, err := ParseCircleID(raw)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{Email: "bob@example.com", Password: "pw", Server: srv.NSAddr(), Versions: []int{18}, AllowPlainHTTP: true}
	cfg.UseEscargotURLs(srv.HTTPURL())
	var log eventLog
	bob := NewClient(cfg, log.handle)
	if err := bob.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bob.Close() })
	log.waitFor(t, "bob joins the circle", func(evt any) bool {
		e, ok := evt.(*CircleJoined)
		return ok && e.Circle.ID == id
	})
	s, err := bob.connected()
	if err != nil {
		t.Fatal(err)
	}

	// A read of the address book starts (it lists the circle)...
	gen := bob.circleGen()
	ab, err := bob.abClient(s)
	if err != nil {
		t.Fatal(err)
	}
	book, err := ab.ABFindContactsPaged(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(book.Circles) != 1 {
		t.Fatalf("address book before leaving lists %d circles", len(book.Circles))
	}
	// ...bob leaves meanwhile...
	if err := bob.LeaveCircle(ctx, id); err != nil {
		t.Fatal(err)
	}
	// ...and the read ends: its result is noted and the circles synced,
	// as refreshListCtx does.
	bob.noteCircleResult(s, book, gen)
	bob.syncCircles(ctx, s)
	if got := bob.Circles(); len(got) != 0 {
		t.Errorf("circles after leaving = %+v, want none", got)
	}
	if err := bob.SendCircleMessage(ctx, id, TextMessage{Text: "still here?"}); !errors.Is(err, ErrUnknownCircle) {
		t.Errorf("sending to a left circle: %v, want ErrUnknownCircle", err)
	}

	// A sync with nothing new keeps it gone too.
	bob.syncCircles(ctx, s)
	if got := bob.Circles(); len(got) != 0 {
		t.Fatalf("circles after a second sync = %+v, want none", got)
	}

	// Invited again: the server lists it again, and the circle is back as
	// an invitation.
	if err := srv.InviteToCircle(raw, "alice@example.com", "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "the new invitation", func(evt any) bool {
		e, ok := evt.(*CircleInvitation)
		return ok && e.Circle.ID == id
	})
	if got := bob.Circles(); len(got) != 1 || got[0].ID != id || got[0].State != CircleWaitingResponse {
		t.Errorf("circles after the new invitation = %+v", got)
	}
}
