package e2e

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// testGroupDMFromElement: Element's "Start chat" with two contacts makes
// one room with is_direct invites for both ghosts and sends the first
// message at once. That room becomes the group chat: bob and ella get the
// message once each in one three-way conversation, their answers land in
// that room, and no other room appears. bob already has a DM (from
// TestBridge/IncomingMessage), which stays his one-to-one chat.
func (w *world) testGroupDMFromElement(t *testing.T) {
	w.groupDMFromElement(t, "ella@msn.test", "Ella Echo", false) // not commands_test.go's erin
}

// testGroupDMInvitesOneByOne: the same, with the homeserver sending the
// invites one at a time after creating the room (as Dendrite and Synapse
// do), so that the bridge handles bob's invite before gina's exists.
// trusted_private_chat, Element's preset for chats, has already named both
// in the room's power levels: the room still becomes the group chat,
// rather than being refused as a second DM of bob (who has one) and then
// becoming gina's DM.
func (w *world) testGroupDMInvitesOneByOne(t *testing.T) {
	w.groupDMFromElement(t, "gina@msn.test", "Gina Golf", true)
}

func (w *world) groupDMFromElement(t *testing.T, ellaEmail, ellaName string, oneByOne bool) {
	ella := w.newContact(t, ellaEmail, ellaName)
	before, err := w.joinedRooms()
	if err != nil {
		t.Fatal(err)
	}
	cursor := w.user.Cursor()
	bobCursor, ellaCursor := w.bob.cursor(), ella.cursor()
	bobGhost, ellaGhost := w.br.GhostMXID(bobEmail), w.br.GhostMXID(ellaEmail)
	req := &mautrix.ReqCreateRoom{
		Preset:   "trusted_private_chat",
		IsDirect: true,
		Invite:   []id.UserID{bobGhost, ellaGhost},
	}
	if oneByOne {
		req.Invite = []id.UserID{bobGhost}
		req.PowerLevelOverride = &event.PowerLevelsEventContent{Users: map[id.UserID]int{
			w.user.UserID: 100, bobGhost: 100, ellaGhost: 100}}
	}
	resp, err := w.user.CreateRoom(w.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	room := resp.RoomID
	if oneByOne {
		if _, err := w.user.WaitEvent(w.ctx, msgTimeout, func(evt *event.Event) bool {
			return evt.RoomID == room && evt.Type == event.StateMember && evt.GetStateKey() == bobGhost.String() &&
				evt.Content.AsMember().Membership != event.MembershipInvite
		}); err != nil {
			t.Fatalf("bob's ghost did not answer its invite: %v", err)
		}
		if _, err := w.user.SendStateEvent(w.ctx, room, event.StateMember, ellaGhost.String(),
			&event.MemberEventContent{Membership: event.MembershipInvite, IsDirect: true}); err != nil {
			t.Fatal(err)
		}
	}
	first := "hello bob and " + ellaEmail
	second := "and a second one for " + ellaEmail
	sent, err := w.user.SendText(w.ctx, room, first)
	if err != nil {
		t.Fatal(err)
	}
	waitThreeWay(t, w, first, [2]*peer{w.bob, ella}, [2]int{bobCursor, ellaCursor})
	if err := w.waitSuccess(cursor, room, sent.EventID); err != nil {
		t.Error(err)
	}
	w.reply(t, room, second, w.bob, ella)
	for _, p := range []*peer{w.bob, ella} {
		for _, text := range []string{first, second} {
			if n := p.count(meEmail, text); n != 1 {
				t.Errorf("%s received %q %d times, want exactly once", p.Email, text, n)
			}
		}
	}

	// Both answer in the three-way conversation: the answers land in the
	// room the user made.
	for _, tc := range []struct {
		p     *peer
		other string
	}{{w.bob, ellaEmail}, {ella, bobEmail}} {
		text := tc.p.Email + " answers the group of " + ellaEmail
		c := w.user.Cursor()
		if err := tc.p.send(w.ctx, msnclient.TextMessage{Text: text}, meEmail, tc.other); err != nil {
			t.Fatal(err)
		}
		evt, err := w.waitGhostText(c, w.br.GhostMXID(tc.p.Email), "", text)
		if err != nil {
			t.Fatal(err)
		}
		if evt.RoomID != room {
			t.Errorf("%s's answer landed in %s, not in the room the user made (%s)", tc.p.Email, evt.RoomID, room)
		}
	}
	var name event.RoomNameEventContent
	if err := w.user.StateEvent(w.ctx, room, event.StateRoomName, "", &name); err != nil || !strings.Contains(strings.ToLower(name.Name), strings.ToLower(strings.Fields(ellaName)[0])) || !strings.Contains(strings.ToLower(name.Name), "bob") {
		t.Errorf("room name %q (%v), want the group chat's name with both", name.Name, err)
	}
	for _, evt := range w.user.Events()[cursor:] {
		if evt.RoomID != "" && evt.RoomID != room && !before[evt.RoomID] {
			t.Errorf("a second room %s appeared (%s from %s)", evt.RoomID, evt.Type.Type, evt.Sender)
			break
		}
	}

	// bob's one-to-one message goes to his DM, not to the group chat.
	c := w.user.Cursor()
	private := "just between us, not " + ellaEmail
	if err := w.bob.send(w.ctx, msnclient.TextMessage{Text: private}, meEmail); err != nil {
		t.Fatal(err)
	}
	evt, err := w.waitGhostText(c, w.br.GhostMXID(bobEmail), "", private)
	if err != nil {
		t.Fatal(err)
	}
	if evt.RoomID == room || (w.bobRoom != "" && evt.RoomID != w.bobRoom) {
		t.Errorf("bob's one-to-one message landed in %s; group room %s, bob's DM %s", evt.RoomID, room, w.bobRoom)
	}
}

// testInviteIntoNewDM: a DM the user just made from Matrix, in which
// nothing was said yet, becomes the group chat when the user invites a
// second contact into it (as inviting someone into an MSN conversation
// window does): fran and bob get the message in one three-way
// conversation, their answers land in that room, and fran's one-to-one
// message afterwards opens a DM of its own.
func (w *world) testInviteIntoNewDM(t *testing.T) {
	const franEmail = "fran@msn.test"
	fran := w.newContact(t, franEmail, "Fran Foxtrot")
	resp, err := w.user.CreateRoom(w.ctx, &mautrix.ReqCreateRoom{
		Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{w.br.GhostMXID(franEmail)},
	})
	if err != nil {
		t.Fatal(err)
	}
	room := resp.RoomID
	// The user invites bob once the DM is ready: when bridgev2's notice
	// that the portal was created is in the room (the bot's join comes
	// earlier, while the room is still being made a portal).
	if _, err := w.user.WaitEvent(w.ctx, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == room && evt.Type == event.EventMessage && evt.Sender == w.br.GhostMXID(franEmail) &&
			evt.Content.AsMessage().MsgType == event.MsgNotice
	}); err != nil {
		t.Fatalf("the new DM did not become a portal: %v", err)
	}
	if _, err := w.user.InviteUser(w.ctx, room, &mautrix.ReqInviteUser{UserID: w.br.GhostMXID(bobEmail)}); err != nil {
		t.Fatal(err)
	}
	bobCursor, franCursor := w.bob.cursor(), fran.cursor()
	const first = "hello fran and bob"
	if _, err := w.user.SendText(w.ctx, room, first); err != nil {
		t.Fatal(err)
	}
	waitThreeWay(t, w, first, [2]*peer{w.bob, fran}, [2]int{bobCursor, franCursor})
	for _, p := range []*peer{w.bob, fran} {
		if n := p.count(meEmail, first); n != 1 {
			t.Errorf("%s received %q %d times, want once", p.Email, first, n)
		}
	}
	c := w.user.Cursor()
	if err := fran.send(w.ctx, msnclient.TextMessage{Text: "fran answers the group"}, meEmail, bobEmail); err != nil {
		t.Fatal(err)
	}
	evt, err := w.waitGhostText(c, w.br.GhostMXID(franEmail), "", "fran answers the group")
	if err != nil {
		t.Fatal(err)
	}
	if evt.RoomID != room {
		t.Errorf("fran's group answer landed in %s, not in the room the user made (%s)", evt.RoomID, room)
	}
	c = w.user.Cursor()
	if err := fran.send(w.ctx, msnclient.TextMessage{Text: "fran alone"}, meEmail); err != nil {
		t.Fatal(err)
	}
	evt, err = w.waitGhostText(c, w.br.GhostMXID(franEmail), "", "fran alone")
	if err != nil {
		t.Fatal(err)
	}
	if evt.RoomID == room {
		t.Error("fran's one-to-one message landed in the group chat")
	}
}

// newContact puts email on the MSN server as a mutual contact of me and
// signs it in.
func (w *world) newContact(t *testing.T, email, name string) *peer {
	t.Helper()
	if err := w.srv.AddAccount(email, peerPass, name); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{email, meEmail}, {meEmail, email}} {
		if err := w.srv.AddContact(pair[0], pair[1], mutual); err != nil {
			t.Fatal(err)
		}
	}
	return connectPeer(w.ctx, t, w.srv, email, peerPass, name)
}

// waitThreeWay waits until both peers got text from me (after their
// cursors) in a conversation that includes the other one.
func waitThreeWay(t *testing.T, w *world, text string, peers [2]*peer, cursors [2]int) {
	t.Helper()
	for i, p := range peers {
		other := peers[1-i].Email
		evt, err := p.waitAfter(w.ctx, cursors[i], msgTimeout, "the message in a three-way conversation", func(evt any) bool {
			m, ok := evt.(*msnclient.MessageReceived)
			return ok && m.From == meEmail && m.Message.Text == text && containsString(m.Participants, other)
		})
		if err != nil {
			t.Fatalf("%s: %v (%T)", p.Email, err, evt)
		}
	}
}
