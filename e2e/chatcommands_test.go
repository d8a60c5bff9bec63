package e2e

import (
	"fmt"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// testChatCommands runs bridgev2's chat management commands in carol's
// portal, as a user would from Element: mute, block-user and delete-chat
// (they crashed before the MSN client implemented them).
func (w *world) testChatCommands(t *testing.T) {
	cursor := w.user.Cursor()
	if err := w.carol.send(w.ctx, msnclient.TextMessage{Text: "hi, it's carol"}, meEmail); err != nil {
		t.Fatal(err)
	}
	evt, err := w.waitGhostText(cursor, w.br.GhostMXID(carolEmail), "", "hi, it's carol")
	if err != nil {
		t.Fatal(err)
	}
	room := evt.RoomID

	t.Run("Mute", func(t *testing.T) {
		w.expectPortalAnswer(t, room, "!msn mute", "Muted: this room no longer notifies you")
		if err := w.roomMuted(room, true); err != nil {
			t.Error(err)
		}
		w.expectPortalAnswer(t, room, "!msn unmute", "Unmuted")
		if err := w.roomMuted(room, false); err != nil {
			t.Error(err)
		}
	})
	t.Run("BlockUser", func(t *testing.T) {
		w.expectPortalAnswer(t, room, "!msn block-user", "Blocked "+carolEmail+" on MSN")
		w.expectLists(t, carolEmail, listBlock, listAllow)
		w.expectPortalAnswer(t, room, "!msn unblock-user", "Unblocked "+carolEmail)
		w.expectLists(t, carolEmail, listAllow, listBlock)
	})
	t.Run("DeleteChat", func(t *testing.T) {
		cursor := w.user.Cursor()
		w.expectPortalAnswer(t, room, "!msn delete-chat", "deleting this room")
		_, err := w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
			return evt.RoomID == room && evt.Type == event.StateMember && evt.GetStateKey() == w.user.UserID.String() &&
				evt.Content.AsMember().Membership.IsLeaveOrBan()
		})
		if err != nil {
			t.Fatalf("the user was not removed from the deleted chat's room: %v", err)
		}
		// Carol writing again opens a new room.
		cursor = w.user.Cursor()
		if err := w.carol.send(w.ctx, msnclient.TextMessage{Text: "still there?"}, meEmail); err != nil {
			t.Fatal(err)
		}
		evt, err := w.waitGhostText(cursor, w.br.GhostMXID(carolEmail), "", "still there?")
		if err != nil {
			t.Fatal(err)
		}
		if evt.RoomID == room {
			t.Errorf("carol's new message went to the deleted room %s", room)
		}
	})
}

// expectPortalAnswer sends text in a portal and checks the bot's answer there.
func (w *world) expectPortalAnswer(t *testing.T, room id.RoomID, text, want string) {
	t.Helper()
	cursor := w.user.Cursor()
	if _, err := w.user.SendText(w.ctx, room, text); err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	evt, err := w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == room && evt.Sender == w.bot && evt.Type == event.EventMessage
	})
	if err != nil {
		t.Fatalf("no answer to %q: %v", text, err)
	}
	if body := evt.Content.AsMessage().Body; !strings.Contains(body, want) {
		t.Fatalf("bot answered %q to %q, want %q", body, text, want)
	}
}

// roomMuted checks the user's push rules for a room rule that silences it.
func (w *world) roomMuted(room id.RoomID, want bool) error {
	return eventually(w.ctx, msgTimeout, func() error {
		rules, err := w.user.GetPushRules(w.ctx)
		if err != nil {
			return fmt.Errorf("get push rules: %w", err)
		}
		r := rules.Room.Map[string(room)]
		muted := r != nil && r.Enabled && len(r.Actions) == 0
		if muted != want {
			return fmt.Errorf("room %s muted = %v, want %v", room, muted, want)
		}
		return nil
	})
}
