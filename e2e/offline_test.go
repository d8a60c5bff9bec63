package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// testOfflineContact: dave talks to us, then signs out. Our next message
// (MSNP18) is stored as an offline message, its status says so, and dave
// reads it when he signs in again.
func (w *world) testOfflineContact(t *testing.T) {
	ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
	defer cancel()
	dave := connectPeer(ctx, t, w.srv, daveEmail, peerPass, "Dave Offline")
	cursor := w.user.Cursor()
	if err := dave.send(ctx, msnclient.TextMessage{Text: "dave says bye"}, meEmail); err != nil {
		t.Fatal(err)
	}
	evt, err := w.waitGhostText(cursor, w.br.GhostMXID(daveEmail), "", "dave says bye")
	if err != nil {
		t.Fatal(err)
	}
	daveRoom := evt.RoomID
	if err := dave.Close(); err != nil {
		t.Fatalf("dave sign out: %v", err)
	}
	err = eventually(w.ctx, msgTimeout, func() error {
		if w.srv.IsOnline(daveEmail) {
			return fmt.Errorf("dave still online on the server")
		}
		if p, err := w.ghostPresence(w.br.GhostMXID(daveEmail)); err != nil || p != event.PresenceOffline {
			return fmt.Errorf("dave's ghost presence %q (%v), want offline", p, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	cursor = w.user.Cursor()
	text := "are you there? see this when you are back"
	resp, err := w.sendHTML(daveRoom, text, "are you <b>there</b>? see this when you are back")
	if err != nil {
		t.Fatal(err)
	}
	// The status says it was stored for later delivery, and the bot tells
	// the user in the room.
	_, err = w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		st, ok := evt.Content.Parsed.(*event.BeeperMessageStatusEventContent)
		return ok && evt.RoomID == daveRoom && st.RelatesTo.EventID == resp &&
			st.Status == event.MessageStatusSuccess && strings.Contains(st.Message, "will be delivered when they sign in")
	})
	if err != nil {
		t.Fatalf("no 'stored for later delivery' status: %v", err)
	}
	if _, err := w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == daveRoom && evt.Sender == w.bot && strings.Contains(evt.Content.AsMessage().Body, "is offline")
	}); err != nil {
		t.Errorf("no notice in the room that dave is offline: %v", err)
	}

	// dave signs in: his client finds the message waiting and reads it.
	dave = newPeer(daveEmail, "Dave Offline")
	dave.Client = msnclient.NewClient(msnConfig(w.srv, daveEmail, peerPass), dave.handle)
	if err := dave.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer dave.Close()
	waiting, err := dave.waitAfter(ctx, 0, msgTimeout, "offline messages", func(evt any) bool {
		e, ok := evt.(*msnclient.OfflineMessagesWaiting)
		return ok && e.Initial
	})
	if err != nil {
		t.Fatal(err)
	}
	list := waiting.(*msnclient.OfflineMessagesWaiting).Messages
	if len(list) != 1 || list[0].From != meEmail {
		t.Fatalf("dave has %+v waiting, want one message from %s", list, meEmail)
	}
	msg, err := dave.FetchOfflineMessage(ctx, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Text != text {
		t.Errorf("dave read %q, want %q (formatting dropped)", msg.Text, text)
	}
	if err := dave.DeleteOfflineMessages(ctx, []string{list[0].ID}); err != nil {
		t.Fatal(err)
	}
}

// testOfflineWhileStopped: bob writes while the bridge is stopped; when it
// starts the message appears with its original time and is gone from the
// server.
func (w *world) testOfflineWhileStopped(t *testing.T) {
	w.stopBridge(t)
	text := "written while the bridge was stopped"
	if err := w.bob.SendOfflineMessage(w.ctx, meEmail, text); err != nil {
		t.Fatalf("bob's client could not leave an offline message: %v", err)
	}
	stored := w.srv.OfflineMessages(meEmail)
	if len(stored) != 1 {
		t.Fatalf("%d offline messages on the server, want 1", len(stored))
	}
	time.Sleep(1100 * time.Millisecond) // so that "now" at bridging differs from the original time
	cursor := w.user.Cursor()
	ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
	defer cancel()
	if err := w.br.Start(ctx); err != nil {
		t.Fatalf("start bridge: %v", err)
	}
	evt, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), w.bobRoom, text)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := evt.Timestamp, stored[0].Sent.UnixMilli(); got != want {
		t.Errorf("message time %s, want the original %s", time.UnixMilli(got).UTC(), stored[0].Sent)
	}
	w.waitNoOfflineMessages(t)
}

// testOfflineKilledBeforeDelete: the bridge is killed after the message
// reached Matrix but before the server deleted it; after the restart it is
// deleted and not bridged a second time.
func (w *world) testOfflineKilledBeforeDelete(t *testing.T) {
	release := w.srv.HoldOfflineService("DeleteMessages")
	defer release()
	deletes := w.srv.OfflineServiceCalls("DeleteMessages")
	text := "bridged exactly once despite the crash"
	cursor := w.user.Cursor()
	if err := w.bob.SendOfflineMessage(w.ctx, meEmail, text); err != nil {
		t.Fatal(err)
	}
	if _, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), w.bobRoom, text); err != nil {
		t.Fatal(err)
	}
	// The bridge asked to delete it: kill it while the server holds that.
	if err := eventually(w.ctx, msgTimeout, func() error {
		if w.srv.OfflineServiceCalls("DeleteMessages") == deletes || w.srv.HeldRequests("DeleteMessages") == 0 {
			return fmt.Errorf("no delete request held yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.br.Kill(); err != nil {
		t.Fatalf("kill bridge: %v", err)
	}
	// The server notices the dead connection and drops the request.
	if err := eventually(w.ctx, msgTimeout, func() error {
		if n := w.srv.HeldRequests("DeleteMessages"); n != 0 {
			return fmt.Errorf("%d delete requests still held", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	release()
	if len(w.srv.OfflineMessages(meEmail)) != 1 {
		t.Fatal("the message was deleted although the bridge died during the request")
	}
	ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
	defer cancel()
	if err := w.br.Start(ctx); err != nil {
		t.Fatalf("restart bridge: %v", err)
	}
	w.waitNoOfflineMessages(t)
	// A marker after it: once it arrived, a duplicate would have too.
	w.incoming(t, "marker after the restart")
	count := 0
	for _, evt := range w.user.Events()[cursor:] {
		if evt.Type == event.EventMessage && evt.Sender == w.br.GhostMXID(bobEmail) && evt.Content.AsMessage().Body == text {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("the offline message appeared %d times in Matrix, want once", count)
	}
}

// testInvisibleReconnect: after set-status invisible, a dropped connection
// and the reconnect, then a bridge restart, never show the user online to a
// contact; the personal message and name are kept too.
func (w *world) testInvisibleReconnect(t *testing.T) {
	for cmd, want := range map[string]string{
		"set-status invisible":     "Invisible",
		"set-psm gone fishing":     "gone fishing",
		"set-name Matrix Me Again": "Matrix Me Again",
	} {
		answer, err := w.command(cmd)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(answer, want) {
			t.Fatalf("%s answered %q", cmd, answer)
		}
	}
	w.carolSeesMe(t, msnclient.StatusOffline)
	mark := w.carol.cursor()
	w.srv.DropConnections(meEmail)
	if err := eventually(w.ctx, msgTimeout, func() error {
		if got := w.srv.ChosenStatus(meEmail); got != "HDN" {
			return fmt.Errorf("status after the reconnect %q", got)
		}
		if got := w.srv.PersonalMessage(meEmail); got != "gone fishing" {
			return fmt.Errorf("personal message after the reconnect %q", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // anything stray would arrive by now
	for _, st := range w.carol.statusesOf(meEmail, mark) {
		if st != msnclient.StatusOffline {
			t.Fatalf("carol saw me as %s during the reconnect", st)
		}
	}
	if got := w.srv.FriendlyName(meEmail); got != "Matrix Me Again" {
		t.Errorf("name after the reconnect %q", got)
	}
	// A bridge restart: the status is read back from the database.
	w.stopBridge(t)
	ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
	defer cancel()
	if err := w.br.Start(ctx); err != nil {
		t.Fatalf("restart bridge: %v", err)
	}
	if err := eventually(w.ctx, msgTimeout, func() error {
		if got := w.srv.ChosenStatus(meEmail); got != "HDN" {
			return fmt.Errorf("status after the restart %q", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	for _, st := range w.carol.statusesOf(meEmail, mark) {
		if st != msnclient.StatusOffline {
			t.Fatalf("carol saw me as %s during the restart", st)
		}
	}
	// Back online for the later scenarios.
	if answer, err := w.command("set-status online"); err != nil || !strings.Contains(answer, "Online") {
		t.Fatalf("set-status online: %q %v", answer, err)
	}
	w.carolSeesMe(t, msnclient.StatusOnline)
}

// carolSeesMe waits until carol's client shows me with status.
func (w *world) carolSeesMe(t *testing.T, status msnclient.Status) {
	t.Helper()
	if err := eventually(w.ctx, msgTimeout, func() error {
		if st := w.carol.presenceOf(meEmail); st != status {
			return fmt.Errorf("carol sees me as %q, want %q", st, status)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// presenceOf is the last status p saw of email ("" if none).
func (p *peer) presenceOf(email string) msnclient.Status {
	sts := p.statusesOf(email, 0)
	if len(sts) == 0 {
		return ""
	}
	return sts[len(sts)-1]
}

// statusesOf lists the statuses p saw of email after cursor.
func (p *peer) statusesOf(email string, cursor int) []msnclient.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []msnclient.Status
	for _, evt := range p.events[cursor:] {
		if cp, ok := evt.(*msnclient.ContactPresence); ok && strings.EqualFold(cp.Email, email) {
			out = append(out, cp.Status)
		}
	}
	return out
}

// stopBridge stops the bridge and waits until its MSN session is gone.
func (w *world) stopBridge(t *testing.T) {
	t.Helper()
	if err := w.br.Stop(); err != nil {
		t.Fatalf("stop bridge: %v", err)
	}
	if err := eventually(w.ctx, msgTimeout, func() error {
		if w.srv.IsOnline(meEmail) {
			return fmt.Errorf("MSN session still online after the bridge stopped")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// waitNoOfflineMessages waits until the server holds no offline message
// for me (the bridge deleted them).
func (w *world) waitNoOfflineMessages(t *testing.T) {
	t.Helper()
	if err := eventually(w.ctx, msgTimeout, func() error {
		if n := len(w.srv.OfflineMessages(meEmail)); n != 0 {
			return fmt.Errorf("%d offline messages still on the server", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
