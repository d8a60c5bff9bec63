package e2e

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// testGroupChatFromMatrixFails: create-group in a room whose contacts
// cannot be reached (dave is offline, nobody has no account) reports the
// failure and leaves the room as the user made it: no bridge state in it,
// so a later create-group in it is tried again instead of being refused as
// "already bridged".
func (w *world) testGroupChatFromMatrixFails(t *testing.T) {
	const nobody = "nobody@msn.test"
	resp, err := w.user.CreateRoom(w.ctx, &mautrix.ReqCreateRoom{
		Preset: "private_chat",
		Name:   "Nobody home",
		Invite: []id.UserID{w.bot, w.br.GhostMXID(daveEmail), w.br.GhostMXID(nobody)},
	})
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
	for attempt := 1; attempt <= 2; attempt++ {
		cursor := w.user.Cursor()
		if _, err := w.user.SendText(w.ctx, room, "!msn create-group"); err != nil {
			t.Fatal(err)
		}
		answer, err := w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
			return evt.RoomID == room && evt.Sender == w.bot && evt.Type == event.EventMessage
		})
		if err != nil {
			t.Fatalf("attempt %d: no answer to create-group: %v", attempt, err)
		}
		body := answer.Content.AsMessage().Body
		if !strings.Contains(body, "Failed to create group") || !strings.Contains(body, daveEmail) {
			t.Fatalf("attempt %d: create-group answered %q, want the failure with dave reported", attempt, body)
		}
		state, err := w.user.State(w.ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		for key, evt := range state[event.StateBridge] {
			if len(evt.Content.Raw) > 0 {
				t.Errorf("attempt %d: the room still carries bridge info %q: %v", attempt, key, evt.Content.Raw)
			}
		}
	}
}
