package bridge

import (
	"context"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
)

// The email prompt must refuse an answer that carries more than an address
// (a password typed on the same line) with the message of the later check,
// and mark it for redaction.
func TestEmailPromptRejectsPasswordOnTheSameLine(t *testing.T) {
	c := &Connector{Config: Config{Servers: []ServerConfig{{Name: "one"}}}}
	user := &bridgev2.User{User: &database.User{MXID: "@alice:example.com"}}
	proc, err := c.CreateLogin(context.Background(), user, LoginFlowPassword)
	if err != nil {
		t.Fatal(err)
	}
	step, err := proc.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	field := step.UserInputParams.Fields[0]
	field.FillDefaultValidate()
	for _, bad := range []string{"you@example.com hunter2", "you@example.com\thunter2", "you@example", "you@", "@example.com", "hunter2"} {
		if _, err := field.Validate(bad); err == nil {
			t.Errorf("email prompt accepted %q", bad)
		} else if !strings.HasPrefix(err.Error(), ErrLoginInvalidEmail.Error()) {
			t.Errorf("email prompt error %q does not start like the later check %q", err, ErrLoginInvalidEmail)
		}
		if c.rejected.take(user.MXID, "something else") {
			t.Errorf("rejected answer %q marks another message for redaction", bad)
		}
		if !c.rejected.take(user.MXID, bad) {
			t.Errorf("rejected answer %q not marked for redaction", bad)
		}
	}
	got, err := field.Validate("  Alice@Example.com ")
	if err != nil || got != "Alice@Example.com" {
		t.Errorf("valid email: %q, %v", got, err)
	}
	if c.rejected.take(user.MXID, "  Alice@Example.com ") {
		t.Error("valid answer marked for redaction")
	}
}

func TestServerPromptRejectsUnknownServer(t *testing.T) {
	c := &Connector{Config: Config{Servers: []ServerConfig{{Name: "one"}, {Name: "two"}}}}
	user := &bridgev2.User{User: &database.User{MXID: "@alice:example.com"}}
	step, _ := (&PasswordLogin{connector: c, user: user}).Start(context.Background())
	field := step.UserInputParams.Fields[2]
	field.FillDefaultValidate()
	if _, err := field.Validate("hunter2"); err == nil || !strings.Contains(err.Error(), "one, two") {
		t.Errorf("unknown server answer: %v", err)
	}
	if !c.rejected.take(user.MXID, "hunter2") {
		t.Error("rejected server answer not marked for redaction")
	}
	if got, err := field.Validate("two"); err != nil || got != "two" {
		t.Errorf("known server: %q, %v", got, err)
	}
}

// After a wrong password the login goes on with a new prompt that says what
// comes next, instead of ending (the next message would then sit in the
// room as an unknown command: often the password typed again).
func TestWrongPasswordPromptsAgain(t *testing.T) {
	_, c := testServer(t)
	pl := &PasswordLogin{connector: c}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	step, err := pl.SubmitUserInput(ctx, map[string]string{"email": testEmail, "password": "wrong"})
	if err != nil {
		t.Fatalf("wrong password ended the login: %v", err)
	}
	if step.Type != bridgev2.LoginStepTypeUserInput || step.StepID != LoginStepCredentials {
		t.Fatalf("step after wrong password = %+v", step)
	}
	if !strings.Contains(step.Instructions, "Wrong email or password") || !strings.Contains(step.Instructions, "email address") {
		t.Errorf("instructions %q do not say what went wrong and what comes next", step.Instructions)
	}
	fields := step.UserInputParams.Fields
	if fields[0].ID != loginFieldEmail || fields[0].DefaultValue != testEmail || fields[1].Type != bridgev2.LoginInputFieldTypePassword {
		t.Errorf("retry fields = %+v", fields)
	}
}
