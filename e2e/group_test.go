package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// testGroupOfflineMember: in a group room with bob and dave, dave signs
// out; the next Matrix message still reaches bob, gets a success status,
// and the room is told that dave did not get it.
func (w *world) testGroupOfflineMember(t *testing.T) {
	ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
	defer cancel()
	dave := connectPeer(ctx, t, w.srv, daveEmail, peerPass, "Dave Offline")
	cursor := w.user.Cursor()
	if err := w.bob.send(ctx, msnclient.TextMessage{Text: "bob and dave here"}, meEmail, daveEmail); err != nil {
		t.Fatal(err)
	}
	evt, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), "", "bob and dave here")
	if err != nil {
		t.Fatal(err)
	}
	group := evt.RoomID
	if err := dave.Close(); err != nil {
		t.Fatalf("dave sign out: %v", err)
	}
	// Everyone leaves the old conversation, so the next message opens a
	// new one and has to invite dave.
	w.srv.DropSwitchboards(meEmail)
	err = eventually(w.ctx, msgTimeout, func() error {
		if w.srv.IsOnline(daveEmail) {
			return fmt.Errorf("dave still online")
		}
		for _, sess := range w.srv.SwitchboardParticipants() {
			if slices.Contains(sess, meEmail) {
				return fmt.Errorf("the bridge is still in a switchboard with %v", sess)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	cursor = w.user.Cursor()
	bobCursor := w.bob.cursor()
	resp, err := w.user.SendText(w.ctx, group, "still there, bob?")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.bob.waitText(w.ctx, bobCursor, meEmail, "still there, bob?"); err != nil {
		t.Fatal(err)
	}
	if err := w.waitSuccess(cursor, group, resp.EventID); err != nil {
		t.Error(err)
	}
	_, err = w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(e *event.Event) bool {
		msg := e.Content.AsMessage()
		return e.RoomID == group && e.Sender == w.br.BotMXID && e.Type == event.EventMessage &&
			msg.MsgType == event.MsgNotice && strings.Contains(msg.Body, daveEmail) && strings.Contains(msg.Body, "offline")
	})
	if err != nil {
		t.Errorf("the group room was not told that dave is offline: %v", err)
		if log, rerr := os.ReadFile(w.br.LogPath); rerr == nil {
			for _, line := range strings.Split(string(log), "\n") {
				if strings.Contains(line, "invite") || strings.Contains(line, "nreachable") {
					t.Log(line)
				}
			}
		}
	}
}
