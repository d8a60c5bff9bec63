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
// message at once. That room becomes the group chat: bob and erin get the
// message once each in one three-way conversation, their answers land in
// that room, and no other room appears. bob already has a DM (from
// TestBridge/IncomingMessage), which stays his one-to-one chat.
func (w *world) testGroupDMFromElement(t *testing.T) {
	const erinEmail = "erin@msn.test"
	if err := w.srv.AddAccount(erinEmail, peerPass, "Erin Echo"); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{erinEmail, meEmail}, {meEmail, erinEmail}} {
		if err := w.srv.AddContact(pair[0], pair[1], mutual); err != nil {
			t.Fatal(err)
		}
	}
	erin := connectPeer(w.ctx, t, w.srv, erinEmail, peerPass, "Erin Echo")
	before, err := w.joinedRooms()
	if err != nil {
		t.Fatal(err)
	}
	cursor := w.user.Cursor()
	bobCursor, erinCursor := w.bob.cursor(), erin.cursor()
	resp, err := w.user.CreateRoom(w.ctx, &mautrix.ReqCreateRoom{
		Preset:   "trusted_private_chat",
		IsDirect: true,
		Invite:   []id.UserID{w.br.GhostMXID(bobEmail), w.br.GhostMXID(erinEmail)},
	})
	if err != nil {
		t.Fatal(err)
	}
	room := resp.RoomID
	const first = "hello bob and erin"
	sent, err := w.user.SendText(w.ctx, room, first)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p      *peer
		cursor int
		other  string
	}{{w.bob, bobCursor, erinEmail}, {erin, erinCursor, bobEmail}} {
		evt, err := tc.p.waitAfter(w.ctx, tc.cursor, msgTimeout, "the first message in a three-way conversation", func(evt any) bool {
			m, ok := evt.(*msnclient.MessageReceived)
			return ok && m.From == meEmail && m.Message.Text == first && containsString(m.Participants, tc.other)
		})
		if err != nil {
			t.Fatalf("%s: %v (%T)", tc.p.Email, err, evt)
		}
	}
	if err := w.waitSuccess(cursor, room, sent.EventID); err != nil {
		t.Error(err)
	}
	w.reply(t, room, "and a second one", w.bob, erin)
	for _, p := range []*peer{w.bob, erin} {
		for _, text := range []string{first, "and a second one"} {
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
	}{{w.bob, erinEmail}, {erin, bobEmail}} {
		text := tc.p.Email + " answers the group"
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
	if err := w.user.StateEvent(w.ctx, room, event.StateRoomName, "", &name); err != nil || !strings.Contains(strings.ToLower(name.Name), "erin") || !strings.Contains(strings.ToLower(name.Name), "bob") {
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
	if err := w.bob.send(w.ctx, msnclient.TextMessage{Text: "just between us"}, meEmail); err != nil {
		t.Fatal(err)
	}
	evt, err := w.waitGhostText(c, w.br.GhostMXID(bobEmail), "", "just between us")
	if err != nil {
		t.Fatal(err)
	}
	if evt.RoomID == room || (w.bobRoom != "" && evt.RoomID != w.bobRoom) {
		t.Errorf("bob's one-to-one message landed in %s; group room %s, bob's DM %s", evt.RoomID, room, w.bobRoom)
	}
}
