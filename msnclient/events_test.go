package msnclient

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/testutil"
)

// blockedQueue is an event queue whose handler blocks until released and
// records what it was given.
type blockedQueue struct {
	q       *eventQueue
	release chan struct{}
	done    chan struct{} // closed when Disconnected was delivered

	mu  sync.Mutex
	got []any
}

func newBlockedQueue(log zerolog.Logger) *blockedQueue {
	b := &blockedQueue{release: make(chan struct{}), done: make(chan struct{})}
	b.q = newEventQueue(func(evt any) {
		<-b.release
		b.mu.Lock()
		b.got = append(b.got, evt)
		b.mu.Unlock()
		if _, ok := evt.(*Disconnected); ok {
			close(b.done)
		}
	}, log)
	return b
}

func (b *blockedQueue) queued() int {
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	return len(b.q.queue)
}

// finish releases the handler and waits for the final Disconnected.
func (b *blockedQueue) finish(t *testing.T) []any {
	t.Helper()
	b.q.push(&Disconnected{Reason: ReasonClosed})
	close(b.release)
	select {
	case <-b.done:
	case <-time.After(60 * time.Second):
		t.Fatal("Disconnected never delivered")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.got
}

func textEvent(text string) *MessageReceived {
	return &MessageReceived{From: "bob@example.com", Message: TextMessage{Text: text}}
}

// messageTexts returns the texts of the delivered messages, in order.
func messageTexts(got []any) []string {
	var out []string
	for _, evt := range got {
		if m, ok := evt.(*MessageReceived); ok {
			out = append(out, m.Message.Text)
		}
	}
	return out
}

func TestEventQueueFloodOfTypingAndPresence(t *testing.T) {
	b := newBlockedQueue(zerolog.Nop())
	b.q.push(&Connected{Version: 18})
	var want []string
	for i := 0; i < 50000; i++ {
		b.q.push(&Typing{From: "bob@example.com"})
		b.q.push(&ContactPresence{Email: fmt.Sprintf("c%d@example.com", i%20), Status: StatusBusy, FriendlyName: fmt.Sprint(i)})
		b.q.push(&PersonalMessage{Email: fmt.Sprintf("c%d@example.com", i%20), Message: fmt.Sprint(i)})
		if i%1000 == 0 {
			want = append(want, fmt.Sprint("message ", i))
			b.q.push(textEvent(want[len(want)-1]))
		}
	}
	for i := 0; i < 20; i++ {
		b.q.push(&ContactPresence{Email: fmt.Sprintf("c%d@example.com", i), Status: StatusOnline, FriendlyName: "final"})
	}
	if n := b.queued(); n > eventSoftLimit+len(want)+100 {
		t.Errorf("%d events queued behind a blocked handler", n)
	}
	got := b.finish(t)
	if _, ok := got[0].(*Connected); !ok {
		t.Errorf("first event %T, want Connected", got[0])
	}
	if texts := messageTexts(got); strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("messages delivered: %d of %d, or out of order", len(texts), len(want))
	}
	last := map[string]*ContactPresence{}
	for _, evt := range got {
		if p, ok := evt.(*ContactPresence); ok {
			last[p.Email] = p
		}
	}
	for i := 0; i < 20; i++ {
		email := fmt.Sprintf("c%d@example.com", i)
		if p := last[email]; p == nil || p.FriendlyName != "final" || p.Status != StatusOnline {
			t.Errorf("last presence of %s is %+v, want the final one", email, p)
		}
	}
}

func TestEventQueueHardLimit(t *testing.T) {
	var buf testutil.SyncBuffer
	b := newBlockedQueue(zerolog.New(&buf))
	var want []string
	for i := 0; i < 3*eventHardLimit; i++ {
		// Every contact different: nothing is superseded.
		b.q.push(&ContactPresence{Email: fmt.Sprintf("c%d@example.com", i), Status: StatusOnline})
		if i%100 == 0 {
			want = append(want, fmt.Sprint("message ", i))
			b.q.push(textEvent(want[len(want)-1]))
			b.q.push(&Nudge{From: "bob@example.com"})
		}
	}
	if n := b.queued(); n > eventHardLimit+2*len(want) {
		t.Errorf("%d events queued behind a blocked handler", n)
	}
	got := b.finish(t)
	if texts := messageTexts(got); strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("messages delivered: %d of %d, or out of order", len(texts), len(want))
	}
	nudges := 0
	for _, evt := range got {
		if _, ok := evt.(*Nudge); ok {
			nudges++
		}
	}
	if nudges != len(want) {
		t.Errorf("%d nudges delivered, want %d", nudges, len(want))
	}
	if !strings.Contains(buf.String(), "dropping typing and presence events") {
		t.Errorf("no warning logged about dropped events: %q", buf.String())
	}
}

// Unknown messages queued behind a slow handler keep their raw payloads
// only up to a bound; the events themselves all arrive, in order.
func TestEventQueueBoundsRawPayloads(t *testing.T) {
	b := newBlockedQueue(zerolog.Nop())
	const n = 2000
	chunk := make([]byte, 4<<10) // a switchboard payload's worth
	for i := 0; i < n; i++ {
		b.q.push(&UnknownMessage{From: "bob@example.com", ContentType: fmt.Sprint("x/", i), Raw: chunk})
	}
	queuedRaw := 0
	b.q.mu.Lock()
	for _, evt := range b.q.queue {
		if um, ok := evt.(*UnknownMessage); ok {
			queuedRaw += len(um.Raw)
		}
	}
	b.q.mu.Unlock()
	if queuedRaw > eventRawBudget {
		t.Errorf("%d bytes of raw payload queued, bound is %d", queuedRaw, eventRawBudget)
	}
	got := b.finish(t)
	seen, truncated := 0, 0
	for _, evt := range got {
		um, ok := evt.(*UnknownMessage)
		if !ok {
			continue
		}
		if um.ContentType != fmt.Sprint("x/", seen) {
			t.Fatalf("event %d is %q: lost or out of order", seen, um.ContentType)
		}
		seen++
		if um.RawTruncated {
			truncated++
		} else if len(um.Raw) != len(chunk) {
			t.Errorf("event %d: %d raw bytes and not marked truncated", seen, len(um.Raw))
		}
	}
	if seen != n || truncated == 0 {
		t.Errorf("%d of %d unknown messages delivered, %d truncated", seen, n, truncated)
	}
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	if b.q.raw != 0 {
		t.Errorf("raw byte count %d after the queue drained", b.q.raw)
	}
}

// TestEventQueueReleasesBurstMap: after the login's presence burst is
// delivered, the queue no longer holds the supersede map it grew for it
// (an idle session keeps it for hours); after a few events it keeps the
// small one. Presence still supersedes under a flood afterwards.
func TestEventQueueReleasesBurstMap(t *testing.T) {
	b := newBlockedQueue(zerolog.Nop())
	for i := range 40 {
		b.q.push(&ContactPresence{Email: fmt.Sprintf("c%d@example.com", i), Status: StatusOnline})
	}
	close(b.release)
	idle := func() bool {
		b.q.mu.Lock()
		defer b.q.mu.Unlock()
		return !b.q.running
	}
	deadline := time.Now().Add(30 * time.Second)
	for !idle() {
		if time.Now().After(deadline) {
			t.Fatal("the burst was not delivered")
		}
		time.Sleep(time.Millisecond)
	}
	b.q.mu.Lock()
	kept := b.q.latest
	b.q.mu.Unlock()
	if kept != nil {
		t.Errorf("the queue keeps the supersede map of a %d-event burst", 40)
	}
	b.q.push(&ContactPresence{Email: "bob@example.com", Status: StatusBusy})
	for !idle() {
		if time.Now().After(deadline) {
			t.Fatal("the event was not delivered")
		}
		time.Sleep(time.Millisecond)
	}
	b.q.mu.Lock()
	kept = b.q.latest
	b.q.mu.Unlock()
	if kept == nil {
		t.Error("the queue dropped its small supersede map after one event")
	}
	b.mu.Lock()
	n := len(b.got)
	b.mu.Unlock()
	if n != 41 {
		t.Errorf("%d events delivered, want 41", n)
	}
}
