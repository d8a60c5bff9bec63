package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// earlyNoticeLimit is how soon the user must hear that a message sent
// before the bridge joined must be sent again (bridgev2 alone took 25 s).
const earlyNoticeLimit = 15 * time.Second

// TestEncryptedRooms uses the bridge with encryption allowed from an
// encrypting client (mautrix's crypto helper, as Element encrypts): a new
// encrypted DM whose first message is sent at once, and the encrypt
// command in a portal the bridge created unencrypted.
func TestEncryptedRooms(t *testing.T) {
	w := newWorldWith(t, stack.SQLite(), map[string]any{"encryption.allow": true})
	w.mustLogin(t)
	ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
	defer cancel()
	el, err := stack.NewEncryptingUser(ctx, w.hs.URL, w.user.UserID.Localpart(), "matrix-password",
		filepath.Join(w.dir, "client-crypto.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(el.Close)

	t.Run("FirstMessageBeforeBotJoined", func(t *testing.T) {
		cursor := el.Cursor()
		bobCursor := w.bob.cursor()
		room, err := el.CreateEncryptedDM(ctx, w.br.GhostMXID(bobEmail))
		if err != nil {
			t.Fatal(err)
		}
		sent := time.Now()
		first, err := el.SendText(ctx, room, "first words, sent at once")
		if err != nil {
			t.Fatalf("send the first message: %v", err)
		}
		// Dendrite sends the appservice the events of rooms one of its users
		// has joined when it processes them, so this event, sent while the
		// ghost was only invited, reaches the bridge only sometimes (the
		// new-DM catch-up reads it from the room later). Hand it to the
		// bridge as the homeserver would, so the bridge surely has it.
		var raw *event.Event
		err = eventually(ctx, msgTimeout, func() error {
			var err error
			raw, err = el.GetEvent(ctx, room, first.EventID) // may 404 for a moment
			return err
		})
		if err != nil {
			t.Fatalf("read back the first message: %v", err)
		}
		raw.RoomID = room
		if err := w.br.DeliverEvent(ctx, raw); err != nil {
			t.Fatal(err)
		}
		notice, err := el.WaitEventAfter(ctx, cursor, earlyNoticeLimit, func(evt *event.Event) bool {
			return evt.RoomID == room && evt.Sender == w.bot && evt.Type == event.EventMessage &&
				strings.Contains(evt.Content.AsMessage().Body, "send it again")
		})
		if err != nil {
			t.Fatalf("no notice within %s that the first message must be sent again: %v", earlyNoticeLimit, err)
		}
		t.Logf("notice after %s: %q", notice.Seen.Sub(sent).Round(time.Millisecond), notice.Content.AsMessage().Body)
		if rel := notice.Content.AsMessage().RelatesTo; rel == nil || rel.GetReplyTo() != first.EventID {
			t.Errorf("the notice does not reply to the message it is about (%s)", first.EventID)
		}
		// Sent again, it reaches the contact; the contact's answer arrives
		// encrypted and readable.
		if _, err := el.SendText(ctx, room, "first words, sent again"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.bob.waitText(ctx, bobCursor, meEmail, "first words, sent again"); err != nil {
			t.Fatal(err)
		}
		w.expectEncryptedFrom(t, el, room, w.bob, bobEmail, "bob answers in private")
	})

	t.Run("EncryptedGreeting", func(t *testing.T) {
		// Element encrypts a new DM with the bot too: the greeting is
		// encrypted and must read "an MSN" as well.
		cursor := el.Cursor()
		room, err := el.CreateEncryptedDM(ctx, w.bot)
		if err != nil {
			t.Fatal(err)
		}
		greeting, err := el.WaitEventAfter(ctx, cursor, msgTimeout, func(evt *event.Event) bool {
			return evt.RoomID == room && evt.Sender == w.bot && evt.Type == event.EventMessage
		})
		if err != nil {
			t.Fatalf("no greeting in an encrypted DM with the bot: %v", err)
		}
		if greeting.Mautrix.EventSource&event.SourceDecrypted == 0 {
			t.Error("the greeting in an encrypted DM was not encrypted")
		}
		if body := greeting.Content.AsMessage().Body; !strings.Contains(body, "I'm an MSN bridge bot") {
			t.Errorf("encrypted greeting reads %q, want \"I'm an MSN bridge bot\"", body)
		}
	})

	t.Run("EncryptCommand", func(t *testing.T) {
		cursor := el.Cursor()
		if err := w.carol.send(ctx, msnclient.TextMessage{Text: "carol, unencrypted"}, meEmail); err != nil {
			t.Fatal(err)
		}
		evt, err := el.WaitEventAfter(ctx, cursor, msgTimeout, func(evt *event.Event) bool {
			return evt.Sender == w.br.GhostMXID(carolEmail) && evt.Type == event.EventMessage &&
				evt.Content.AsMessage().Body == "carol, unencrypted"
		})
		if err != nil {
			t.Fatal(err)
		}
		room := evt.RoomID
		if w.encrypted(el, room) {
			t.Fatal("the bridge created carol's portal encrypted; encryption.default is false")
		}
		w.expectBotAnswer(t, el, room, "!msn encrypt", "Encryption is on")
		if _, err := el.WaitEvent(ctx, msgTimeout, func(evt *event.Event) bool {
			return evt.RoomID == room && evt.Type == event.StateEncryption
		}); err != nil {
			t.Fatalf("no m.room.encryption in carol's portal: %v", err)
		}
		if !w.encrypted(el, room) {
			t.Fatal("the client does not see carol's portal as encrypted")
		}
		carolCursor := w.carol.cursor()
		if _, err := el.SendText(ctx, room, "now encrypted, carol"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.carol.waitText(ctx, carolCursor, meEmail, "now encrypted, carol"); err != nil {
			t.Fatal(err)
		}
		w.expectEncryptedFrom(t, el, room, w.carol, carolEmail, "carol answers in private")
		w.expectBotAnswer(t, el, room, "!msn encrypt", "already encrypted")
	})
}

// encrypted tells whether the client's state store has room as encrypted.
func (w *world) encrypted(el *stack.EncryptingUser, room id.RoomID) bool {
	var ok bool
	_ = eventually(w.ctx, 5*time.Second, func() error {
		var err error
		ok, err = el.StateStore.IsEncrypted(w.ctx, room)
		if err == nil && !ok {
			return context.DeadlineExceeded
		}
		return err
	})
	return ok
}

// expectEncryptedFrom has a contact send text and checks that it arrives
// in room encrypted (an m.room.encrypted event) and decrypts to the text.
func (w *world) expectEncryptedFrom(t *testing.T, el *stack.EncryptingUser, room id.RoomID, p *peer, email, text string) {
	t.Helper()
	cursor := el.Cursor()
	if err := p.send(w.ctx, msnclient.TextMessage{Text: text}, meEmail); err != nil {
		t.Fatal(err)
	}
	ghost := w.br.GhostMXID(email)
	dec, err := el.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == room && evt.Sender == ghost && evt.Type == event.EventMessage &&
			evt.Content.AsMessage().Body == text
	})
	if err != nil {
		t.Fatal(err)
	}
	if dec.Mautrix.EventSource&event.SourceDecrypted == 0 {
		t.Errorf("%q from %s arrived unencrypted", text, email)
	}
}

// expectBotAnswer sends a command in room from the encrypting client and
// checks the bot's (decrypted) answer.
func (w *world) expectBotAnswer(t *testing.T, el *stack.EncryptingUser, room id.RoomID, text, want string) {
	t.Helper()
	cursor := el.Cursor()
	if _, err := el.SendText(w.ctx, room, text); err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	evt, err := el.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == room && evt.Sender == w.bot && evt.Type == event.EventMessage
	})
	if err != nil {
		t.Fatalf("no answer to %q: %v", text, err)
	}
	if body := evt.Content.AsMessage().Body; !strings.Contains(body, want) {
		t.Fatalf("bot answered %q to %q, want %q", body, text, want)
	}
}
