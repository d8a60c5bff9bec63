package msntest

import (
	"strings"
	"testing"
)

func mutual(t *testing.T, s *Server, a, b string) {
	t.Helper()
	mustContact(t, s, a, b, ListFL|ListAL)
	mustContact(t, s, b, a, ListFL|ListAL)
}

// chg sends the first CHG and reads through the initial burst (up to the
// Mail-Data MSG for MSNP11+, or the CHG echo plus ILNs otherwise, using sync).
func chg(t *testing.T, tc *tconn, status, caps string) []string {
	t.Helper()
	id := tc.send("CHG", status, caps, "%3Cmsnobj%2F%3E")
	echo := tc.next()
	if echo.Name != "CHG" || echo.Arg(0) != id {
		t.Fatalf("CHG reply %q", lineOf(echo))
	}
	var lines []string
	for _, c := range tc.sync() {
		lines = append(lines, lineOf(c))
	}
	return lines
}

func TestPresenceFanOutAcrossDialects(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice Smith")
	mustAdd(t, s, "bob@example.com", "Bob")
	mustAdd(t, s, "carol@example.com", "Carol")
	mutual(t, s, "alice@example.com", "bob@example.com")
	mutual(t, s, "alice@example.com", "carol@example.com")

	bob, _ := login(t, s, "bob@example.com", testLogin{dialect: 8})
	chg(t, bob, "NLN", "268435456")
	carol, _ := login(t, s, "carol@example.com", testLogin{dialect: 18, guid: "{aaaaaaaa-0000-0000-0000-000000000001}"})
	chg(t, carol, "NLN", "2789003324:48")

	alice, _ := login(t, s, "alice@example.com", testLogin{dialect: 11})
	id := alice.send("CHG", "NLN", "1073741824", "%3Cmsnobj%20Creator%3D%22alice%40example.com%22%2F%3E")
	alice.expect("CHG " + id + " NLN 1073741824 %3Cmsnobj%20Creator%3D%22alice%40example.com%22%2F%3E")
	alice.expect("ILN " + id + " NLN bob@example.com Bob 268435456 %3Cmsnobj%2F%3E")
	alice.expect("UBX bob@example.com")
	alice.expect("ILN " + id + " NLN carol@example.com Carol 2789003324 %3Cmsnobj%2F%3E")
	ubx := alice.expect("UBX carol@example.com")
	if !strings.HasPrefix(string(ubx.Payload), "<Data><PSM></PSM><CurrentMedia></CurrentMedia>") {
		t.Errorf("UBX payload %q", ubx.Payload)
	}
	alice.expect("MSG Hotmail Hotmail")

	bob.expect("NLN NLN alice@example.com Alice%20Smith 1073741824")
	nln := carol.expect("NLN NLN 1:alice@example.com Alice%20Smith 1073741824:0 %3Cmsnobj%20Creator%3D%22alice%40example.com%22%2F%3E")
	_ = nln
	carol.expect("UBX 1:alice@example.com")

	// PSM reaches MSNP11+ contacts.
	id = alice.sendPayload("UUX", []byte("<Data><PSM>at work &amp; busy</PSM><CurrentMedia></CurrentMedia></Data>"))
	alice.expect("UUX " + id) // "UUX t 0": an empty payload
	carol.expectName("NLN")
	ubx = carol.expect("UBX 1:alice@example.com")
	if !strings.Contains(string(ubx.Payload), "<PSM>at work &#x26; busy</PSM>") {
		t.Errorf("MSNP18 UBX payload %q", ubx.Payload)
	}

	bob.expect("NLN NLN alice@example.com Alice%20Smith 1073741824") // MSNP8 has no PSM, but Escargot re-sends NLN

	// Friendly name change is re-broadcast.
	id = alice.send("PRP", "MFN", "Alice%20S.")
	alice.expect("PRP " + id + " MFN Alice%20S.")
	bob.expect("NLN NLN alice@example.com Alice%20S. 1073741824")
	if s.FriendlyName("alice@example.com") != "Alice S." {
		t.Errorf("FriendlyName = %q", s.FriendlyName("alice@example.com"))
	}

	// Hidden appears offline in each dialect's form.
	alice.expect("CHG " + alice.send("CHG", "HDN", "1073741824") + " HDN 1073741824")
	bob.skipUntil("FLN")
	carol.skipUntil("FLN")
	alice.expect("CHG " + alice.send("CHG", "AWY", "1073741824") + " AWY 1073741824")
	bob.expect("NLN AWY alice@example.com Alice%20S. 1073741824")

	// Blocking bob hides alice from him only.
	id = alice.send("ADC", "BL", "N=bob@example.com")
	alice.expect("ADC " + id + " BL N=bob@example.com")
	bob.skipUntil("FLN")
	id = alice.send("REM", "BL", "bob@example.com")
	alice.expect("REM " + id + " BL bob@example.com")
	bob.expect("NLN AWY alice@example.com Alice%20S. 1073741824")

	// Logging out: FLN in each dialect's form.
	alice.sendRaw("OUT\r\n")
	alice.expectClosed()
	bob.expect("FLN alice@example.com")
	carol.skipUntil("FLN")
}

func TestFLNForms(t *testing.T) {
	for _, c := range []struct {
		dialect int
		want    string
	}{
		{9, "FLN bob@example.com"},
		{13, "FLN bob@example.com"},
		{14, "FLN bob@example.com 1 0"},
		{16, "FLN bob@example.com 1 0:0"},
		{18, "FLN 1:bob@example.com 0:0"},
	} {
		s := StartT(t, Options{})
		mustAdd(t, s, "alice@example.com", "Alice")
		mustAdd(t, s, "bob@example.com", "Bob")
		mutual(t, s, "alice@example.com", "bob@example.com")
		alice, _ := login(t, s, "alice@example.com", testLogin{dialect: c.dialect, guid: "{aaaaaaaa-0000-0000-0000-000000000001}"})
		chg(t, alice, "NLN", "0")
		bob, _ := login(t, s, "bob@example.com", testLogin{dialect: 8})
		chg(t, bob, "NLN", "0")
		alice.skipUntil("NLN")
		s.DropConnections("bob@example.com")
		if got := lineOf(alice.skipUntil("FLN")); got != c.want {
			t.Errorf("MSNP%d: %q, want %q", c.dialect, got, c.want)
		}
	}
}

func TestMPOP(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob")
	mutual(t, s, "alice@example.com", "bob@example.com")
	bob, _ := login(t, s, "bob@example.com", testLogin{dialect: 18, guid: "{bbbbbbbb-0000-0000-0000-000000000001}"})
	chg(t, bob, "NLN", "0:0")

	const g1, g2 = "{aaaaaaaa-0000-0000-0000-000000000001}", "{aaaaaaaa-0000-0000-0000-000000000002}"
	a1, _ := login(t, s, "alice@example.com", testLogin{dialect: 18, guid: g1})
	chg(t, a1, "NLN", "1:2")
	bob.expectName("NLN")
	bob.expectName("UBX")
	a2, _ := login(t, s, "alice@example.com", testLogin{dialect: 18, guid: g2})
	lines := chg(t, a2, "BSY", "3:4")
	// a2 gets bob's presence, and its own NLN/UBX echo (Escargot quirk 24).
	joined := strings.Join(lines, "\n")
	if !strings.Contains(joined, "NLN NLN 1:bob@example.com Bob 0:0") || !strings.Contains(joined, "NLN BSY 1:alice@example.com Alice 3:4") {
		t.Errorf("second endpoint got:\n%s", joined)
	}
	// Both endpoints coexist; the first sees the change and the endpoint list.
	a1.expect("NLN BSY 1:alice@example.com Alice 3:4 %3Cmsnobj%2F%3E")
	ubx := a1.expect("UBX 1:alice@example.com")
	for _, want := range []string{`<EndpointData id="` + strings.ToLower(g1) + `">`, `<EndpointData id="` + g2 + `">`, `<PrivateEndpointData id="` + g2 + `">`} {
		if !strings.Contains(string(ubx.Payload), want) {
			t.Errorf("own UBX lacks %s: %s", want, ubx.Payload)
		}
	}
	bob.expect("NLN BSY 1:alice@example.com Alice 3:4 %3Cmsnobj%2F%3E")
	ubx = bob.expect("UBX 1:alice@example.com")
	if strings.Count(string(ubx.Payload), "<EndpointData") != 2 || strings.Contains(string(ubx.Payload), "PrivateEndpointData") {
		t.Errorf("contact UBX: %s", ubx.Payload)
	}
	if !s.IsOnline("alice@example.com") {
		t.Fatal("alice offline")
	}

	// Same GUID again boots that endpoint only.
	a1b, _ := login(t, s, "alice@example.com", testLogin{dialect: 18, guid: g1})
	a1.skipUntil("OUT")
	a1.expectClosed()
	a2.sync()
	a1b.sync()

	// An MSNP11 login boots every other session.
	a3, _ := login(t, s, "alice@example.com", testLogin{dialect: 11})
	a2.skipUntil("OUT")
	a2.expectClosed()
	a1b.skipUntil("OUT")
	a1b.expectClosed()
	a3.sync()
}

func TestOUTOTHMSNP11(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	a1, _ := login(t, s, "alice@example.com", testLogin{dialect: 11})
	a1.sync()
	a2, _ := login(t, s, "alice@example.com", testLogin{dialect: 11})
	if lines := a1.expectClosed(); len(lines) != 1 || lines[0] != "OUT OTH" {
		t.Errorf("first session got %q, want OUT OTH and close", lines)
	}
	a2.sync()
	if !s.IsOnline("alice@example.com") {
		t.Error("alice offline after the second login")
	}
}

func TestAddContactWhileOnline(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob")
	bob, _ := login(t, s, "bob@example.com", testLogin{dialect: 15})
	chg(t, bob, "NLN", "0")
	alice, _ := login(t, s, "alice@example.com", testLogin{dialect: 18, guid: "{aaaaaaaa-0000-0000-0000-000000000001}"})
	chg(t, alice, "NLN", "0:0")
	mustContact(t, s, "alice@example.com", "bob@example.com", ListFL|ListAL)
	alice.expectName("NOT")
	alice.expect("NLN NLN 1:bob@example.com Bob 0:0 %3Cmsnobj%2F%3E")
	// bob is told alice added him.
	bob.expect("ADL 0")
	bob.expectName("NOT")
}
