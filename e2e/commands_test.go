package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

const erinEmail = "erin@msn.test"

// List bits as msntest reports them.
const (
	listForward = uint8(1)
	listAllow   = uint8(2)
	listBlock   = uint8(4)
)

// testCommands drives the bot's MSN commands as a user would and checks what
// the bot answers, what the MSN server stores and what a contact sees.
func (w *world) testCommands(t *testing.T) {
	t.Run("Contacts", func(t *testing.T) {
		answer := w.mustCommand(t, "contacts")
		for _, want := range []string{"Bob Builder", bobEmail, "Online", daveEmail} {
			if !strings.Contains(answer, want) {
				t.Errorf("contacts answered %q, want it to mention %q", answer, want)
			}
		}
	})
	t.Run("Profile", func(t *testing.T) {
		cursor := w.bob.cursor()
		w.expectAnswer(t, "set-status busy", "Your MSN status is now Busy.")
		w.bobSees(t, cursor, "my busy status", func(evt any) bool {
			p, ok := evt.(*msnclient.ContactPresence)
			return ok && p.Email == meEmail && p.Status == msnclient.StatusBusy
		})
		cursor = w.bob.cursor()
		w.expectAnswer(t, "set-psm Bridged from Matrix", "Your personal message is now: Bridged from Matrix")
		w.bobSees(t, cursor, "my personal message", func(evt any) bool {
			p, ok := evt.(*msnclient.PersonalMessage)
			return ok && p.Email == meEmail && p.Message == "Bridged from Matrix"
		})
		cursor = w.bob.cursor()
		w.expectAnswer(t, "set-name Matrix Me Renamed", "Your MSN name is now Matrix Me Renamed.")
		w.bobSees(t, cursor, "my new name", func(evt any) bool {
			p, ok := evt.(*msnclient.ContactPresence)
			return ok && p.Email == meEmail && p.FriendlyName == "Matrix Me Renamed"
		})
		w.expectAnswer(t, "set-psm", "Your personal message was cleared.")
		w.expectAnswer(t, "set-status online", "Your MSN status is now Online.")
		if got := w.srv.FriendlyName(meEmail); got != "Matrix Me Renamed" {
			t.Errorf("server has my name as %q", got)
		}
	})
	t.Run("ContactRequestAndLists", func(t *testing.T) {
		if err := w.srv.AddAccount(erinEmail, peerPass, "Erin Newcomer"); err != nil {
			t.Fatal(err)
		}
		cursor := w.user.Cursor()
		if err := w.srv.AddContact(erinEmail, meEmail, listForward|listAllow); err != nil {
			t.Fatal(err)
		}
		notice, err := w.botSays(cursor)
		if err != nil {
			t.Fatalf("no contact request notice: %v", err)
		}
		if body := notice.Content.AsMessage().Body; !strings.Contains(body, erinEmail) || !strings.Contains(body, "accept "+erinEmail) {
			t.Fatalf("contact request notice is %q, want erin's address and the accept command", body)
		}
		w.expectAnswer(t, "accept "+erinEmail, "Accepted "+erinEmail)
		w.expectLists(t, erinEmail, listForward|listAllow, listBlock)
		w.expectAnswer(t, "block "+erinEmail, "Blocked "+erinEmail+".")
		w.expectLists(t, erinEmail, listBlock, listAllow)
		w.expectAnswer(t, "unblock "+erinEmail, "Unblocked "+erinEmail+".")
		w.expectLists(t, erinEmail, listAllow, listBlock)
		w.expectAnswer(t, "remove-contact "+erinEmail, "Removed "+erinEmail+" from your MSN contact list.")
		w.expectLists(t, erinEmail, 0, listForward)
		w.expectAnswer(t, "add-contact "+erinEmail, "Added "+erinEmail+" to your MSN contact list.")
		w.expectLists(t, erinEmail, listForward, 0)
		w.expectAnswer(t, "add-contact not-an-address", "is not an MSN address")
	})
}

func (w *world) mustCommand(t *testing.T, text string) string {
	t.Helper()
	answer, err := w.command(text)
	if err != nil {
		t.Fatal(err)
	}
	return answer
}

func (w *world) expectAnswer(t *testing.T, text, want string) {
	t.Helper()
	if answer := w.mustCommand(t, text); !strings.Contains(answer, want) {
		t.Fatalf("bot answered %q to %q, want %q", answer, text, want)
	}
}

func (w *world) bobSees(t *testing.T, cursor int, what string, match func(any) bool) {
	t.Helper()
	if _, err := w.bob.waitAfter(w.ctx, cursor, msgTimeout, what, match); err != nil {
		t.Fatal(err)
	}
}

// expectLists waits until the server has all bits of set and none of clear
// on my list entry for contact.
func (w *world) expectLists(t *testing.T, contact string, set, clear uint8) {
	t.Helper()
	err := eventually(w.ctx, msgTimeout, func() error {
		got := w.srv.ContactLists(meEmail, contact)
		if got&set != set || got&clear != 0 {
			return fmt.Errorf("server lists of %s are %05b, want %05b set and %05b clear", contact, got, set, clear)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
