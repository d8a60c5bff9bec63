package msntest

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// Raw-protocol tests of the circle rules, mirroring Escargot's.

const (
	aliceGUID = "{aaaaaaaa-0000-0000-0000-0000000000c1}"
	bobGUID   = "{bbbbbbbb-0000-0000-0000-0000000000c1}"
)

// circleTicketOf fetches the CircleTicket of the default address book.
func circleTicketOf(t *testing.T, s *Server, ticket string) string {
	t.Helper()
	status, root := soapCall(t, s, "abservice.asmx", "ABFindContactsPaged", ticket, `<abView>MessengerClient8</abView><extendedContent>AB AllGroups CircleResult</extendedContent>`)
	if status != 200 || root == nil {
		t.Fatalf("ABFindContactsPaged: HTTP %d", status)
	}
	return strings.TrimSpace(root.find("CircleTicket").text())
}

func circleML(id string, l string) []byte {
	return []byte(`<ml><d n="live.com"><c n="` + id + `" l="` + l + `" t="9" /></d></ml>`)
}

func circleEnvelope(to, from, block3 string) []byte {
	return []byte("Routing: 1.0\r\nTo: " + to + "\r\nFrom: " + from + "\r\n\r\nReliability: 1.0\r\n\r\n" + block3)
}

func rosterPut(id, email string) []byte {
	body := "<circle><roster><id>IM</id><user><id>1:" + email + "</id></user></roster></circle>"
	return circleEnvelope(circleAddress(id), "1:"+email+";epid="+aliceGUID,
		"Publication: 1.0\r\nUri: /circle\r\nContent-Type: application/circles+xml\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+body)
}

// joinCircleRaw authenticates, sends the initial and the circle ADL and
// reads the lines that follow.
func joinCircleRaw(t *testing.T, s *Server, email, guid, id string) *tconn {
	t.Helper()
	tc, ticket := login(t, s, email, testLogin{dialect: 18, guid: guid})
	tc.sync()
	ct := circleTicketOf(t, s, ticket)
	trid := tc.send("USR", "SHA", "A", base64.StdEncoding.EncodeToString([]byte(ct)))
	tc.expect("USR " + trid + " OK " + email + " 0 0")
	tc.sync()
	trid = tc.sendPayload("ADL", []byte(`<ml l="1"></ml>`))
	tc.expect("ADL " + trid + " OK")
	trid = tc.sendPayload("ADL", circleML(id, "1"))
	tc.expect("ADL " + trid + " OK")
	tc.sync()
	return tc
}

func TestCircleTicketByteForByte(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	id, err := s.CreateCircle("Club", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	tc, ticket := login(t, s, "alice@example.com", testLogin{dialect: 18, guid: aliceGUID})
	tc.sync()
	ct := circleTicketOf(t, s, ticket)
	if !strings.HasPrefix(ct, `<?xml version="1.0" encoding="utf-16"?><SignedTicket`) {
		t.Fatalf("ticket %q", ct)
	}

	// Before USR SHA a circle ADL is refused.
	trid := tc.sendPayload("ADL", circleML(id, "1"))
	tc.expect("933 " + trid)

	// One byte off, or the ticket with its whitespace kept: 911, and the
	// session goes on.
	for _, bad := range []string{ct[:len(ct)-1] + "x", "\n" + ct, "x"} {
		trid = tc.send("USR", "SHA", "A", base64.StdEncoding.EncodeToString([]byte(bad))+"=")
		tc.expect("911 " + trid)
		trid = tc.send("USR", "SHA", "A", base64.StdEncoding.EncodeToString([]byte(bad)))
		tc.expect("911 " + trid)
	}
	// The real ticket, but only after the forced rejections.
	s.RejectCircleTickets(1)
	good := base64.StdEncoding.EncodeToString([]byte(ct))
	trid = tc.send("USR", "SHA", "A", good)
	tc.expect("911 " + trid)
	trid = tc.send("USR", "SHA", "A", good)
	tc.expect("USR " + trid + " OK alice@example.com 0 0")
	// The fresh circle is announced.
	nfy := tc.expect("NFY PUT")
	if !bytes.Contains(nfy.Payload, []byte("From: 9:"+id+"@live.com")) || !bytes.Contains(nfy.Payload, []byte("To: 1:alice@example.com;epid="+aliceGUID)) ||
		!bytes.Contains(nfy.Payload, []byte("NotifNum: 0")) {
		t.Errorf("new circle NFY:\n%s", nfy.Payload)
	}
	// A stale ticket (the server issues a new one) is refused.
	s.mu.Lock()
	s.circles.tickets[key("alice@example.com")].issued = s.circles.tickets[key("alice@example.com")].issued.Add(-2 * circleTicketLifetime)
	s.mu.Unlock()
	trid = tc.send("USR", "SHA", "A", good)
	tc.expect("911 " + trid)
}

func TestCircleSHABelow18Disconnects(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	tc, _ := login(t, s, "alice@example.com", testLogin{dialect: 15})
	tc.sync()
	tc.send("USR", "SHA", "A", "eA==")
	tc.expectClosed()
}

func TestCircleADLRulesAndPUT(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob")
	mustAdd(t, s, "eve@example.com", "Eve")
	id, _ := s.CreateCircle("Club", "alice@example.com")
	other, _ := s.CreateCircle("Other", "eve@example.com")
	if err := s.AddCircleMember(id, "bob@example.com", CircleMember); err != nil {
		t.Fatal(err)
	}
	tc, ticket := login(t, s, "alice@example.com", testLogin{dialect: 18, guid: aliceGUID})
	tc.sync()
	trid := tc.send("USR", "SHA", "A", base64.StdEncoding.EncodeToString([]byte(circleTicketOf(t, s, ticket))))
	tc.expect("USR " + trid + " OK alice@example.com 0 0")
	tc.sync()

	// Not a member: 933.
	trid = tc.sendPayload("ADL", circleML(other, "1"))
	tc.expect("933 " + trid)
	// Circle ADL without the initial ADL first: joined for presence, but
	// PUT answers 201.
	trid = tc.sendPayload("ADL", circleML(id, "1"))
	tc.expect("ADL " + trid + " OK")
	lines := tc.sync()
	var names []string
	for _, l := range lines {
		names = append(names, lineOf(l))
	}
	got := strings.Join(names, " | ")
	for _, want := range []string{"NOT", "NLN NLN 9:" + id + "@live.com Club 0:0", "NFY PUT"} {
		if !strings.Contains(got, want) {
			t.Errorf("after circle ADL: %s; missing %q", got, want)
		}
	}
	trid = tc.sendPayload("PUT", rosterPut(id, "alice@example.com"))
	tc.expect("201 " + trid)

	// With the initial ADL first, PUT works.
	trid = tc.sendPayload("ADL", []byte(`<ml l="1"></ml>`))
	tc.expect("ADL " + trid + " OK")
	trid = tc.sendPayload("ADL", circleML(id, "1"))
	tc.expect("ADL " + trid + " OK")
	tc.sync()
	trid = tc.sendPayload("PUT", rosterPut(id, "alice@example.com"))
	tc.expect("PUT " + trid + " OK") // "PUT n OK 0": the 0 reads as an empty payload
	// Someone else in the roster: 201. A bad To: 201. Not a circle: no reply.
	trid = tc.sendPayload("PUT", rosterPut(id, "bob@example.com"))
	tc.expect("201 " + trid)
	trid = tc.sendPayload("PUT", rosterPut(other, "alice@example.com"))
	tc.expect("201 " + trid)
	tc.sendPayload("PUT", circleEnvelope("1:bob@example.com", "1:alice@example.com;epid="+aliceGUID, "Publication: 1.0\r\n\r\n<circle/>"))
	if extra := tc.sync(); len(extra) != 0 {
		t.Errorf("PUT to a non-circle was answered: %s", lineOf(extra[0]))
	}
	// Garbage payloads: 201, the connection stays.
	for _, p := range []string{"no blocks at all", "Routing: 1.0\r\nTo: 9:" + id + "@live.com\r\nFrom: 1:alice@example.com\r\n\r\nReliability: 1.0\r\n\r\nPublication: 1.0\r\n\r\n<circle><roster><user><id>&xx;</id>"} {
		trid = tc.sendPayload("PUT", []byte(p))
		if cmd := tc.next(); lineOf(cmd) != "201 "+trid {
			t.Errorf("garbage PUT %q: %s", p, lineOf(cmd))
		}
	}
	// RML with t="9" is accepted.
	trid = tc.sendPayload("RML", circleML(id, "1"))
	tc.expect("RML " + trid + " OK")
	if s.CircleJoined(id, "alice@example.com") {
		t.Error("still joined after the circle RML")
	}
}

func TestCircleSDGRelayAndPresence(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob")
	id, _ := s.CreateCircle("Club", "alice@example.com")
	if err := s.AddCircleMember(id, "bob@example.com", CircleMember); err != nil {
		t.Fatal(err)
	}
	alice := joinCircleRaw(t, s, "alice@example.com", aliceGUID, id)
	trid := alice.send("CHG", "NLN", "0:0")
	alice.expect("CHG " + trid + " NLN 0:0")
	bob := joinCircleRaw(t, s, "bob@example.com", bobGUID, id)
	trid = bob.send("CHG", "BSY", "0:0")
	bob.expect("CHG " + trid + " BSY 0:0")
	// Alice sees bob's presence in the circle.
	via := "1:bob@example.com;via=9:" + id + "@live.com"
	for _, want := range []string{"NLN BSY " + via} {
		cmd := alice.skipUntil("NLN")
		for !strings.Contains(lineOf(cmd), ";via=") {
			cmd = alice.skipUntil("NLN")
		}
		if !strings.HasPrefix(lineOf(cmd), want) {
			t.Fatalf("got %q, want %q…", lineOf(cmd), want)
		}
		alice.expect("UBX " + via)
	}
	// Bob's roster publication reaches alice.
	bob.sendPayload("PUT", bytes.ReplaceAll(rosterPut(id, "bob@example.com"), []byte(aliceGUID), []byte(bobGUID)))
	nfy := alice.skipUntil("NFY")
	if !bytes.Contains(nfy.Payload, []byte("<user><id>1:bob@example.com</id></user>")) {
		t.Errorf("roster NFY:\n%s", nfy.Payload)
	}

	msg := circleEnvelope("9:"+id+"@live.com;path=IM", "1:bob@example.com;epid="+bobGUID,
		"Messaging: 2.0\r\nContent-Length: 5\r\nContent-Type: Text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\nMessage-Type: Text\r\nMIME-Version: 1.0\r\n\r\nHello")
	bob.sendPayload("SDG", msg)
	got := alice.skipUntil("SDG")
	if lineOf(got) != "SDG 0" || !bytes.Equal(got.Payload, msg) {
		t.Errorf("relayed %q:\n%s", lineOf(got), got.Payload)
	}
	// Wrong From (another endpoint id, another user) or To without
	// ;path=IM: 201. To a contact: ignored.
	for _, bad := range [][]byte{
		bytes.Replace(msg, []byte(bobGUID), []byte(aliceGUID), 1),
		bytes.Replace(msg, []byte("From: 1:bob@"), []byte("From: 1:alice@"), 1),
		bytes.Replace(msg, []byte(";path=IM"), nil, 1),
		[]byte("garbage"),
	} {
		trid := bob.sendPayload("SDG", bad)
		if cmd := bob.skipUntil("201"); cmd.Arg(0) != trid {
			t.Errorf("bad SDG answered %q", lineOf(cmd))
		}
	}
	bob.sendPayload("SDG", bytes.Replace(msg, []byte("To: 9:"+id+"@live.com;path=IM"), []byte("To: 1:alice@example.com;path=IM"), 1))
	for _, l := range bob.sync() {
		if l.IsError() {
			t.Errorf("SDG to a contact answered %s", lineOf(l))
		}
	}
	for _, l := range alice.sync() {
		if l.Name == "SDG" {
			t.Errorf("alice got a refused SDG:\n%s", l.Payload)
		}
	}

	// Bob leaves the circle (BreakConnection via the test API): alice
	// gets NFY DEL and his offline presence there.
	if err := s.RemoveCircleMember(id, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	var sawDel, sawFLN bool
	for _, l := range alice.sync() {
		switch {
		case l.Name == "NFY" && l.Arg(0) == "DEL" && bytes.Contains(l.Payload, []byte("Uri: /circle/roster(IM)/user(1:bob@example.com)")):
			sawDel = true
		case lineOf(l) == "FLN "+via+" 0:0":
			sawFLN = true
		}
	}
	if !sawDel || !sawFLN {
		t.Errorf("after bob left: NFY DEL %v, FLN %v", sawDel, sawFLN)
	}
	// Bob's own session gets Escargot's plain address-book NOT (it names
	// no circle: his client re-reads the address book, not the circle's).
	var bobNOT []byte
	for _, l := range bob.sync() {
		if l.Name == "NOT" {
			bobNOT = l.Payload
		}
	}
	if bobNOT == nil || !bytes.Contains(bobNOT, []byte("ABCHInternal")) || bytes.Contains(bobNOT, []byte("CircleId")) {
		t.Errorf("bob's NOT after leaving: %q", bobNOT)
	}
	// His messages no longer go anywhere.
	trid = bob.sendPayload("SDG", msg)
	if cmd := bob.skipUntil("201"); cmd.Arg(0) != trid {
		t.Errorf("SDG after leaving answered %q", lineOf(cmd))
	}
}

func TestCircleOnlyAdminsInvite(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob")
	mustAdd(t, s, "carol@example.com", "Carol")
	id, _ := s.CreateCircle("Club", "alice@example.com")
	if err := s.AddCircleMember(id, "bob@example.com", CircleMember); err != nil {
		t.Fatal(err)
	}
	if err := s.InviteToCircle(id, "bob@example.com", "carol@example.com"); err == nil {
		t.Error("a member invited through the test API")
	}
	tc, ticket := login(t, s, "bob@example.com", testLogin{dialect: 18, guid: bobGUID})
	tc.sync()
	status, root := soapCall(t, s, "abservice.asmx", "CreateContact", ticket,
		`<abHandle><ABId>`+id+`</ABId><Puid>0</Puid><Cid>0</Cid></abHandle><contactHandle><Email>carol@example.com</Email></contactHandle>`)
	if status != 500 || root.find("errorcode").text() != "Forbidden" {
		t.Errorf("member's CreateContact: HTTP %d %v", status, root.find("errorcode").text())
	}
	if err := s.AddCircleMember(id, "bob@example.com", CircleAssistantAdmin); err != nil {
		t.Fatal(err)
	}
	status, _ = soapCall(t, s, "abservice.asmx", "CreateContact", ticket,
		`<abHandle><ABId>`+id+`</ABId><Puid>0</Puid><Cid>0</Cid></abHandle><contactHandle><Email>carol@example.com</Email></contactHandle>`)
	if status != 200 {
		t.Errorf("assistant admin's CreateContact: HTTP %d", status)
	}
}

func TestCircleADLMixedOrBlocked(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob")
	id, _ := s.CreateCircle("Club", "alice@example.com")
	tc, ticket := login(t, s, "alice@example.com", testLogin{dialect: 18, guid: aliceGUID})
	tc.sync()
	trid := tc.send("USR", "SHA", "A", base64.StdEncoding.EncodeToString([]byte(circleTicketOf(t, s, ticket))))
	tc.expect("USR " + trid + " OK alice@example.com 0 0")
	tc.sync()
	trid = tc.sendPayload("ADL", []byte(`<ml l="1"></ml>`))
	tc.expect("ADL " + trid + " OK")
	// l="4" blocks the circle: accepted, nothing flows.
	trid = tc.sendPayload("ADL", circleML(id, "4"))
	tc.expect("ADL " + trid + " OK")
	if s.CircleJoined(id, "alice@example.com") {
		t.Error("a blocked circle was joined")
	}
	// A circle mixed with a contact: 241 and the connection closes.
	trid = tc.sendPayload("ADL", []byte(`<ml><d n="example.com"><c n="bob" l="1" t="1" /></d><d n="live.com"><c n="`+id+`" l="1" t="9" /></d></ml>`))
	lines := tc.expectClosed()
	if len(lines) == 0 || lines[len(lines)-1] != "241 "+trid {
		t.Errorf("mixed ADL: %v", lines)
	}
}
