package msnclient

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mautrix-msn/mautrix-msn/msnclient/abch"
)

const testCircle CircleID = "00000000-0000-0000-0009-0123456789ab"

// circleClient is a client that believes it is in testCircle (joined),
// with bob as a member.
func circleClient() *Client {
	c := NewClient(Config{Email: "alice@example.com", MachineGUID: "{aaaaaaaa-0000-0000-0000-000000000001}"}, nil)
	c.circles.byID = map[CircleID]*circleEntry{
		testCircle: {
			info:    Circle{ID: testCircle, Name: "Club", Role: CircleRoleMember, State: CircleAccepted},
			joined:  true,
			members: map[string]*CircleMember{"bob@example.com": {Email: "bob@example.com", Name: "Bob", State: CircleAccepted}},
		},
	}
	return c
}

func sdg(to, from, block3 string) []byte {
	return []byte("Routing: 1.0\r\nTo: " + to + "\r\nFrom: " + from + "\r\n\r\nReliability: 1.0\r\n\r\n" + block3)
}

const textBlock = "Messaging: 2.0\r\nContent-Length: 5\r\nContent-Type: Text/plain; charset=UTF-8\r\nMessage-Type: Text\r\nX-MMS-IM-Format: FN=Arial; EF=B; CO=ff; CS=0; PF=22\r\n\r\nHello"

func TestParseSDG(t *testing.T) {
	to := testCircle.Address() + ";path=IM"
	bob := "1:bob@example.com;epid={bbbbbbbb-0000-0000-0000-000000000001}"
	tests := []struct {
		name    string
		payload []byte
		want    string // %T of the event, "" for none
		wantErr bool
	}{
		{"text", sdg(to, bob, textBlock), "*msnclient.CircleMessage", false},
		{"nudge", sdg(to, bob, "Messaging: 2.0\r\nMessage-Type: Nudge\r\n\r\nID: 1\r\n\r\n"), "*msnclient.CircleNudge", false},
		{"typing", sdg(to, bob, "Messaging: 2.0\r\nMessage-Type: Control\r\nMessage-Subtype: Typing\r\n\r\n"), "*msnclient.CircleTyping", false},
		{"unknown type", sdg(to, bob, "Messaging: 2.0\r\nMessage-Type: Wink\r\n\r\n"), "", false},
		{"our own echo", sdg(to, "1:alice@example.com;epid={AAAAAAAA-0000-0000-0000-000000000001}", textBlock), "", false},
		{"circle we left", sdg("9:00000000-0000-0000-0009-ffffffffffff@live.com;path=IM", bob, textBlock), "", false},
		{"not a circle", sdg("1:alice@example.com", bob, textBlock), "", true},
		{"bad sender", sdg(to, "1:bob <x>@example.com", textBlock), "", true},
		{"sender on another network", sdg(to, "32:bob@yahoo.com", textBlock), "", true},
		{"one block", []byte("Routing: 1.0\r\nTo: " + to + "\r\nFrom: " + bob), "", true},
		{"no To", sdg("", bob, textBlock), "", true},
		{"empty", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := circleClient()
			evt, _, err := c.parseSDG(tt.payload)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			got := ""
			if evt != nil {
				got = typeName(evt)
			}
			if got != tt.want {
				t.Fatalf("event %s (%+v), want %q", got, evt, tt.want)
			}
		})
	}
	c := circleClient()
	evt, _, _ := c.parseSDG(sdg(to, bob, textBlock))
	m := evt.(*CircleMessage)
	if m.From != "bob@example.com" || m.FromName != "Bob" || m.Message.Text != "Hello" || !m.Message.Format.Bold || m.Message.Format.Font != "Arial" {
		t.Errorf("text message %+v", m)
	}
	// Another endpoint of ours: delivered as our own.
	evt, _, _ = c.parseSDG(sdg(to, "1:alice@example.com;epid={cccccccc-0000-0000-0000-000000000001}", textBlock))
	if m, ok := evt.(*CircleMessage); !ok || !m.FromSelf {
		t.Errorf("message from our other endpoint: %+v", evt)
	}
	// An unknown sender is delivered and asks for the member list.
	evt, refresh, _ := c.parseSDG(sdg(to, "1:dave@example.com;epid={dddddddd-0000-0000-0000-000000000001}", textBlock))
	if m, ok := evt.(*CircleMessage); !ok || m.FromName != "dave@example.com" || refresh != testCircle {
		t.Errorf("unknown sender: %+v, refresh %q", evt, refresh)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *CircleMessage:
		return "*msnclient.CircleMessage"
	case *CircleNudge:
		return "*msnclient.CircleNudge"
	case *CircleTyping:
		return "*msnclient.CircleTyping"
	}
	return "other"
}

func nfy(from, block3 string) []byte {
	return []byte("Routing: 1.0\r\nTo: 1:alice@example.com\r\nFrom: " + from + "\r\n\r\nReliability: 1.0\r\n\r\n" + block3)
}

func TestParseNFY(t *testing.T) {
	from := testCircle.Address()
	roster := "Publication: 1.0\r\nUri: /circle\r\nNotifType: Partial\r\nContent-Type: application/circles+xml\r\n\r\n<circle><roster><id>IM</id><user><id>1:bob@example.com</id></user><user><id>1:bad\r\nmail</id></user><user><id>32:y@yahoo.com</id></user></roster></circle>"
	n, err := parseNFY("PUT", nfy(from, roster))
	if err != nil || n.id != testCircle || strings.Join(n.roster, ",") != "bob@example.com" {
		t.Errorf("roster: %+v, %v", n, err)
	}
	props := "Publication: 1.0\r\nUri: /circle\r\nNotifType: Full\r\n\r\n<circle><props><presence dtype=\"xml\"><Data><UTL></UTL><MFN>New&#13;&#10;name</MFN><PSM>hi</PSM></Data></presence></props></circle>"
	n, err = parseNFY("PUT", nfy(from, props))
	if err != nil || n.name == nil || *n.name != "New name" || n.psm == nil || *n.psm != "hi" {
		t.Errorf("props: %+v, %v", n, err)
	}
	n, err = parseNFY("PUT", nfy(from, "Notification: 1.0\r\nNotifNum: 0\r\nUri: /circle\r\nNotifType: Full\r\nContent-Length: 0\r\n\r\n"))
	if err != nil || !n.isNew {
		t.Errorf("new circle: %+v, %v", n, err)
	}
	n, err = parseNFY("DEL", nfy(from, "Notification: 1.0\r\nNotifNum: 2\r\nUri: /circle/roster(IM)/user(1:Bob@Example.com)\r\nNotifType: Partial\r\nContent-Length: 0\r\n\r\n"))
	if err != nil || n.leaving != "bob@example.com" {
		t.Errorf("member left: %+v, %v", n, err)
	}
	bad := map[string][]byte{
		"from a contact":    nfy("1:bob@example.com", roster),
		"DEL of garbage":    nfy(from, "Notification: 1.0\r\nUri: /circle/roster(IM)/user(1:x\r\n\r\n"),
		"DEL of the circle": nfy(from, "Notification: 1.0\r\nUri: /circle\r\n\r\n"),
		"unknown verb":      nil,
		"broken XML":        nfy(from, "Publication: 1.0\r\n\r\n<circle><roster><user><id>1:a@b.c</id>"),
		"entity bomb": nfy(from, "Publication: 1.0\r\n\r\n<!DOCTYPE circle [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"+
			"<circle><props><presence><Data><MFN>&b;&b;&b;&b;</MFN></Data></presence></props></circle>"),
		"deep nesting": nfy(from, "Publication: 1.0\r\n\r\n"+strings.Repeat("<circle>", 100000)+strings.Repeat("</circle>", 100000)),
		"too large":    nfy(from, "Publication: 1.0\r\n\r\n<circle>"+strings.Repeat("x", maxXMLPayload)+"</circle>"),
	}
	for name, p := range bad {
		verb := "PUT"
		if strings.HasPrefix(name, "DEL") {
			verb = "DEL"
		}
		if name == "unknown verb" {
			verb, p = "GET", nfy(from, roster)
		}
		if n, err := parseNFY(verb, p); err == nil {
			t.Errorf("%s: accepted as %+v", name, n)
		}
	}
}

func TestCircleEnvelopeLimits(t *testing.T) {
	if _, err := parseCircleEnvelope(bytes.Repeat([]byte("a"), maxNSPayload+1)); err == nil {
		t.Error("oversized payload accepted")
	}
	if _, err := parseCircleEnvelope([]byte("To: x\r\nFrom: y")); !errors.Is(err, errCircleEnvelope) {
		t.Errorf("one block: %v", err)
	}
}

func TestParseCircleID(t *testing.T) {
	good := map[string]CircleID{
		"00000000-0000-0000-0009-0123456789AB":             testCircle,
		"9:00000000-0000-0000-0009-0123456789ab@live.com":  testCircle,
		"9:00000000-0000-0000-0009-0123456789ab@LIVE.COM":  testCircle,
		"00000000-0000-0000-0009-0123456789AB@hotmail.com": testCircle,
	}
	for in, want := range good {
		if got, err := ParseCircleID(in); err != nil || got != want {
			t.Errorf("ParseCircleID(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "00000000-0000-0000-0001-0123456789ab", "00000000-0000-0000-0009-0123456789a", "00000000-0000-0000-0009-0123456789zz",
		"00000000-0000-0000-0009-0123456789ab@evil.com", "9:00000000-0000-0000-0009-0123456789ab\r\n@live.com", "bob@example.com"} {
		if id, err := ParseCircleID(in); err == nil {
			t.Errorf("ParseCircleID(%q) accepted: %q", in, id)
		}
	}
}

func TestSDGPayloadCannotInject(t *testing.T) {
	c := circleClient()
	c.cfg.Email = "alice@example.com"
	p := c.sdgPayload(testCircle, "Text", [][2]string{{"X-MMS-IM-Format", "FN=Arial\r\nMessage-Type: Nudge"}}, []byte("body\r\n\r\nMessage-Type: Nudge"))
	env, err := parseCircleEnvelope(p)
	if err != nil {
		t.Fatal(err)
	}
	if env.msg.Get("Message-Type") != "Text" || len(env.msg.Headers) != 7 {
		t.Errorf("headers %+v", env.msg.Headers)
	}
	if env.routing.Get("From") != "1:alice@example.com;epid={aaaaaaaa-0000-0000-0000-000000000001}" || env.routing.Get("To") != testCircle.Address()+";path=IM" {
		t.Errorf("routing %+v", env.routing.Headers)
	}
}

// FuzzCirclePayload feeds arbitrary SDG and NFY payloads to the parsers:
// they never panic, and what they let through is clean.
func FuzzCirclePayload(f *testing.F) {
	to := testCircle.Address() + ";path=IM"
	f.Add("PUT", sdg(to, "1:bob@example.com;epid={b}", textBlock))
	f.Add("PUT", nfy(testCircle.Address(), "Publication: 1.0\r\nUri: /circle\r\n\r\n<circle><roster><id>IM</id><user><id>1:bob@example.com</id></user></roster></circle>"))
	f.Add("DEL", nfy(testCircle.Address(), "Notification: 1.0\r\nUri: /circle/roster(IM)/user(1:bob@example.com)\r\n\r\n"))
	f.Fuzz(func(t *testing.T, verb string, payload []byte) {
		c := circleClient()
		evt, _, err := c.parseSDG(payload)
		if err == nil && evt != nil {
			switch e := evt.(type) {
			case *CircleMessage:
				if !utf8.ValidString(e.Message.Text) || strings.ContainsAny(e.From+e.FromName, "\r\n\x00") || strings.ContainsAny(e.Message.Format.Font, "\r\n") {
					t.Fatalf("unclean message %+v", e)
				}
			case *CircleTyping:
				if strings.ContainsAny(e.From, "\r\n;") {
					t.Fatalf("unclean typing %+v", e)
				}
			}
		}
		n, err := parseNFY(verb, payload)
		if err == nil {
			for _, email := range append(n.roster, n.leaving) {
				if strings.ContainsAny(email, "\r\n ;<>") {
					t.Fatalf("unclean roster email %q", email)
				}
			}
			if n.name != nil && strings.ContainsAny(*n.name, "\r\n\x00") {
				t.Fatalf("unclean circle name %q", *n.name)
			}
			if n.psm != nil && strings.ContainsAny(*n.psm, "\r\n\x00") {
				t.Fatalf("unclean circle message %q", *n.psm)
			}
		}
	})
}

// TestStaleAddressBookReadIgnoredForCircles: an address book read that
// started before we left a circle (or answered an invitation) still lists
// it; applying it would bring the circle back. It is not used for
// circles, and another read is scheduled.
func TestStaleAddressBookReadIgnoredForCircles(t *testing.T) {
	c := circleClient()
	d, _ := dialectFor(18)
	s := &session{c: c, d: d, refreshing: true} // a re-read is "running": another is only asked for
	c.circles.sess = s
	book := &abch.AddressBook{Circles: []abch.CircleInfo{{ID: string(testCircle), Name: "Club", Role: "Member", State: "Accepted"}}}
	gen := c.circleGen()
	c.noteCircleResult(s, book, gen)
	if len(c.circles.found) != 1 || !c.circles.seen {
		t.Fatalf("fresh read not used: %+v", c.circles.found)
	}
	gen = c.circleGen()
	c.circleChanged() // we leave while the read is in flight
	c.noteCircleResult(s, &abch.AddressBook{Circles: book.Circles, CircleTicket: "new ticket"}, gen)
	c.circles.found = c.circles.found[:0]
	c.noteCircleResult(s, book, gen)
	if len(c.circles.found) != 0 {
		t.Errorf("stale read used: %+v", c.circles.found)
	}
	if !s.refreshAgain {
		t.Error("no new read after a stale one")
	}
	if c.circles.ticket != "new ticket" {
		t.Errorf("the ticket of a stale read is still fresh: %q", c.circles.ticket)
	}
}
