package bridge

import (
	"context"
	"errors"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

func TestLoginSteps(t *testing.T) {
	c := &Connector{Config: Config{Servers: []ServerConfig{{Name: "one"}}}}
	flows := c.GetLoginFlows()
	if len(flows) != 1 || flows[0].ID != LoginFlowPassword {
		t.Fatalf("flows = %+v", flows)
	}
	if _, err := c.CreateLogin(context.Background(), nil, "qr"); !errors.Is(err, bridgev2.ErrInvalidLoginFlowID) {
		t.Errorf("unknown flow: %v", err)
	}
	proc, err := c.CreateLogin(context.Background(), nil, LoginFlowPassword)
	if err != nil {
		t.Fatal(err)
	}
	step, err := proc.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fields := step.UserInputParams.Fields
	if step.Type != bridgev2.LoginStepTypeUserInput || len(fields) != 2 {
		t.Fatalf("step = %+v", step)
	}
	if fields[0].ID != "email" || fields[0].Type != bridgev2.LoginInputFieldTypeEmail {
		t.Errorf("first field = %+v", fields[0])
	}
	// The password field type makes bridgev2 redact the user's message.
	if fields[1].ID != "password" || fields[1].Type != bridgev2.LoginInputFieldTypePassword {
		t.Errorf("second field = %+v", fields[1])
	}

	c.Config.Servers = append(c.Config.Servers, ServerConfig{Name: "two"})
	step, _ = (&PasswordLogin{connector: c}).Start(context.Background())
	fields = step.UserInputParams.Fields
	if len(fields) != 3 || fields[2].Type != bridgev2.LoginInputFieldTypeSelect ||
		strings.Join(fields[2].Options, ",") != "one,two" {
		t.Errorf("server choice = %+v", fields)
	}
}

func TestLoginInputErrors(t *testing.T) {
	c := &Connector{Config: Config{Servers: []ServerConfig{{Name: "one", NotificationServer: "127.0.0.1:1"}}}}
	pl := &PasswordLogin{connector: c}
	tests := []struct {
		input map[string]string
		want  error
	}{
		{map[string]string{"email": "not an email", "password": "x"}, ErrLoginInvalidEmail},
		{map[string]string{"email": "a@b.c\r\nOUT", "password": "x"}, ErrLoginInvalidEmail},
		{map[string]string{"email": "a@b.c", "password": ""}, ErrLoginNoPassword},
		{map[string]string{"email": "a@b.c", "password": "x", "server": "nope"}, ErrLoginUnknownServer},
	}
	for _, tt := range tests {
		if _, err := pl.SubmitUserInput(context.Background(), tt.input); !errors.Is(err, tt.want) {
			t.Errorf("input %q: error %v, want %v", tt.input["email"], err, tt.want)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	srv, c := testServer(t)
	if err := srv.AddAccount("friend@example.com", "pw", "Friend"); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddContact(testEmail, "friend@example.com", 1|2); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cfg := c.Config.Servers[0].clientConfig(testEmail, testPassword, msnp.NewGUID())

	t.Run("success", func(t *testing.T) {
		sess, err := authenticate(ctx, cfg)
		if err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		defer sess.client.Close()
		if _, ok := sess.client.Contact("friend@example.com"); !ok {
			t.Error("contact list not loaded after login")
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		bad := cfg
		bad.Password = "wrong"
		_, err := authenticate(ctx, bad)
		if !errors.Is(err, ErrLoginWrongPassword) || err.Error() != "Wrong email or password" {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("unknown account", func(t *testing.T) {
		bad := cfg
		bad.Email = "nobody@example.com"
		if _, err := authenticate(ctx, bad); !errors.Is(err, ErrLoginWrongPassword) {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("unreachable server", func(t *testing.T) {
		bad := cfg
		bad.Server = deadAddr(t)
		_, err := authenticate(ctx, bad)
		if err == nil || !strings.Contains(err.Error(), "Could not sign in to the MSN server "+bad.Server) {
			t.Errorf("error = %v", err)
		}
		if strings.Contains(err.Error(), testPassword) {
			t.Error("error shows the password")
		}
	})
}

// Escargot (and msntest) compare the email in USR with the stored spelling
// case-sensitively: an account with capitals must be able to log in as typed,
// while its login ID stays lower-case.
func TestLoginKeepsEmailCase(t *testing.T) {
	const mixed = "Mixed.Case@Example.com"
	srv, c := testServer(t)
	if err := srv.AddAccount(mixed, "pw", "Mixed"); err != nil {
		t.Fatal(err)
	}
	pl := &PasswordLogin{connector: c}
	email, password, server, err := pl.parseInput(map[string]string{"email": "  " + mixed + " ", "password": "pw"})
	if err != nil {
		t.Fatalf("parseInput: %v", err)
	}
	if email != mixed {
		t.Errorf("email = %q, want %q", email, mixed)
	}
	if id := makeUserLoginID(email); id != "mixed.case@example.com" {
		t.Errorf("login ID = %q", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	sess, err := authenticate(ctx, server.clientConfig(email, password, msnp.NewGUID()))
	if err != nil {
		t.Fatalf("log in as %s: %v", mixed, err)
	}
	_ = sess.client.Close()
}
