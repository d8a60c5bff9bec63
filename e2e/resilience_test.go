package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

func (w *world) testReconnect(t *testing.T) {
	w.srv.DropConnections(meEmail)
	// A message sent while the bridge reconnects waits for the session and
	// is delivered, instead of being refused as "not logged in".
	held := "sent while the bridge reconnects"
	cursor := w.user.Cursor()
	bobCursor := w.bob.cursor()
	sent, err := w.user.SendText(w.ctx, w.bobRoom, held)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(w.ctx, msgTimeout)
	defer cancel()
	if err := w.srv.WaitOnline(ctx, meEmail); err != nil {
		t.Fatalf("bridge did not reconnect: %v", err)
	}
	if _, err := w.bob.waitText(w.ctx, bobCursor, meEmail, held); err != nil {
		t.Error(err)
	}
	if err := w.waitSuccess(cursor, w.bobRoom, sent.EventID); err != nil {
		t.Error(err)
	}
	// bob may try while the bridge is still signing in again: retry until
	// the server accepts the conversation.
	text := "still there after the drop?"
	cursor = w.user.Cursor()
	err = eventually(w.ctx, msgTimeout, func() error {
		return w.bob.send(w.ctx, msnclient.TextMessage{Text: text}, meEmail)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), w.bobRoom, text); err != nil {
		t.Fatal(err)
	}
	w.reply(t, w.bobRoom, "yes, reconnected", w.bob)
}

func (w *world) testRestart(t *testing.T) {
	before, err := w.joinedRooms()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.br.Stop(); err != nil {
		t.Fatalf("stop bridge: %v", err)
	}
	err = eventually(w.ctx, msgTimeout, func() error {
		if w.srv.IsOnline(meEmail) {
			return fmt.Errorf("MSN session still online after the bridge stopped")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
	defer cancel()
	if err := w.br.Start(ctx); err != nil {
		t.Fatalf("restart bridge: %v", err)
	}
	if err := w.srv.WaitOnline(ctx, meEmail); err != nil {
		t.Fatalf("login did not resume after restart: %v", err)
	}
	text := "after the restart"
	cursor := w.user.Cursor()
	err = eventually(w.ctx, msgTimeout, func() error {
		return w.bob.send(w.ctx, msnclient.TextMessage{Text: text}, meEmail)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), w.bobRoom, text); err != nil {
		t.Fatalf("message after restart not in the same portal: %v", err)
	}
	w.reply(t, w.bobRoom, "and back", w.bob)
	after, err := w.joinedRooms()
	if err != nil {
		t.Fatal(err)
	}
	for room := range after {
		if !before[room] {
			t.Errorf("restart created a new room %s", room)
		}
	}
}

func (w *world) testLogout(t *testing.T) {
	answer, err := w.command("logout " + meEmail)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer, "Logged out") {
		t.Fatalf("bot answered %q to logout", answer)
	}
	err = eventually(w.ctx, msgTimeout, func() error {
		if w.srv.IsOnline(meEmail) {
			return fmt.Errorf("still signed in to MSN after logout")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	answer, err = w.command("list-logins")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(answer, meEmail) {
		t.Errorf("login still listed after logout: %q", answer)
	}
}

func (w *world) testSignedInElsewhere(t *testing.T) {
	// The server signs the bridge out because the account signed in
	// elsewhere: the user is told, and the bridge does not fight back.
	cursor := w.user.Cursor()
	w.srv.SendOUT(meEmail, "OTH")
	notice, err := w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == w.mgmt && evt.Sender == w.bot && evt.Type == event.EventMessage &&
			strings.Contains(evt.Content.AsMessage().Body, "another place")
	})
	if err != nil {
		t.Fatalf("no notice about signing in elsewhere: %v", err)
	}
	t.Logf("notice: %q", notice.Content.AsMessage().Body)
	err = eventually(w.ctx, msgTimeout, func() error {
		if w.srv.IsOnline(meEmail) {
			return fmt.Errorf("still online after OUT OTH")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// `reconnect` signs in again and bridging resumes.
	answer, err := w.command("reconnect")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer, "Reconnecting") {
		t.Errorf("reconnect answered %q", answer)
	}
	ctx, cancel := context.WithTimeout(w.ctx, msgTimeout)
	defer cancel()
	if err := w.srv.WaitOnline(ctx, meEmail); err != nil {
		t.Fatalf("reconnect did not sign in: %v", err)
	}
	text := "back after signing in elsewhere"
	cursor = w.user.Cursor()
	err = eventually(w.ctx, msgTimeout, func() error {
		return w.bob.send(w.ctx, msnclient.TextMessage{Text: text}, meEmail)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), w.bobRoom, text); err != nil {
		t.Fatal(err)
	}
}
