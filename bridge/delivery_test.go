package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// A message MSN does not acknowledge in time is reported "not confirmed"
// (pending), not failed; when the acknowledgement arrives late the same
// Matrix event's status becomes delivered.
func TestLateAckUpdatesMatrixStatus(t *testing.T) {
	srv, c := testServer(t)
	if err := srv.AddAccount("friend@example.com", "pw", "Friend"); err != nil {
		t.Fatal(err)
	}
	_ = srv.AddContact(testEmail, "friend@example.com", 1|2|8)
	_ = srv.AddContact("friend@example.com", testEmail, 1|2|8)
	box := &inbox{ch: make(chan struct{}, 1)}
	peer := msnclient.NewClient(c.Config.Servers[0].clientConfig("friend@example.com", "pw", msnp.NewGUID()), box.handle)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := peer.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	m, states := testClient(t, c, testPassword)
	statuses := make(chan *bridgev2.MessageStatus, 4)
	infos := make(chan *bridgev2.MessageStatusEventInfo, 4)
	m.delivery.sendStatus = func(_ context.Context, st *bridgev2.MessageStatus, info *bridgev2.MessageStatusEventInfo) {
		statuses <- st
		infos <- info
	}
	saved := make(chan *database.Message, 4)
	m.delivery.saveMessage = func(_ context.Context, row *database.Message) error {
		saved <- row
		return nil
	}
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")

	send := func(ctx context.Context, evtID id.EventID, body string) error {
		content := &event.MessageEventContent{MsgType: event.MsgText, Body: body}
		_, err := m.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
			Event:   &event.Event{ID: evtID, RoomID: "!room:example.com", Type: event.EventMessage, Content: event.Content{Parsed: content}},
			Content: content,
			Portal:  testPortal(makeDMPortalKey("friend@example.com", m.login.ID)),
		}})
		return err
	}
	if err := send(ctx, "$first", "first"); err != nil {
		t.Fatal(err)
	}
	srv.SetSwitchboardAck(msntest.AckLater)
	sctx, scancel := context.WithTimeout(ctx, 2*time.Second) // the server "hangs" past this
	err := send(sctx, "$slow", "slow")
	scancel()
	var st bridgev2.MessageStatus
	if !errors.As(err, &st) || st.Status != event.MessageStatusPending || st.IsCertain {
		t.Fatalf("unacknowledged message: %v (%+v), want an uncertain PENDING status", err, st)
	}
	box.wait(t, "slow")
	if n := srv.ReleaseSwitchboardAcks(); n != 1 {
		t.Fatalf("%d acknowledgements held", n)
	}
	select {
	case got := <-statuses:
		info := <-infos
		if got.Status != event.MessageStatusSuccess || info.SourceEventID != "$slow" {
			t.Errorf("late status %+v for %s, want SUCCESS for $slow", got, info.SourceEventID)
		}
	case <-time.After(testTimeout):
		t.Fatal("the late acknowledgement never updated the Matrix status")
	}
	// The message is stored like one confirmed at once, so replies to it
	// find it and quote it.
	select {
	case row := <-saved:
		meta, _ := row.Metadata.(*MessageMetadata)
		if row.MXID != "$slow" || row.Room != makeDMPortalKey("friend@example.com", m.login.ID) || meta == nil || meta.Snippet != "slow" {
			t.Errorf("stored %+v (%+v), want the row of $slow in the DM", row, meta)
		}
	default:
		t.Error("the message confirmed late has no message row")
	}
}

// The group room of a conversation is told who could not be invited into
// it, and why. (End to end: e2e TestBridge/GroupOfflineMember.)
func TestUnreachableGroupMemberNotice(t *testing.T) {
	_, c := testServer(t)
	m, _ := testClient(t, c, testPassword)
	type notice struct {
		pk   networkid.PortalKey
		text string
	}
	notices := make(chan notice, 4)
	m.delivery.sendNotice = func(_ context.Context, pk networkid.PortalKey, text string) { notices <- notice{pk, text} }
	group := networkid.PortalKey{ID: "group.test", Receiver: m.login.ID}
	parts := []string{"friend@example.com", "offline@example.com"}
	m.convs.set(parts, group)
	m.rememberName("offline@example.com", "Off Line")

	ctx := context.Background()
	m.handleUnreachable(ctx, &msnclient.ParticipantUnreachable{
		ConversationEvent: msnclient.ConversationEvent{Participants: parts},
		Email:             "offline@example.com",
		Err:               fmt.Errorf("invite: %w", msnclient.ErrContactOffline),
	})
	m.handleUnreachable(ctx, &msnclient.ParticipantUnreachable{
		ConversationEvent: msnclient.ConversationEvent{Participants: parts},
		Email:             "offline@example.com",
		Err:               &msnp.ServerError{Code: 208},
	})
	for _, want := range []string{"Off Line (offline@example.com) is offline", "could not be reached"} {
		n := <-notices
		if n.pk != group || !strings.Contains(n.text, want) {
			t.Errorf("notice %q in %v, want %q in the group", n.text, n.pk, want)
		}
	}
}

// A message MSN did not acknowledge is "not confirmed", never a plain
// failure: pending while a late acknowledgement can still come, else a
// retriable status with a notice saying it may have arrived.
func TestUnconfirmedSendStatus(t *testing.T) {
	m := &MSNClient{}
	late := m.sendFailure(fmt.Errorf("send message: %w", &msnclient.UnconfirmedError{ID: 1, Late: true, Err: msnclient.ErrTimeout}))
	closed := m.sendFailure(fmt.Errorf("send message: %w", &msnclient.UnconfirmedError{ID: 2, Err: errors.New("switchboard closed")}))
	for _, tt := range []struct {
		err    error
		status event.MessageStatus
		notice bool
	}{{late, event.MessageStatusPending, false}, {closed, event.MessageStatusRetriable, true}} {
		var st bridgev2.MessageStatus
		if !errors.As(tt.err, &st) {
			t.Fatalf("%v: not a message status", tt.err)
		}
		if st.Status != tt.status || st.IsCertain || st.SendNotice != tt.notice ||
			!strings.Contains(st.Message, "Not confirmed") || !strings.Contains(st.Message, "may have arrived") {
			t.Errorf("%v: status %+v", tt.err, st)
		}
		if !errors.Is(tt.err, msnclient.ErrDeliveryUnconfirmed) {
			t.Errorf("%v: cause lost", tt.err)
		}
	}
}
