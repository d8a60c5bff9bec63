package e2e

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// testGroupChatFromMatrix: a group chat started from Matrix. A room made
// with the ghosts of bob, carol and dave is bridged with create-group; bob
// and carol (online) are brought into one MSN conversation and both get
// the message sent in the room; dave (offline) is reported and the others
// stay.
func (w *world) testGroupChatFromMatrix(t *testing.T) {
	room := w.roomWithGhosts(t, "Planning", bobEmail, carolEmail, daveEmail)
	body := w.roomCommand(t, room, "!msn create-group")
	if !strings.Contains(body, daveEmail) {
		t.Errorf("create-group answered %q, want dave (offline) reported", body)
	}
	w.reply(t, room, "shall we meet at noon?", w.bob, w.carol)
	// The contacts see one conversation with both of them.
	for _, p := range []*peer{w.bob, w.carol} {
		other := carolEmail
		if p == w.carol {
			other = bobEmail
		}
		evt, err := p.waitAfter(w.ctx, 0, msgTimeout, "the question in a three-way conversation", func(evt any) bool {
			m, ok := evt.(*msnclient.MessageReceived)
			return ok && m.Message.Text == "shall we meet at noon?" && containsString(m.Participants, other)
		})
		if err != nil {
			t.Errorf("%s: %v (%T)", p.Email, err, evt)
		}
	}
}

// testInviteIntoDM: inviting carol's ghost into bob's DM brings carol into
// the MSN conversation, which goes on in the group room of bob and carol;
// inviting dave, who is offline, is reported and changes nothing.
func (w *world) testInviteIntoDM(t *testing.T) {
	if w.bobRoom == "" {
		t.Fatal("no DM with bob: run it after TestBridge/IncomingMessage, which creates it")
	}
	// Make sure a switchboard with bob is up, as when chatting.
	w.reply(t, w.bobRoom, "one moment, I'll get carol", w.bob)
	cursor := w.user.Cursor()
	carolCursor := w.carol.cursor()
	if _, err := w.user.InviteUser(w.ctx, w.bobRoom, &mautrix.ReqInviteUser{UserID: w.br.GhostMXID(carolEmail)}); err != nil {
		t.Fatal(err)
	}
	notice, err := w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == w.bobRoom && evt.Sender == w.bot && evt.Type == event.EventMessage
	})
	if err != nil {
		t.Fatalf("no notice in bob's room after inviting carol: %v", err)
	}
	if body := notice.Content.AsMessage().Body; !strings.Contains(body, carolEmail) || !strings.Contains(body, "group chat") {
		t.Fatalf("notice is %q, want carol joined and a group chat", body)
	}
	// bob answers in the now three-way conversation: carol gets it, and
	// on Matrix it lands in the group room.
	cursor = w.user.Cursor()
	if err := w.bob.send(w.ctx, msnclient.TextMessage{Text: "hi carol"}, meEmail, carolEmail); err != nil {
		t.Fatal(err)
	}
	if _, err := w.carol.waitAfter(w.ctx, carolCursor, msgTimeout, "bob's greeting in the three-way conversation", func(evt any) bool {
		m, ok := evt.(*msnclient.MessageReceived)
		return ok && m.From == bobEmail && m.Message.Text == "hi carol" && containsString(m.Participants, meEmail)
	}); err != nil {
		t.Fatal(err)
	}
	evt, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), "", "hi carol")
	if err != nil {
		t.Fatal(err)
	}
	if evt.RoomID == w.bobRoom {
		t.Error("the three-way conversation landed in bob's DM")
	}

	// dave is offline: reported, bob's DM stays as it was.
	cursor = w.user.Cursor()
	if _, err := w.user.InviteUser(w.ctx, w.bobRoom, &mautrix.ReqInviteUser{UserID: w.br.GhostMXID(daveEmail)}); err != nil {
		t.Fatal(err)
	}
	notice, err = w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == w.bobRoom && evt.Sender == w.bot && evt.Type == event.EventMessage
	})
	if err != nil {
		t.Fatalf("no notice after inviting offline dave: %v", err)
	}
	if body := notice.Content.AsMessage().Body; !strings.Contains(body, "Could not bring "+daveEmail) || !strings.Contains(body, "offline") {
		t.Errorf("notice is %q, want dave reported offline", body)
	}
	w.reply(t, w.bobRoom, "still just us", w.bob)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// roomWithGhosts has the user make a room named name with the bridge bot
// and the ghosts of emails invited, as a Matrix client does, and waits for
// the bot to join it.
func (w *world) roomWithGhosts(t *testing.T, name string, emails ...string) id.RoomID {
	t.Helper()
	invite := []id.UserID{w.bot}
	for _, e := range emails {
		invite = append(invite, w.br.GhostMXID(e))
	}
	resp, err := w.user.CreateRoom(w.ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Name: name, Invite: invite})
	if err != nil {
		t.Fatal(err)
	}
	room := resp.RoomID
	_, err = w.user.WaitEvent(w.ctx, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == room && evt.Type == event.StateMember && evt.GetStateKey() == w.bot.String() &&
			evt.Content.AsMember().Membership == event.MembershipJoin
	})
	if err != nil {
		t.Fatalf("the bridge bot did not join the new room: %v", err)
	}
	return room
}

// roomCommand sends a bot command in room and returns the bot's answer.
func (w *world) roomCommand(t *testing.T, room id.RoomID, command string) string {
	t.Helper()
	cursor := w.user.Cursor()
	if _, err := w.user.SendText(w.ctx, room, command); err != nil {
		t.Fatal(err)
	}
	answer, err := w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == room && evt.Sender == w.bot && evt.Type == event.EventMessage
	})
	if err != nil {
		t.Fatalf("no answer to %q: %v", command, err)
	}
	return answer.Content.AsMessage().Body
}
