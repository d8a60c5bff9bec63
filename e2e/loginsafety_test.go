package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// testLoginMistakes drives the login as a newcomer got it wrong: the email
// and the password on one line at the email prompt, then a wrong password.
// The bot must say what went wrong and what it expects next, and no message
// holding the password may stay readable in the room.
func (w *world) testLoginMistakes(t *testing.T) {
	// Everything on the command line: bridgev2 takes the email for a login
	// flow name and refuses it.
	w.expectAnswer(t, "login "+meEmail+" "+mePassword, "Invalid login flow")

	intro, err := w.send("login")
	if err != nil {
		t.Fatal(err)
	}
	if prompt, err := w.botSays(intro.Index + 1); err != nil {
		t.Fatal(err)
	} else if body := prompt.Content.AsMessage().Body; !strings.Contains(body, "Please enter your Email address") {
		t.Fatalf("login prompt is %q", body)
	}

	line, err := w.send(meEmail + " " + mePassword)
	if err != nil {
		t.Fatal(err)
	}
	if body := line.Content.AsMessage().Body; !strings.Contains(body, "not a valid MSN email address") ||
		!strings.Contains(body, "Send your email address again") {
		t.Errorf("bot answered %q to an email with the password on the same line", body)
	}

	w.expectAnswer(t, meEmail, "Please enter your Password")
	wrong, err := w.send("not-my-password")
	if err != nil {
		t.Fatal(err)
	}
	answer := wrong.Content.AsMessage().Body
	if !strings.Contains(answer, "Wrong email or password") || !strings.Contains(answer, "email address") {
		t.Errorf("bot answered %q to a wrong password, want it to say so and what comes next", answer)
	}
	// The login goes on: the next prompt asks for the email again.
	prompt, err := w.botSays(wrong.Index + 1)
	if err != nil {
		t.Fatal(err)
	}
	if body := prompt.Content.AsMessage().Body; !strings.Contains(body, "Email address") {
		t.Errorf("after a wrong password the bot said %q, want a new email prompt", body)
	}
	w.expectAnswer(t, "cancel", "Login cancelled")
	if w.srv.IsOnline(meEmail) {
		t.Error("account is online on MSN after a failed login")
	}

	if err := w.noPasswordLeft(w.mgmt, mePassword, "not-my-password"); err != nil {
		t.Error(err)
	}
}

// noPasswordLeft waits until every message in room that contains one of
// the secrets has been redacted.
func (e *env) noPasswordLeft(room id.RoomID, secrets ...string) error {
	return eventually(e.ctx, msgTimeout, func() error {
		redacted := map[id.EventID]bool{}
		var holders []id.EventID
		for _, evt := range e.user.Events() {
			if evt.RoomID != room {
				continue
			}
			switch evt.Type {
			case event.EventRedaction:
				redacted[evt.Redacts] = true
				if r, ok := evt.Content.Parsed.(*event.RedactionEventContent); ok && r.Redacts != "" {
					redacted[r.Redacts] = true
				}
			case event.EventMessage:
				body := evt.Content.AsMessage().Body
				for _, s := range secrets {
					if strings.Contains(body, s) {
						holders = append(holders, evt.ID)
					}
				}
			}
		}
		if len(holders) == 0 {
			return fmt.Errorf("no message with a password was seen at all")
		}
		for _, h := range holders {
			if !redacted[h] {
				return fmt.Errorf("message %s with a password is not redacted", h)
			}
		}
		return nil
	})
}

// testHelpBeforeLogin checks that help lists what the bridge supports and
// nothing it does not.
func (w *world) testHelpBeforeLogin(t *testing.T) {
	help := w.mustCommand(t, "help")
	for _, unsupported := range []string{"import-image-pack", "debug-register-push"} {
		if strings.Contains(help, unsupported) {
			t.Errorf("help lists %s, which the MSN bridge does not support:\n%s", unsupported, help)
		}
	}
	for _, supported := range []string{"start-chat", "mute", "block-user", "delete-chat", "contacts"} {
		if !strings.Contains(help, supported) {
			t.Errorf("help does not list %s:\n%s", supported, help)
		}
	}
	w.expectAnswer(t, "import-image-pack", "does not support")
}

// checkLogFields fails when a bridge log line carries a command field more
// than once: the sign of a logger shared between commands.
func checkLogFields(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Count(line, `"mx_command"`) > 1 || strings.Count(line, `"action":"Login"`) > 1 {
			t.Errorf("a bridge log line carries the fields of several commands: %.300s", line)
			return
		}
	}
}
