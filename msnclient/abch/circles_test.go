package abch

import (
	"strings"
	"testing"
)

const testCircleID = "00000000-0000-0000-0009-0123456789ab"

func envelope(body string) string {
	return `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

// A default address book with one accepted circle (names) and one
// invitation (numbers), the hidden Circle contact carrying the inviter.
const circleBook = `<ABFindContactsPagedResponse xmlns="http://www.msn.com/webservices/AddressBook"><ABFindContactsPagedResult><Contacts>` +
	`<Contact><contactId>00000000-0000-0000-0009-00000000000f</contactId><contactInfo><contactType>Circle</contactType><passportName>00000000-0000-0000-0009-00000000000F@hotmail.com</passportName>` +
	`<NetworkInfoList><NetworkInfo><DomainTag>00000000-0000-0000-0009-00000000000F</DomainTag><RelationshipState>1</RelationshipState><RelationshipRole>3</RelationshipRole>` +
	`<InviterEmail>carol@example.com</InviterEmail><InviterName>Carol</InviterName><InviterMessage>join us</InviterMessage></NetworkInfo></NetworkInfoList></contactInfo></Contact>` +
	`</Contacts><CircleResult><Circles>` +
	`<CircleInverseInfo><Content><Handle><Id>00000000-0000-0000-0009-0123456789AB</Id></Handle><Info><DisplayName>Club</DisplayName></Info></Content>` +
	`<PersonalInfo><MembershipInfo><CirclePersonalMembership><Role>Admin</Role><State>Accepted</State></CirclePersonalMembership></MembershipInfo></PersonalInfo><Deleted>false</Deleted></CircleInverseInfo>` +
	`<CircleInverseInfo><Content><Handle><Id>00000000-0000-0000-0009-00000000000f</Id></Handle><Info><DisplayName>Invited</DisplayName></Info></Content>` +
	`<PersonalInfo><MembershipInfo><CirclePersonalMembership><Role>3</Role><State>1</State></CirclePersonalMembership></MembershipInfo></PersonalInfo></CircleInverseInfo>` +
	`<CircleInverseInfo><Content><Handle><Id>00000000-0000-0000-0009-00000000000e</Id></Handle></Content><Deleted>true</Deleted></CircleInverseInfo>` +
	`</Circles><CircleTicket>
					&lt;?xml version="1.0" encoding="utf-16"?&gt;&lt;SignedTicket ver="1" keyVer="1"&gt;&lt;Data&gt;AA==&lt;/Data&gt;&lt;/SignedTicket&gt;
					</CircleTicket></CircleResult></ABFindContactsPagedResult></ABFindContactsPagedResponse>`

func TestCirclesInAddressBook(t *testing.T) {
	c, _ := newTestClient(t, map[string]reply{"ABFindContactsPaged": {200, envelope(circleBook)}})
	ab, err := c.ABFindContactsPaged(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []CircleInfo{
		{ID: testCircleID, Name: "Club", Role: CircleRoleAdmin, State: CircleStateAccepted},
		{ID: "00000000-0000-0000-0009-00000000000f", Name: "Invited", Role: CircleRoleMember, State: CircleStateWaiting},
	}
	if len(ab.Circles) != len(want) || ab.Circles[0] != want[0] || ab.Circles[1] != want[1] {
		t.Errorf("circles = %+v", ab.Circles)
	}
	if ab.CircleTicket != `<?xml version="1.0" encoding="utf-16"?><SignedTicket ver="1" keyVer="1"><Data>AA==</Data></SignedTicket>` {
		t.Errorf("ticket %q", ab.CircleTicket)
	}
	inv, ok := ab.CircleInvitation("00000000-0000-0000-0009-00000000000f")
	if !ok || inv.InviterEmail != "carol@example.com" || inv.InviterMessage != "join us" || inv.State != CircleStateWaiting {
		t.Errorf("invitation %+v %v", inv, ok)
	}
}

func TestCircleCalls(t *testing.T) {
	member := func(id, typ, email, state, role string) string {
		return `<Contact><contactId>` + id + `</contactId><contactInfo><contactType>` + typ + `</contactType><passportName>` + email + `</passportName><displayName>` + email +
			`</displayName><NetworkInfoList><NetworkInfo><RelationshipState>` + state + `</RelationshipState><RelationshipRole>` + role + `</RelationshipRole></NetworkInfo></NetworkInfoList></contactInfo></Contact>`
	}
	c, f := newTestClient(t, map[string]reply{
		"ABFindContactsPaged": {200, envelope(`<ABFindContactsPagedResponse xmlns="http://www.msn.com/webservices/AddressBook"><ABFindContactsPagedResult><Contacts>` +
			member("a", "Me", "alice@example.com", "3", "1") + member("b", "Live", "bob@example.com", "Accepted", "Member") +
			member("c", "LivePending", "carol@example.com", "1", "3") + `</Contacts></ABFindContactsPagedResult></ABFindContactsPagedResponse>`)},
		"CreateCircle":       {200, envelope(`<CreateCircleResponse><CreateCircleResult><Id>` + testCircleID + `</Id></CreateCircleResult></CreateCircleResponse>`)},
		"CreateContact":      {200, envelope(`<CreateContactResponse><CreateContactResult><contactId>c-1</contactId></CreateContactResult></CreateContactResponse>`)},
		"ManageWLConnection": {200, envelope(`<ManageWLConnectionResponse/>`)},
		"BreakConnection":    {200, envelope(`<BreakConnectionResponse/>`)},
	})
	ctx := testCtx(t)
	members, err := c.ABFindCircle(ctx, testCircleID)
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 3 || members[1] != (CircleMember{ContactID: "b", Email: "bob@example.com", DisplayName: "bob@example.com", Type: ContactLive, State: CircleStateAccepted, Role: CircleRoleMember}) ||
		members[2].State != CircleStateWaiting || members[0].Type != ContactMe {
		t.Errorf("members %+v", members)
	}
	if got := f.last().field("ABId"); got != testCircleID {
		t.Errorf("ABId %q", got)
	}
	id, err := c.CreateCircle(ctx, "Club <&>", "Alice")
	if err != nil || id != testCircleID {
		t.Fatalf("CreateCircle: %q %v", id, err)
	}
	if r := f.last(); r.field("DisplayName") != "Club <&>" || r.field("Type") != "2" || r.field("HostedDomain") != "live.com" || r.Path != "/abservice/SharingService.asmx" {
		t.Errorf("CreateCircle request %+v", r.Fields)
	}
	cid, err := c.CreateCircleContact(ctx, testCircleID, "bob@example.com")
	if err != nil || cid != "c-1" {
		t.Fatalf("CreateContact: %q %v", cid, err)
	}
	if err := c.InviteToCircle(ctx, testCircleID, cid, "come <in>"); err != nil {
		t.Fatal(err)
	}
	if r := f.last(); r.field("contactId") != "c-1" || r.field("relationshipType") != "5" || r.field("relationshipRole") != "3" || r.field("action") != "1" ||
		r.field("Value") != "come <in>" || r.field("ABId") != testCircleID {
		t.Errorf("invite request %+v", r.Fields)
	}
	if err := c.AnswerCircleInvitation(ctx, testCircleID, false); err != nil {
		t.Fatal(err)
	}
	if r := f.last(); r.field("contactId") != testCircleID || r.field("action") != "2" || r.field("ABId") != "" {
		t.Errorf("decline request %+v", r.Fields)
	}
	if err := c.AnswerCircleInvitation(ctx, testCircleID, true); err != nil {
		t.Fatal(err)
	}
	if r := f.last(); r.field("action") != "1" || r.field("relationshipRole") != "0" {
		t.Errorf("accept request %+v", r.Fields)
	}
	if err := c.LeaveCircle(ctx, testCircleID, "a"); err != nil {
		t.Fatal(err)
	}
	if r := f.last(); r.Action != "BreakConnection" || r.field("contactId") != "a" || r.field("ABId") != testCircleID {
		t.Errorf("leave request %+v", r.Fields)
	}
}

func TestCircleBadInputNeverSent(t *testing.T) {
	c, f := newTestClient(t, map[string]reply{})
	ctx := testCtx(t)
	for _, id := range []string{"", "00000000-0000-0000-0001-0123456789ab", testCircleID + "\r\nX", "00000000-0000-0000-0009-0123456789zz"} {
		if _, err := c.ABFindCircle(ctx, id); err == nil {
			t.Errorf("ABFindCircle(%q) accepted", id)
		}
		if _, err := c.CreateCircleContact(ctx, id, "bob@example.com"); err == nil {
			t.Errorf("CreateCircleContact(%q) accepted", id)
		}
		if err := c.LeaveCircle(ctx, id, "a"); err == nil {
			t.Errorf("LeaveCircle(%q) accepted", id)
		}
	}
	for _, name := range []string{"", "   ", strings.Repeat("x", 65), "bad\x00name"} {
		if _, err := c.CreateCircle(ctx, name, "Alice"); err == nil {
			t.Errorf("CreateCircle(%q) accepted", name)
		}
	}
	if _, err := c.CreateCircleContact(ctx, testCircleID, "bob@example.com\r\nX: y"); err == nil {
		t.Error("CreateCircleContact with CR/LF accepted")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) != 0 {
		t.Errorf("%d requests reached the server", len(f.reqs))
	}
}
