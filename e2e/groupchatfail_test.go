package e2e

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
)

// testGroupChatFromMatrixFails: create-group in a room whose contacts
// cannot be reached (dave is offline, nobody has no account) reports the
// failure and leaves the room as the user made it: no bridge state in it,
// so a later create-group in it is tried again instead of being refused as
// "already bridged".
func (w *world) testGroupChatFromMatrixFails(t *testing.T) {
	const nobody = "nobody@msn.test"
	room := w.roomWithGhosts(t, "Nobody home", daveEmail, nobody)
	for attempt := 1; attempt <= 2; attempt++ {
		body := w.roomCommand(t, room, "!msn create-group")
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
