package msntest

import (
	"strings"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/testutil"
	"github.com/rs/zerolog"
)

func TestLoadAccounts(t *testing.T) {
	s := StartT(t, Options{})
	specs, err := ParseAccounts(strings.NewReader(`[
		{"email": "alice@example.com", "password": "pw", "name": "Alice", "contacts": {"bob@example.com": ["FL", "AL"]}},
		{"email": "bob@example.com", "password": "pw2", "name": "Bob"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.LoadAccounts(specs); err != nil {
		t.Fatal(err)
	}
	if got := s.ContactLists("bob@example.com", "alice@example.com"); got != ListRL|ListPL {
		t.Errorf("bob's lists for alice = %d, want RL|PL", got)
	}
	if _, err := ParseAccounts(strings.NewReader(`[{"mail": "x"}]`)); err == nil {
		t.Error("unknown field accepted")
	}
	bad := []AccountSpec{{Email: "c@example.com", Password: "p", Contacts: map[string][]string{"alice@example.com": {"RL"}}}}
	if err := s.LoadAccounts(bad); err == nil {
		t.Error("RL accepted in LoadAccounts")
	}
	if err := s.AddAccount("no-at-sign", "p", "x"); err == nil {
		t.Error("invalid email accepted")
	}
	if err := s.AddAccount("alice@example.com", "p", "x"); err == nil {
		t.Error("duplicate account accepted")
	}
}

func TestLogsHaveNoSecrets(t *testing.T) {
	var buf testutil.SyncBuffer
	log := zerolog.New(&buf).Level(zerolog.DebugLevel)
	s := StartT(t, Options{Logger: &log})
	if err := s.AddAccount("alice@example.com", "s3cret-pass", "Alice"); err != nil {
		t.Fatal(err)
	}
	tc, ticket := login(t, s, "alice@example.com", testLogin{dialect: 12, password: "s3cret-pass"})
	chg(t, tc, "NLN", "0")
	tc2, ticket2 := login(t, s, "alice@example.com", testLogin{dialect: 15, password: "s3cret-pass"})
	tc2.sync()
	out := buf.String()
	if !strings.Contains(out, "USR") {
		t.Fatalf("nothing logged: %q", out)
	}
	for _, secret := range []string{"s3cret-pass", ticket, ticketToken(ticket2)} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains secret %q", secret)
		}
	}
}

func TestNameCannotInjectLines(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob")
	mutual(t, s, "alice@example.com", "bob@example.com")
	bob, _ := login(t, s, "bob@example.com", testLogin{dialect: 12})
	chg(t, bob, "NLN", "0")
	alice, _ := login(t, s, "alice@example.com", testLogin{dialect: 12})
	chg(t, alice, "NLN", "0")
	bob.skipUntil("UBX")
	id := alice.send("PRP", "MFN", "Evil%0D%0AOUT%20OTH")
	alice.expect("PRP " + id + " MFN Evil%20%20OUT%20OTH")
	bob.expect("NLN NLN alice@example.com Evil%20%20OUT%20OTH 0 %3Cmsnobj%2F%3E")
}
