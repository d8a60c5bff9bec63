package bridge

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/exsync"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

func TestHandledEventsClaimOnceAndBounded(t *testing.T) {
	h := newHandledEvents(3)
	if !h.claim("$a") || h.claim("$a") {
		t.Fatal("an event must be claimed exactly once")
	}
	for _, e := range []id.EventID{"$b", "$c", "$d"} {
		h.claim(e)
	}
	if h.seen("$a") {
		t.Error("the oldest event is still remembered past the bound")
	}
	if !h.seen("$d") || !h.seen("$b") {
		t.Error("recent events forgotten")
	}
	if len(h.order) != 3 || len(h.ids) != 3 {
		t.Errorf("remembered %d/%d ids, want 3", len(h.order), len(h.ids))
	}
}

func msgEvent(evtID id.EventID, sender id.UserID, body string) *event.Event {
	return &event.Event{
		ID: evtID, Sender: sender, Type: event.EventMessage,
		Content: event.Content{Parsed: &event.MessageEventContent{MsgType: event.MsgText, Body: body}},
	}
}

// The catch-up bridges, oldest first, the user's messages of the room that
// were not handled, and nothing sent by the bridge's own users or other
// event types.
func TestRoomCatchUpDispatchesUnhandledUserMessages(t *testing.T) {
	const user, ghost, bot = id.UserID("@u:hs"), id.UserID("@msn_bob:hs"), id.UserID("@msnbot:hs")
	mkStatus := func(target id.EventID, st event.MessageStatus, reason event.MessageStatusReason) *event.Event {
		return &event.Event{ID: "$st" + target, Sender: bot, Type: event.BeeperMessageStatus,
			Content: event.Content{Parsed: &event.BeeperMessageStatusEventContent{
				RelatesTo: event.RelatesTo{Type: event.RelReference, EventID: target}, Status: st, Reason: reason}}}
	}
	newestFirst := []*event.Event{
		mkStatus("$6", event.MessageStatusRetriable, event.MessageStatusUndecryptable),
		{ID: "$6", Sender: user, Type: event.EventEncrypted}, // reported undecryptable already
		mkStatus("$5", event.MessageStatusRetriable, event.MessageStatusGenericError),
		{ID: "$5", Sender: user, Type: event.EventEncrypted}, // arrived before the portal: not a portal
		mkStatus("$4b", event.MessageStatusSuccess, ""),
		msgEvent("$4b", user, "bridged already (before a restart)"),
		msgEvent("$4", user, "third"),
		msgEvent("$3", ghost, "from the ghost"),
		msgEvent("$2", user, "second (handled)"),
		{ID: "$name", Sender: user, Type: event.StateRoomName},
		msgEvent("$1", user, "first"),
		{ID: "$bot", Sender: bot, Type: event.EventMessage},
		{ID: "$create", Sender: user, Type: event.StateCreate},
	}
	var got []id.EventID
	c := &roomCatchUp{
		log: zerolog.Nop(),
		history: func(_ context.Context, _ id.RoomID, max int) ([]*event.Event, error) {
			if max <= 0 {
				t.Errorf("history max %d", max)
			}
			return slices.Clone(newestFirst), nil
		},
		handled:  func(_ context.Context, evt *event.Event) bool { return evt.ID == "$2" },
		dispatch: func(_ context.Context, evt *event.Event) { got = append(got, evt.ID) },
		ownUser:  func(u id.UserID) bool { return u == ghost || u == bot },
	}
	n, err := c.run(context.Background(), "!room:hs")
	if err != nil {
		t.Fatal(err)
	}
	if want := []id.EventID{"$1", "$4", "$5"}; !slices.Equal(got, want) || n != 3 {
		t.Errorf("dispatched %v (%d), want %v", got, n, want)
	}
}

// waitNewRoom returns the room bridgev2 sets on the portal after the
// invite, not the old room that it lets go first.
func TestWaitNewRoom(t *testing.T) {
	portal := &bridgev2.Portal{Portal: &database.Portal{}, RoomCreated: newEventForTest()}
	done := make(chan id.RoomID, 1)
	go func() {
		room, _ := waitNewRoom(context.Background(), portal, "")
		done <- room
	}()
	time.Sleep(50 * time.Millisecond)
	portal.MXID = "!new:hs"
	portal.RoomCreated.Set()
	select {
	case room := <-done:
		if room != "!new:hs" {
			t.Errorf("room %q", room)
		}
	case <-time.After(testTimeout):
		t.Fatal("waitNewRoom never returned")
	}

	// The portal keeps its old room (the user is still in it): nothing.
	portal.MXID = "!old:hs"
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if room, ok := waitNewRoom(ctx, portal, "!old:hs"); ok {
		t.Errorf("old room kept, but waitNewRoom returned %q", room)
	}
}

// A Matrix message that reaches HandleMatrixMessage twice (from the
// homeserver and from the catch-up) is sent to MSN once; the second
// handling reports nothing of its own.
func TestHandleMatrixMessageOnce(t *testing.T) {
	srv, c := testServer(t)
	const friend = "friend@example.com"
	if err := srv.AddAccount(friend, "pw", "Friend"); err != nil {
		t.Fatal(err)
	}
	_ = srv.AddContact(testEmail, friend, 1|2|8)
	_ = srv.AddContact(friend, testEmail, 1|2|8)
	box := &inbox{ch: make(chan struct{}, 1)}
	peer := msnclient.NewClient(c.Config.Servers[0].clientConfig(friend, "pw", msnp.NewGUID()), box.handle)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := peer.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	m, states := testClient(t, c, testPassword)
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")

	evt := msgEvent("$first", "@u:hs", "the first message")
	send := func() (*bridgev2.MatrixMessageResponse, error) {
		return m.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
			Event:   evt,
			Content: evt.Content.AsMessage(),
			Portal:  testPortal(makeDMPortalKey(friend, m.login.ID)),
		}})
	}
	var wg sync.WaitGroup
	resps := make([]*bridgev2.MatrixMessageResponse, 2)
	for i := range resps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := send()
			if err != nil {
				t.Errorf("send %d: %v", i, err)
			}
			resps[i] = resp
		}()
	}
	wg.Wait()
	box.wait(t, "the first message")
	pending := 0
	for _, r := range resps {
		if r != nil && r.Pending && r.DB == nil {
			pending++
		}
	}
	if pending != 1 {
		t.Errorf("%d of the two handlings were silent duplicates, want exactly 1: %+v", pending, resps)
	}
	// A later message is a barrier: the duplicate would have come before it.
	evt = msgEvent("$second", "@u:hs", "the second message")
	if _, err := send(); err != nil {
		t.Fatal(err)
	}
	box.wait(t, "the second message")
	box.mu.Lock()
	defer box.mu.Unlock()
	n := 0
	for _, msg := range box.msgs {
		if msg.Message.Text == "the first message" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the contact received the first message %d times, want once", n)
	}
	if !c.eventHandled(ctx, msgEvent("$first", "", "")) || c.eventHandled(ctx, msgEvent("$never", "", "")) {
		t.Error("eventHandled does not reflect the claims")
	}
}

// prepareHistoryEvent makes a /messages event look like one from an
// appservice transaction: room, class and parsed content.
func TestPrepareHistoryEvent(t *testing.T) {
	evt := &event.Event{ID: "$x", Type: event.EventMessage}
	evt.Content.VeryRaw = []byte(`{"msgtype":"m.text","body":"hi"}`)
	prepareHistoryEvent(context.Background(), "!r:hs", evt)
	if evt.RoomID != "!r:hs" || evt.Type.Class != event.MessageEventType || evt.Mautrix.EventSource != event.SourceTimeline {
		t.Errorf("event not prepared: %+v", evt)
	}
	if msg := evt.Content.AsMessage(); msg == nil || msg.Body != "hi" {
		t.Errorf("content not parsed: %s", fmt.Sprint(evt.Content.Parsed))
	}
}

func newEventForTest() *exsync.Event { return exsync.NewEvent() }
