package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// circleInbox collects what an MSN peer receives in circles.
type circleInbox struct {
	mu   sync.Mutex
	evts []any
	ch   chan struct{}
}

func (b *circleInbox) handle(evt any) {
	switch evt.(type) {
	case *msnclient.CircleMessage, *msnclient.CircleNudge, *msnclient.CircleTyping, *msnclient.CircleJoined:
		b.mu.Lock()
		b.evts = append(b.evts, evt)
		b.mu.Unlock()
		select {
		case b.ch <- struct{}{}:
		default:
		}
	}
}

func (b *circleInbox) wait(t *testing.T, what string, match func(any) bool) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		b.mu.Lock()
		for _, e := range b.evts {
			if match(e) {
				b.mu.Unlock()
				return
			}
		}
		b.mu.Unlock()
		select {
		case <-b.ch:
		case <-deadline:
			t.Fatalf("peer never got %s", what)
		}
	}
}

// waitEvent waits for a queued remote event that match accepts.
func (r remoteRecorder) waitEvent(t *testing.T, what string, match func(bridgev2.RemoteEvent) bool) bridgev2.RemoteEvent {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case evt := <-r:
			if match(evt) {
				return evt
			}
		case <-deadline:
			t.Fatalf("no %s", what)
			return nil
		}
	}
}

// circleSetup puts a circle "Book club" on the server (bob is its Admin;
// me and zed, who is not my contact, are members) and connects bob and me.
func circleSetup(t *testing.T) (context.Context, *MSNClient, remoteRecorder, *msnclient.Client, *circleInbox, msnclient.CircleID) {
	ctx, m, events, bob, box, id, _ := circleSetupSrv(t)
	return ctx, m, events, bob, box, id
}

func circleSetupSrv(t *testing.T, prepare ...func(*MSNClient)) (context.Context, *MSNClient, remoteRecorder, *msnclient.Client, *circleInbox, msnclient.CircleID, *msntest.Server) {
	t.Helper()
	srv, c := testServer(t)
	c.DB = testFileDB(t) // a live session writes concurrently
	if err := srv.AddAccount("bob@example.com", "pw", "Bob Builder"); err != nil {
		t.Fatal(err)
	}
	_ = srv.AddContact(testEmail, "bob@example.com", 1|2|8)
	_ = srv.AddContact("bob@example.com", testEmail, 1|2|8)
	if err := srv.AddAccount("zed@example.com", "pw", "Zed Stranger"); err != nil {
		t.Fatal(err)
	}
	raw, err := srv.CreateCircle("Book club", "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{testEmail, "zed@example.com"} {
		if err := srv.AddCircleMember(raw, who, "Member"); err != nil {
			t.Fatal(err)
		}
	}
	id, err := msnclient.ParseCircleID(raw)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	t.Cleanup(cancel)
	box := &circleInbox{ch: make(chan struct{}, 1)}
	bob := msnclient.NewClient(c.Config.Servers[0].clientConfig("bob@example.com", "pw", msnp.NewGUID()), box.handle)
	if err := bob.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bob.Close() })
	m, states := testClient(t, c, testPassword)
	events := make(remoteRecorder, 200)
	m.queueRemote = func(evt bridgev2.RemoteEvent) { events <- evt }
	for _, fn := range prepare {
		fn(m)
	}
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")
	return ctx, m, events, bob, box, id, srv
}

// At login a circle becomes its portal with its name and every member
// (zed, not a contact, with the circle's name for him); messages cross
// both ways, with formatting, and nudges too.
func TestCircleRoundTrip(t *testing.T) {
	ctx, m, events, bob, box, id, srv := circleSetupSrv(t)
	pk := makeCirclePortalKey(id, m.login.ID)

	evt := events.waitEvent(t, "resync of the circle's portal", func(e bridgev2.RemoteEvent) bool {
		return e.GetType() == bridgev2.RemoteEventChatResync && e.GetPortalKey() == pk
	})
	info, err := evt.(bridgev2.RemoteChatResyncWithInfo).GetChatInfo(ctx, nil)
	if err != nil || info == nil || info.Name == nil || *info.Name != "Book club" {
		t.Fatalf("circle info %+v, %v", info, err)
	}
	for _, who := range []string{"bob@example.com", "zed@example.com", testEmail} {
		if mem, ok := info.Members.MemberMap[makeUserID(who)]; !ok || mem.Membership != event.MembershipJoin {
			t.Errorf("%s is not a joined member: %+v", who, info.Members.MemberMap)
		}
	}
	if zed := info.Members.MemberMap[makeUserID("zed@example.com")]; zed.UserInfo == nil || !strings.Contains(*zed.UserInfo.Name, "Zed Stranger") {
		t.Errorf("zed's ghost info = %+v", zed.UserInfo)
	}

	// MSN to Matrix.
	if err := bob.SendCircleMessage(ctx, id, msnclient.TextMessage{Text: "hello all"}); err != nil {
		t.Fatal(err)
	}
	if got := events.waitMessage(t, "bob@example.com"); got != pk {
		t.Errorf("bob's circle message went to %v, want %v", got, pk)
	}

	// Matrix to MSN, formatted.
	resp, err := m.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "**welcome**", Format: event.FormatHTML, FormattedBody: "<b>welcome</b>"},
		Portal:  testPortal(pk),
	}})
	if err != nil || resp == nil || resp.DB == nil {
		t.Fatalf("send to circle: %v", err)
	}
	box.wait(t, "the formatted circle message", func(e any) bool {
		msg, ok := e.(*msnclient.CircleMessage)
		return ok && msg.ID == id && msg.From == testEmail && msg.Message.Text == "welcome" && msg.Message.Format.Bold
	})
	if err := m.sendNudge(ctx, testPortal(pk)); err != nil {
		t.Fatal(err)
	}
	box.wait(t, "the nudge", func(e any) bool {
		n, ok := e.(*msnclient.CircleNudge)
		return ok && n.ID == id && n.From == testEmail
	})

	// Typing both ways, and bob's nudge as an emote in the circle's room.
	if err := m.sendTyping(ctx, pk); err != nil {
		t.Fatal(err)
	}
	box.wait(t, "typing", func(e any) bool {
		ty, ok := e.(*msnclient.CircleTyping)
		return ok && ty.ID == id && ty.From == testEmail
	})
	if err := bob.SendCircleTyping(ctx, id); err != nil {
		t.Fatal(err)
	}
	events.waitEvent(t, "bob typing in the circle", func(e bridgev2.RemoteEvent) bool {
		return e.GetType() == bridgev2.RemoteEventTyping && e.GetPortalKey() == pk && e.GetSender().Sender == makeUserID("bob@example.com")
	})
	if err := bob.SendCircleNudge(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := events.waitMessage(t, "bob@example.com"); got != pk {
		t.Errorf("bob's nudge went to %v, want %v", got, pk)
	}

	// Files do not go to circles: the status says why.
	_, err = m.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgFile, Body: "a.txt"},
		Portal:  testPortal(pk),
	}})
	var st bridgev2.MessageStatus
	if !errors.As(err, &st) || !strings.Contains(st.Message, "only text") {
		t.Errorf("file to a circle: %v", err)
	}

	// bob is removed from the circle: he leaves the room.
	if err := srv.RemoveCircleMember(string(id), "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	events.waitEvent(t, "bob leaving the circle's room", func(e bridgev2.RemoteEvent) bool {
		change, ok := e.(bridgev2.RemoteChatInfoChange)
		if !ok || e.GetPortalKey() != pk {
			return false
		}
		info, err := change.GetChatInfoChange(ctx, nil)
		if err != nil || info.MemberChanges == nil {
			return false
		}
		mem, ok := info.MemberChanges.MemberMap[makeUserID("bob@example.com")]
		return ok && mem.Membership == event.MembershipLeave
	})
}

// A message for a circle the user is not in is dropped (not bridged into
// a room), and a Matrix message to a circle the user left fails with why.
func TestCircleLeftDropsMessages(t *testing.T) {
	ctx, m, events, _, _, id := circleSetup(t)
	pk := makeCirclePortalKey(id, m.login.ID)
	events.waitEvent(t, "resync of the circle's portal", func(e bridgev2.RemoteEvent) bool {
		return e.GetType() == bridgev2.RemoteEventChatResync && e.GetPortalKey() == pk
	})
	cl, err := m.client()
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.LeaveCircle(ctx, id); err != nil {
		t.Fatal(err)
	}
	events.waitEvent(t, "deletion of the circle's portal", func(e bridgev2.RemoteEvent) bool {
		return e.GetType() == bridgev2.RemoteEventChatDelete && e.GetPortalKey() == pk
	})
	sess := m.currentSession()
	m.handleEvent(ctx, sess, &msnclient.CircleMessage{ID: id, From: "bob@example.com", Message: msnclient.TextMessage{Text: "late"}})
	m.handleEvent(ctx, sess, &msnclient.CircleMessage{ID: "00000000-0000-0000-0009-00000000dead", From: "bob@example.com", Message: msnclient.TextMessage{Text: "never"}})
	select {
	case evt := <-events:
		if evt.GetType() == bridgev2.RemoteEventMessage {
			t.Errorf("a message for a circle the user is not in was bridged to %v", evt.GetPortalKey())
		}
	case <-time.After(300 * time.Millisecond):
	}
	_, err = m.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "anyone?"},
		Portal:  testPortal(pk),
	}})
	var st bridgev2.MessageStatus
	if !errors.As(err, &st) || st.Status != event.MessageStatusFail || !strings.Contains(st.Message, "no longer in") {
		t.Errorf("message to a left circle: %v (%+v)", err, st)
	}
}

// An invitation that arrives while signed in is announced once; accepting
// it sets up the circle's portal.
func TestCircleInvitationAccepted(t *testing.T) {
	ctx, m, events, _, _, _, srv := circleSetupSrv(t)
	cl, err := m.client()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := srv.CreateCircle("Chess", "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.InviteToCircle(raw, "bob@example.com", testEmail); err != nil {
		t.Fatal(err)
	}
	id, _ := msnclient.ParseCircleID(raw)
	deadline := time.Now().Add(testTimeout)
	for !m.circles().wasAnnounced(id) {
		if time.Now().After(deadline) {
			t.Fatal("the invitation was never announced")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c, ok := cl.Circle(id); !ok || !c.Pending() {
		t.Fatalf("circle %+v %v is not a pending invitation", c, ok)
	}
	if err := cl.AcceptCircleInvitation(ctx, id); err != nil {
		t.Fatal(err)
	}
	pk := makeCirclePortalKey(id, m.login.ID)
	evt := events.waitEvent(t, "resync of the accepted circle's portal", func(e bridgev2.RemoteEvent) bool {
		return e.GetType() == bridgev2.RemoteEventChatResync && e.GetPortalKey() == pk
	})
	if info, _ := evt.(bridgev2.RemoteChatResyncWithInfo).GetChatInfo(ctx, nil); info == nil || *info.Name != "Chess" {
		t.Errorf("accepted circle info = %+v", info)
	}
}

// Leaving a circle's room leaves the circle only with
// circles.leave_on_room_leave; otherwise the circle stays and the bridge
// waits for leave-circle.
func TestCircleRoomLeft(t *testing.T) {
	for _, leave := range []bool{false, true} {
		t.Run(fmt.Sprintf("leave_on_room_leave=%v", leave), func(t *testing.T) {
			ctx, m, events, _, _, id, srv := circleSetupSrv(t)
			m.connector.Config.Circles.LeaveOnRoomLeave = leave
			pk := makeCirclePortalKey(id, m.login.ID)
			events.waitEvent(t, "resync of the circle's portal", func(e bridgev2.RemoteEvent) bool {
				return e.GetType() == bridgev2.RemoteEventChatResync && e.GetPortalKey() == pk
			})
			m.circleRoomLeft(ctx, testPortal(pk), id)
			_, member := srv.CircleMembers(string(id))[testEmail]
			if member == leave {
				t.Errorf("still a member after leaving the room: %v, want %v", member, !leave)
			}
			st := m.circles()
			st.mu.Lock()
			asked := st.leaveAsked[id]
			st.mu.Unlock()
			if asked == leave {
				t.Errorf("waiting for leave-circle: %v, want %v", asked, !leave)
			}
			if got, ok := st.onlyLeaveAsked(); ok != !leave || (ok && got != id) {
				t.Errorf("leave-circle without arguments would leave %q (%v)", got, ok)
			}
			if leave {
				events.waitEvent(t, "deletion of the circle's portal", func(e bridgev2.RemoteEvent) bool {
					return e.GetType() == bridgev2.RemoteEventChatDelete && e.GetPortalKey() == pk
				})
			}
		})
	}
}

// The presence of a circle member who is not a contact (zed) comes from
// the circle and goes to their ghost.
func TestCirclePresenceOfNonContact(t *testing.T) {
	rec := newPresenceRecorder()
	ctx, m, events, _, _, id, _ := circleSetupSrv(t, func(m *MSNClient) {
		m.presence = newPresenceBridge(true, 0, zerolog.Nop(), rec.apply)
	})
	pk := makeCirclePortalKey(id, m.login.ID)
	events.waitEvent(t, "resync of the circle's portal", func(e bridgev2.RemoteEvent) bool {
		return e.GetType() == bridgev2.RemoteEventChatResync && e.GetPortalKey() == pk
	})
	zed := msnclient.NewClient(m.connector.Config.Servers[0].clientConfig("zed@example.com", "pw", msnp.NewGUID()), nil)
	if err := zed.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer zed.Close()
	deadline := time.After(testTimeout)
	for {
		select {
		case c := <-rec.ch:
			if c.email == "zed@example.com" && c.p.Status == msnclient.StatusOnline {
				return
			}
		case <-deadline:
			t.Fatal("zed's presence in the circle never reached his ghost")
		}
	}
}
