package msntest

import (
	"strings"
	"testing"
)

// listFixture: alice has bob (FL|AL, mutual) in group Friends, carol added
// alice (pending for alice), dave is blocked.
func listFixture(t *testing.T) *Server {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob B")
	mustAdd(t, s, "carol@example.com", "Carol")
	mustAdd(t, s, "dave@example.com", "Dave")
	mustContact(t, s, "alice@example.com", "bob@example.com", ListFL|ListAL)
	mustContact(t, s, "bob@example.com", "alice@example.com", ListFL|ListAL)
	mustContact(t, s, "carol@example.com", "alice@example.com", ListFL|ListAL)
	mustContact(t, s, "alice@example.com", "dave@example.com", ListBL)
	return s
}

func TestAddContactMaintainsReverseList(t *testing.T) {
	s := listFixture(t)
	for _, c := range []struct {
		owner, contact string
		want           uint8
	}{
		{"alice@example.com", "bob@example.com", ListFL | ListAL | ListRL},
		{"bob@example.com", "alice@example.com", ListFL | ListAL | ListRL},
		{"alice@example.com", "carol@example.com", ListRL | ListPL},
		{"carol@example.com", "alice@example.com", ListFL | ListAL},
		{"alice@example.com", "dave@example.com", ListBL},
	} {
		if got := s.ContactLists(c.owner, c.contact); got != c.want {
			t.Errorf("%s's lists for %s = %d, want %d", c.owner, c.contact, got, c.want)
		}
	}
	mustContact(t, s, "carol@example.com", "alice@example.com", 0)
	if got := s.ContactLists("alice@example.com", "carol@example.com"); got != 0 {
		t.Errorf("after carol removed alice, alice has carol on %d", got)
	}
	if got := len(s.Contacts("alice@example.com")); got != 2 {
		t.Errorf("alice has %d contacts, want 2", got)
	}
}

func TestSYNMSNP8(t *testing.T) {
	s := listFixture(t)
	tc, _ := login(t, s, "alice@example.com", testLogin{dialect: 8})
	id := tc.send("ADG", "Friends", "0")
	if adg := tc.expectName("ADG"); lineOf(adg) != "ADG "+id+" "+adg.Arg(1)+" Friends 1 0" {
		t.Fatalf("ADG reply %q", lineOf(adg))
	}
	id = tc.send("ADD", "FL", "bob@example.com", "Bob%20B", "1")
	if add := tc.expectName("ADD"); lineOf(add) != "ADD "+id+" FL "+add.Arg(2)+" bob@example.com Bob%20B 1" {
		t.Fatalf("ADD reply %q", lineOf(add))
	}
	id = tc.send("ADD", "FL", "bob@example.com", "Bob%20B", "1")
	tc.expect("215 " + id)
	id = tc.send("ADD", "AL", "nobody@example.com", "nobody@example.com")
	tc.expect("205 " + id)
	id = tc.send("RMG", "0")
	tc.expect("230 " + id)
	id = tc.send("SYN", "5")
	tc.expect("SYN " + id + " 6 3 2")
	tc.expect("GTC A")
	tc.expect("BLP AL")
	tc.expect("LSG 0 Other%20Contacts 0")
	tc.expect("LSG 1 Friends 0")
	tc.expect("LST bob@example.com Bob%20B 11 1")
	tc.expect("LST carol@example.com Carol 8 0") // no PL before MSNP11
	tc.expect("LST dave@example.com Dave 4 0")
}

func TestSYNMSNP10(t *testing.T) {
	s := listFixture(t)
	tc, _ := login(t, s, "alice@example.com", testLogin{dialect: 10})
	id := tc.send("ADG", "Best%20Friends")
	adg := tc.expectName("ADG")
	if len(adg.Args) != 4 || adg.Args[0] != id || adg.Args[1] != "Best%20Friends" || adg.Args[3] != "0" {
		t.Fatalf("ADG reply %q", lineOf(adg))
	}
	gid := adg.Args[2]
	bobID := s.accountUUID("bob@example.com")
	id = tc.send("ADC", "FL", "C="+bobID, gid)
	tc.expect("ADC " + id + " FL C=" + bobID + " " + gid)
	id = tc.send("SYN", "0", "0")
	tc.expect("SYN " + id + " 2000-01-01T00:00:00.0-00:00 2000-01-01T00:00:00.0-00:00 3 1")
	tc.expect("GTC A")
	tc.expect("BLP AL")
	tc.expect("PRP MFN Alice")
	tc.expect("LSG Best%20Friends " + gid)
	tc.expect("LST N=bob@example.com F=Bob%20B C=" + bobID + " 11 " + gid)
	tc.expect("LST N=carol@example.com F=Carol 8")
	tc.expect("LST N=dave@example.com F=Dave 4")
}

func TestSYNMSNP12(t *testing.T) {
	s := listFixture(t)
	tc, _ := login(t, s, "alice@example.com", testLogin{dialect: 12})
	// Read the raw lines to see the empty trailing group field.
	id := tc.send("SYN", "0", "0")
	tc.expect("SYN " + id + " 2000-01-01T00:00:00.0-00:00 2000-01-01T00:00:00.0-00:00 3 0")
	tc.expect("GTC A")
	tc.expect("BLP AL")
	tc.expect("PRP MFN Alice")
	bobID := s.accountUUID("bob@example.com")
	tc.expect("LST N=bob@example.com F=Bob%20B C=" + bobID + " 11 1")
	tc.expect("LST N=carol@example.com F=Carol 16 1") // pending: PL instead of RL
	tc.expect("LST N=dave@example.com F=Dave 4 1")
}

func TestADCNotifiesOtherSide(t *testing.T) {
	s := listFixture(t)
	alice, _ := login(t, s, "alice@example.com", testLogin{dialect: 11})
	dave, _ := login(t, s, "dave@example.com", testLogin{dialect: 9})
	carol, _ := login(t, s, "carol@example.com", testLogin{dialect: 15})

	id := alice.send("ADC", "FL", "N=dave@example.com", "F=Dave")
	alice.expect("ADC " + id + " FL N=dave@example.com F=Dave C=" + s.accountUUID("dave@example.com"))
	dave.expect("ADD 0 RL 1 alice@example.com Alice")
	dave.expectName("NOT")
	if got := s.ContactLists("dave@example.com", "alice@example.com"); got != ListRL|ListPL {
		t.Errorf("dave's lists for alice = %d, want RL|PL", got)
	}

	id = alice.send("ADC", "FL", "N=carol@example.com", "F=Carol")
	alice.expect("ADC " + id + " FL N=carol@example.com F=Carol C=" + s.accountUUID("carol@example.com"))
	adl := carol.expect("ADL 0")
	if want := `<ml><d n="example.com"><c n="alice" t="1" l="8" f="Alice" /></d></ml>`; string(adl.Payload) != want {
		t.Errorf("ADL 0 payload %q, want %q", adl.Payload, want)
	}
	not := carol.expectName("NOT")
	if !strings.Contains(string(not.Payload), "ABCHInternal") {
		t.Errorf("NOT payload %q", not.Payload)
	}

	id = alice.send("ADC", "FL", "N=carol@example.com", "F=Carol")
	alice.expect("215 " + id)
	id = alice.send("ADC", "FL", "N=nobody@example.com", "F=x")
	alice.expect("208 " + id)
	id = alice.send("REM", "FL", "dave@example.com")
	alice.expect("403 " + id)
	id = alice.send("REM", "FL", s.accountUUID("dave@example.com"))
	alice.expect("REM " + id + " FL " + s.accountUUID("dave@example.com"))
	dave.expect("REM 0 RL 2 alice@example.com")
	id = alice.send("REM", "PL", "carol@example.com")
	alice.expect("REM " + id + " PL carol@example.com")
	if got := s.ContactLists("alice@example.com", "carol@example.com"); got&ListPL != 0 {
		t.Errorf("pending flag still set: %d", got)
	}
}

func TestABCHContent(t *testing.T) {
	s := listFixture(t)
	tc, ticket := login(t, s, "alice@example.com", testLogin{dialect: 18, guid: "{11111111-2222-3333-4444-555555555555}"})
	tc.sync()

	status, root := soapCall(t, s, "abservice.asmx", "ABFindContactsPaged", ticket,
		`<filterOptions><DeltasOnly>false</DeltasOnly><LastChanged>0001-01-01T00:00:00.0000000</LastChanged></filterOptions><abView>MessengerClient8</abView><extendedContent>AB AllGroups CircleResult</extendedContent>`)
	if status != 200 || root == nil {
		t.Fatalf("ABFindContactsPaged: status %d", status)
	}
	contacts := map[string]*xmlNode{}
	for _, c := range root.findAll("Contact") {
		contacts[c.find("passportName").text()] = c
	}
	bob := contacts["bob@example.com"]
	if bob == nil || bob.find("contactType").text() != "Regular" || bob.find("displayName").text() != "Bob B" ||
		bob.find("isMessengerUser").text() != "true" || bob.find("contactId").text() != s.accountUUID("bob@example.com") {
		t.Errorf("bob's entry is wrong or missing")
	}
	if me := contacts["alice@example.com"]; me == nil || me.find("contactType").text() != "Me" {
		t.Errorf("no Me contact")
	}
	if contacts["carol@example.com"] != nil || contacts["dave@example.com"] != nil {
		t.Errorf("non-FL contacts in the address book")
	}

	status, root = soapCall(t, s, "SharingService.asmx", "FindMembership", ticket,
		`<serviceFilter><Types><ServiceType>Messenger</ServiceType></Types></serviceFilter><View>Full</View><deltasOnly>false</deltasOnly>`)
	if status != 200 || root == nil {
		t.Fatalf("FindMembership: status %d", status)
	}
	got := map[string][]string{}
	for _, m := range root.findAll("Membership") {
		role := m.child("MemberRole").text()
		for _, mem := range m.findAll("PassportName") {
			got[role] = append(got[role], mem.text())
		}
	}
	want := map[string]string{"Allow": "bob@example.com", "Block": "dave@example.com", "Reverse": "bob@example.com", "Pending": "carol@example.com"}
	for role, email := range want {
		if strings.Join(got[role], ",") != email {
			t.Errorf("role %s: %v, want %s", role, got[role], email)
		}
	}

	// Deltas are refused with a fault on HTTP 200.
	status, root = soapCall(t, s, "SharingService.asmx", "FindMembership", ticket, `<deltasOnly>true</deltasOnly>`)
	if status != 200 || root.find("errorcode").text() != "FullSyncRequired" {
		t.Errorf("delta FindMembership: status %d", status)
	}
	// Unknown token: 403.
	if status, _ := soapCall(t, s, "abservice.asmx", "ABFindAll", "t=aaaaaaaaaaaaaaaaaaaa&p=", ""); status != 403 {
		t.Errorf("unknown token: status %d, want 403", status)
	}

	// Accept carol: AddMember Allow, DeleteMember Pending, ABContactAdd.
	// Escargot finds the member to delete only by its MembershipId.
	memberXML := func(id string) string {
		return `<Member xsi:type="PassportMember">` + id + `<Type>Passport</Type><State>Accepted</State><PassportName>carol@example.com</PassportName></Member>`
	}
	for _, call := range []struct {
		action, role, id string
		status           int
	}{
		{"AddMember", "Allow", "", 200},
		{"DeleteMember", "Pending", "", 500},
		{"DeleteMember", "Pending", "<MembershipId>Pending/" + s.accountUUID("carol@example.com") + "</MembershipId>", 200},
	} {
		status, _ := soapCall(t, s, "SharingService.asmx", call.action, ticket,
			`<serviceHandle><Id>0</Id><Type>Messenger</Type><ForeignId></ForeignId></serviceHandle><memberships><Membership><MemberRole>`+call.role+`</MemberRole><Members>`+memberXML(call.id)+`</Members></Membership></memberships>`)
		if status != call.status {
			t.Fatalf("%s %s %q: status %d, want %d", call.action, call.role, call.id, status, call.status)
		}
	}
	status, root = soapCall(t, s, "abservice.asmx", "ABContactAdd", ticket,
		`<abId>00000000-0000-0000-0000-000000000000</abId><contacts><Contact><contactInfo><contactType>LivePending</contactType><passportName>carol@example.com</passportName><isMessengerUser>true</isMessengerUser></contactInfo></Contact></contacts>`)
	if status != 200 || root.find("guid").text() != s.accountUUID("carol@example.com") {
		t.Fatalf("ABContactAdd: status %d", status)
	}
	if got := s.ContactLists("alice@example.com", "carol@example.com"); got != ListFL|ListAL|ListRL {
		t.Errorf("after accepting, alice's lists for carol = %d", got)
	}
	status, root = soapCall(t, s, "abservice.asmx", "ABContactAdd", ticket,
		`<contacts><Contact><contactInfo><passportName>nobody@example.com</passportName></contactInfo></Contact></contacts>`)
	if status != 500 || root.find("errorcode").text() != "InvalidPassportUser" {
		t.Errorf("ABContactAdd of an unknown user: status %d", status)
	}
	status, _ = soapCall(t, s, "abservice.asmx", "ABContactDelete", ticket,
		`<abId>00000000-0000-0000-0000-000000000000</abId><contacts><Contact><contactId>`+s.accountUUID("carol@example.com")+`</contactId></Contact></contacts>`)
	if status != 200 || s.ContactLists("alice@example.com", "carol@example.com")&ListFL != 0 {
		t.Errorf("ABContactDelete: status %d, lists %d", status, s.ContactLists("alice@example.com", "carol@example.com"))
	}

	// Once the NS session ends, the ticket no longer works (quirk 7).
	tc.sendRaw("OUT\r\n")
	tc.expectClosed()
	if err := waitOffline(s, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if status, _ := soapCall(t, s, "abservice.asmx", "ABFindAll", ticket, ""); status != 403 {
		t.Errorf("ticket of a closed session: status %d, want 403", status)
	}
}

func TestADLRML(t *testing.T) {
	s := listFixture(t)
	bob, _ := login(t, s, "bob@example.com", testLogin{dialect: 15})
	bob.sendRaw("CHG 99 NLN 0 %3Cmsnobj%2F%3E\r\n")
	bob.skipUntil("MSG") // initial mail data
	alice, _ := login(t, s, "alice@example.com", testLogin{dialect: 14})
	alice.expect("ADL " + alice.sendPayload("ADL", []byte(`<ml l="1"><d n="example.com"><c n="bob" l="3" t="1" /></d></ml>`)) + " OK")
	chg := alice.send("CHG", "NLN", "0", "%3Cmsnobj%2F%3E")
	alice.expect("CHG " + chg + " NLN 0 %3Cmsnobj%2F%3E")
	alice.expect("ILN " + chg + " NLN bob@example.com 1 Bob%20B 0 %3Cmsnobj%2F%3E")
	alice.expect("UBX bob@example.com 1")
	alice.expect("MSG Hotmail Hotmail")
	bob.expect("NLN NLN alice@example.com 1 Alice 0 %3Cmsnobj%2F%3E")
	bob.expect("UBX alice@example.com 1")

	// Add dave (was blocked) to FL: his RL gets alice.
	id := alice.sendPayload("ADL", []byte(`<ml><d n="example.com"><c n="dave" l="1" t="1" /></d></ml>`))
	alice.expect("ADL " + id + " OK")
	if got := s.ContactLists("dave@example.com", "alice@example.com"); got&ListRL == 0 {
		t.Errorf("dave's lists for alice = %d, want RL", got)
	}
	id = alice.sendPayload("ADL", []byte(`<ml><d n="example.com"><c n="nobody" l="1" t="1" /></d></ml>`))
	alice.expect("208 " + id)
	id = alice.sendPayload("RML", []byte(`<ml><d n="example.com"><c n="nobody" l="1" t="1" /></d></ml>`))
	alice.expect("RML " + id + " OK")
	id = alice.sendPayload("FQY", []byte(`<ml><d n="example.com"><c n="bob" /></d></ml>`))
	fqy := alice.expect("FQY " + id)
	if string(fqy.Payload) != `<ml><d n="example.com"><c n="bob" t="1" /></d></ml>` {
		t.Errorf("FQY payload %q", fqy.Payload)
	}
	// RL bits are refused and close the connection.
	id = alice.sendPayload("ADL", []byte(`<ml><d n="example.com"><c n="bob" l="8" t="1" /></d></ml>`))
	alice.expect("241 " + id)
	alice.expectClosed()
}
