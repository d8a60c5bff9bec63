package bridge

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// A homeserver that hangs on profile updates (the presence burst at
// sign-in updates every contact's ghost) does not delay the messages that
// follow: they are handed to bridgev2 at once.
func TestSlowHomeserverDoesNotDelayMessages(t *testing.T) {
	m := testLoginClient(t)
	queued := make(chan bridgev2.RemoteEvent, 10)
	m.queueRemote = func(evt bridgev2.RemoteEvent) { queued <- evt }
	hang := make(chan struct{})
	defer close(hang)
	var profileCalls atomic.Int32
	m.side.applyName = func(ctx context.Context, _, _ string) {
		profileCalls.Add(1)
		select { // a homeserver that does not answer
		case <-hang:
		case <-ctx.Done():
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.side.start(ctx, &m.bg)
	defer m.bg.Wait(testTimeout)
	defer cancel()

	for i := range 200 {
		m.handleEvent(ctx, nil, &msnclient.ContactPresence{
			Email: fmt.Sprintf("c%d@x.com", i), FriendlyName: fmt.Sprintf("Contact %d", i),
			Status: msnclient.StatusOnline, Initial: true,
		})
	}
	m.handleEvent(ctx, nil, &msnclient.MessageReceived{
		ConversationEvent: msnclient.ConversationEvent{Participants: []string{"c1@x.com"}},
		From:              "c1@x.com",
		Message:           msnclient.TextMessage{Text: "hello"},
	})
	select {
	case evt := <-queued:
		if evt.GetType() != bridgev2.RemoteEventMessage {
			t.Errorf("queued %v, want the message", evt.GetType())
		}
	case <-time.After(testTimeout):
		t.Fatal("the message waited for the homeserver's profile updates")
	}
	deadline := time.Now().Add(testTimeout)
	for profileCalls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if profileCalls.Load() == 0 {
		t.Error("the ghost profile update never ran")
	}
}

// Profile and presence work is coalesced per contact (the last value
// wins) and notices are a bounded queue: a burst cannot grow memory
// without bound.
func TestSideWorkBoundedAndCoalesced(t *testing.T) {
	sw := newSideWork(testLoginClient(t).log)
	sw.maxJobs = 3
	for i := range 100 {
		sw.setName("a@x.com", fmt.Sprintf("name %d", i))
		sw.setPresence("a@x.com", storedPresence{Status: msnclient.StatusAway, HasStatus: true})
	}
	sw.setPresence("a@x.com", storedPresence{PSM: "psm", HasPSM: true})
	accepted := 0
	for range 10 {
		if sw.add(func(context.Context) {}) {
			accepted++
		}
	}
	if accepted != 3 {
		t.Errorf("%d notices queued, want the bound 3", accepted)
	}
	var names []string
	var stored []storedPresence
	jobs := 0
	sw.applyName = func(_ context.Context, _, name string) { names = append(names, name) }
	sw.storePresence = func(_ context.Context, _ string, p storedPresence) { stored = append(stored, p) }
	sw.saveOwnName = func(context.Context, string) {}
	sw.jobs = append(sw.jobs[:0], func(context.Context) { jobs++ })
	if !sw.runBatch(context.Background()) {
		t.Fatal("nothing ran")
	}
	if len(names) != 1 || names[0] != "name 99" {
		t.Errorf("profile updates %v, want only the last name", names)
	}
	want := storedPresence{Status: msnclient.StatusAway, HasStatus: true, PSM: "psm", HasPSM: true}
	if len(stored) != 1 || stored[0] != want {
		t.Errorf("stored presence %+v, want one merged %+v", stored, want)
	}
	if jobs != 1 || sw.runBatch(context.Background()) {
		t.Error("work ran twice")
	}
}
