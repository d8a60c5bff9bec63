package bridge

import (
	"testing"

	"maunium.net/go/mautrix/bridgev2/networkid"
)

func TestParseIdentifier(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"alice@hotmail.com", "alice@hotmail.com", true},
		{"  Alice@Hotmail.COM ", "alice@hotmail.com", true},
		{"msn:bob@example.org", "bob@example.org", true},
		{"", "", false},
		{"alice", "", false},
		{"@hotmail.com", "", false},
		{"alice@", "", false},
		{"a@b@c", "", false},
		{"alice smith@hotmail.com", "", false},
		{"alice@hotmail.com\r\nOUT", "", false},
		{"a,b@hotmail.com", "", false},
	}
	for _, tt := range tests {
		got, err := parseIdentifier(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseIdentifier(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestIDs(t *testing.T) {
	if got := makeUserID("Alice@Hotmail.com"); got != "alice@hotmail.com" {
		t.Errorf("makeUserID = %q", got)
	}
	if got := makeUserLoginID(" Me@Example.org"); got != "me@example.org" {
		t.Errorf("makeUserLoginID = %q", got)
	}
	pk := makeDMPortalKey("Bob@X.com", "me@example.org")
	if pk != (networkid.PortalKey{ID: "bob@x.com", Receiver: "me@example.org"}) {
		t.Errorf("makeDMPortalKey = %+v", pk)
	}
	if contact, ok := dmContact(pk.ID); !ok || contact != "bob@x.com" {
		t.Errorf("dmContact = %q, %v", contact, ok)
	}
	group := newGroupPortalID()
	if !isGroupPortalID(group) || isGroupPortalID(pk.ID) {
		t.Errorf("group id %q not told apart from DM id %q", group, pk.ID)
	}
	if _, ok := dmContact(group); ok {
		t.Error("group portal taken for a DM")
	}
	if group == newGroupPortalID() {
		t.Error("group portal IDs repeat")
	}
	if got := makeIdentifier("Alice@Hotmail.com"); got != "msn:alice@hotmail.com" {
		t.Errorf("makeIdentifier = %q", got)
	}
	if participantKey([]string{"b@x.com", "A@x.com", "b@x.com"}) != participantKey([]string{"a@x.com", "b@x.com"}) {
		t.Error("participant key depends on order, case or duplicates")
	}
}

func TestMessageIDsUnique(t *testing.T) {
	seen := make(map[networkid.MessageID]bool)
	g1, g2 := newMessageIDGenerator(), newMessageIDGenerator()
	for range 1000 {
		for _, id := range []networkid.MessageID{g1.New(), g2.New()} {
			if seen[id] {
				t.Fatalf("duplicate message ID %q", id)
			}
			seen[id] = true
		}
	}
}
