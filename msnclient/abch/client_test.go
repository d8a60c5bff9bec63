package abch

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/testutil"
)

// soapRequest is what the fake service reads from a request, by local
// names the way Escargot does.
type soapRequest struct {
	Path       string
	SOAPAction string
	Cookies    map[string]string
	Action     string              // local name of the first element in Body
	Fields     map[string][]string // leaf text by local name, in order
	XSITypes   []string
	Raw        []byte
}

func (r soapRequest) field(name string) string {
	if v := r.Fields[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func parseSOAPRequest(t *testing.T, r *http.Request) soapRequest {
	t.Helper()
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read request: %v", err)
	}
	req := soapRequest{Path: r.URL.Path, SOAPAction: r.Header.Get("SOAPAction"), Cookies: map[string]string{},
		Fields: map[string][]string{}, Raw: raw}
	for _, c := range r.Cookies() {
		req.Cookies[c.Name] = c.Value
	}
	err = testutil.WalkXML(raw, func(el xml.StartElement, parent string) {
		if parent == "Body" && req.Action == "" {
			req.Action = el.Name.Local
		}
		for _, a := range el.Attr {
			if a.Name.Local == "type" && a.Name.Space == "http://www.w3.org/2001/XMLSchema-instance" {
				req.XSITypes = append(req.XSITypes, a.Value)
			}
		}
	}, func(local, text string) {
		req.Fields[local] = append(req.Fields[local], text)
	})
	if err != nil {
		t.Errorf("request: %v\n%s", err, raw)
	}
	return req
}

type reply struct {
	status int
	body   string
}

// fakeABCH answers each action with a fixed reply and records requests.
type fakeABCH struct {
	t       *testing.T
	replies map[string]reply
	mu      sync.Mutex
	reqs    []soapRequest
}

func (f *fakeABCH) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := parseSOAPRequest(f.t, r)
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	rep, ok := f.replies[req.Action]
	f.mu.Unlock()
	if !ok {
		rep = reply{http.StatusOK, abFault(req.Action, "Forbidden", "API "+req.Action+" no longer supported")}
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeABCH) last() soapRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		f.t.Fatal("service received no request")
	}
	return f.reqs[len(f.reqs)-1]
}

const testTicket = "t=0123456789abcdef0123Y6+H31s/x&p="

func newTestClient(t *testing.T, replies map[string]reply) (*Client, *fakeABCH) {
	t.Helper()
	f := &fakeABCH{t: t, replies: replies}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(Config{
		HTTPClient:        srv.Client(),
		ABServiceURL:      srv.URL + "/abservice/abservice.asmx",
		SharingServiceURL: srv.URL + "/abservice/SharingService.asmx",
		Ticket:            func() string { return testTicket },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, f
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFindMembership(t *testing.T) {
	c, f := newTestClient(t, map[string]reply{"FindMembership": {200, findMembershipResponse}})
	m, err := c.FindMembership(testCtx(t))
	if err != nil {
		t.Fatalf("FindMembership: %v", err)
	}
	req := f.last()
	if req.Path != "/abservice/SharingService.asmx" {
		t.Errorf("path = %q, want the sharing service", req.Path)
	}
	if req.SOAPAction != `"http://www.msn.com/webservices/AddressBook/FindMembership"` {
		t.Errorf("SOAPAction = %s", req.SOAPAction)
	}
	if got := req.field("TicketToken"); got != testTicket {
		t.Errorf("server read TicketToken %q, want %q", got, testTicket)
	}
	if got := req.field("deltasOnly"); got != "false" {
		t.Errorf("deltasOnly = %q, want false (Escargot refuses deltas)", got)
	}
	if len(req.Cookies) != 0 {
		t.Errorf("cookies sent without MSPAuthCookie: %v", req.Cookies)
	}

	if m.OwnerEmail != "alice@example.com" {
		t.Errorf("OwnerEmail = %q", m.OwnerEmail)
	}
	emails := func(role Role) string {
		var out []string
		for _, mem := range m.Role(role) {
			if mem.Email != "" {
				out = append(out, mem.Email)
			} else {
				out = append(out, "circle:"+mem.CircleID)
			}
		}
		return strings.Join(out, ",")
	}
	for role, want := range map[Role]string{
		RoleAllow:   "bob@example.com,carol@example.com",
		RoleBlock:   "dave@example.com,circle:00000000-0000-0000-0009-0123456789ab",
		RoleReverse: "bob@example.com",
		RolePending: "eve@example.com",
	} {
		if got := emails(role); got != want {
			t.Errorf("%s = %q, want %q", role, got, want)
		}
	}
	bob := m.Role(RoleAllow)[0]
	if bob.MembershipID != "Allow/b0b0b0b0-0000-4000-8000-000000000002" || bob.CID != "123456789" || bob.Type != "Passport" {
		t.Errorf("bob = %+v", bob)
	}
	if !m.Has(RoleReverse, "BOB@example.com") || m.Has(RoleBlock, "bob@example.com") {
		t.Error("Has gives wrong answers")
	}
}

func TestABFindAll(t *testing.T) {
	c, f := newTestClient(t, map[string]reply{"ABFindAll": {200, abFindAllResponse}})
	ab, err := c.ABFindAll(testCtx(t))
	if err != nil {
		t.Fatalf("ABFindAll: %v", err)
	}
	req := f.last()
	if req.Path != "/abservice/abservice.asmx" || req.field("abId") != zeroABID || req.field("deltasOnly") != "false" {
		t.Errorf("request path %q abId %q deltasOnly %q", req.Path, req.field("abId"), req.field("deltasOnly"))
	}
	if ab.ABID != zeroABID || ab.OwnerEmail != "alice@example.com" {
		t.Errorf("ab id %q owner %q", ab.ABID, ab.OwnerEmail)
	}
	if ab.Me == nil || ab.Me.DisplayName != "Alice <3" || ab.Me.Annotations["MSN.IM.BLP"] != "2" {
		t.Fatalf("Me = %+v", ab.Me)
	}
	if len(ab.Groups) != 1 || ab.Groups[0].Name != "Friends & Family" || !ab.Groups[0].IsFavorite {
		t.Errorf("groups = %+v", ab.Groups)
	}
	if len(ab.Contacts) != 2 {
		t.Fatalf("contacts = %+v, want bob and carol", ab.Contacts)
	}
	bob, ok := ab.Contact("Bob@Example.com")
	if !ok {
		t.Fatal("bob missing")
	}
	want := Contact{ID: "b0b0b0b0-0000-4000-8000-000000000002", Type: ContactRegular, Email: "bob@example.com",
		DisplayName: "Bob", QuickName: "Bob", NickName: "Bobby", CID: "123456789", IsMessengerUser: true}
	if bob.ID != want.ID || bob.Type != want.Type || bob.Email != want.Email || bob.DisplayName != want.DisplayName ||
		bob.NickName != want.NickName || bob.CID != want.CID || !bob.IsMessengerUser {
		t.Errorf("bob = %+v, want %+v", bob, want)
	}
	if len(bob.GroupIDs) != 1 || bob.GroupIDs[0] != ab.Groups[0].ID {
		t.Errorf("bob's groups = %v", bob.GroupIDs)
	}
}

func TestABFindContactsPaged(t *testing.T) {
	c, f := newTestClient(t, map[string]reply{"ABFindContactsPaged": {200, abFindContactsPagedResponse}})
	ab, err := c.ABFindContactsPaged(testCtx(t))
	if err != nil {
		t.Fatalf("ABFindContactsPaged: %v", err)
	}
	if got := f.last().field("DeltasOnly"); got != "false" {
		t.Errorf("DeltasOnly = %q", got)
	}
	if ab.Me == nil || ab.Me.Email != "alice@example.com" {
		t.Errorf("Me = %+v", ab.Me)
	}
	if len(ab.Contacts) != 2 || ab.Contacts[0].Email != "bob@example.com" || ab.Contacts[1].Type != ContactCircle {
		t.Errorf("contacts = %+v", ab.Contacts)
	}
	if len(ab.Groups) != 1 || ab.OwnerEmail != "alice@example.com" {
		t.Errorf("groups %+v owner %q", ab.Groups, ab.OwnerEmail)
	}
	if !strings.HasPrefix(ab.CircleTicket, `<?xml version="1.0" encoding="utf-16"?><SignedTicket`) {
		t.Errorf("circle ticket = %q", ab.CircleTicket)
	}
}

func TestABContactAddAndDelete(t *testing.T) {
	c, f := newTestClient(t, map[string]reply{
		"ABContactAdd":    {200, abContactAddResponse},
		"ABContactDelete": {200, emptyResponse("ABContactDelete")},
	})
	ctx := testCtx(t)
	const email = "o'brien&co@example.com"
	id, err := c.ABContactAdd(ctx, email)
	if err != nil {
		t.Fatalf("ABContactAdd: %v", err)
	}
	if id != "f00df00d-0000-4000-8000-000000000009" {
		t.Errorf("contact id = %q", id)
	}
	req := f.last()
	if req.field("passportName") != email || req.field("isMessengerUser") != "true" || req.field("contactType") != "LivePending" {
		t.Errorf("server read passportName %q isMessengerUser %q contactType %q",
			req.field("passportName"), req.field("isMessengerUser"), req.field("contactType"))
	}
	if bytes.Contains(req.Raw, []byte(email)) {
		t.Error("email sent without XML escaping")
	}
	if err := c.ABContactDelete(ctx, id); err != nil {
		t.Fatalf("ABContactDelete: %v", err)
	}
	if got := f.last().field("contactId"); got != id {
		t.Errorf("deleted contactId = %q", got)
	}
}

func TestMembers(t *testing.T) {
	c, f := newTestClient(t, map[string]reply{
		"AddMember":    {200, emptyResponse("AddMember")},
		"DeleteMember": {500, abFault("DeleteMember", FaultMemberDoesNotExist, "Member does not exist")},
	})
	ctx := testCtx(t)
	if err := c.AddMember(ctx, RoleBlock, "bob@example.com"); err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	req := f.last()
	if req.Path != "/abservice/SharingService.asmx" || req.field("MemberRole") != "Block" ||
		req.field("PassportName") != "bob@example.com" || req.field("State") != "Accepted" {
		t.Errorf("AddMember request: path %q role %q name %q state %q", req.Path, req.field("MemberRole"), req.field("PassportName"), req.field("State"))
	}
	if len(req.XSITypes) != 1 || req.XSITypes[0] != "PassportMember" {
		t.Errorf("xsi:type = %v, want PassportMember", req.XSITypes)
	}
	err := c.DeleteMember(ctx, RolePending, "eve@example.com", "")
	if !IsFault(err, FaultMemberDoesNotExist) {
		t.Fatalf("DeleteMember: err = %v, want a MemberDoesNotExist fault", err)
	}
	var fault *Fault
	if errors.As(err, &fault); fault.HTTPStatus != 500 || fault.Action != "DeleteMember" {
		t.Errorf("fault = %+v", fault)
	}
	if got := f.last().field("MembershipId"); got != "" {
		t.Errorf("MembershipId %q sent without one given", got)
	}
	const memberID = "Pending/00000000-0000-0000-0002-000000000005"
	_ = c.DeleteMember(ctx, RolePending, "eve@example.com", memberID)
	if req := f.last(); req.field("MembershipId") != memberID || req.field("PassportName") != "eve@example.com" {
		t.Errorf("DeleteMember by id sent MembershipId %q, PassportName %q", req.field("MembershipId"), req.field("PassportName"))
	}
	if err := c.DeleteMember(ctx, RolePending, "eve@example.com", "x</MembershipId><Evil/>\x00"); err == nil {
		t.Error("membership id that XML cannot carry accepted")
	}
	if err := c.AddMember(ctx, Role("Friends"), "bob@example.com"); err == nil {
		t.Error("unknown role accepted")
	}
}

func TestGroups(t *testing.T) {
	c, f := newTestClient(t, map[string]reply{
		"ABGroupAdd":           {200, abGroupAddResponse},
		"ABGroupUpdate":        {200, emptyResponse("ABGroupUpdate")},
		"ABGroupContactAdd":    {200, emptyResponse("ABGroupContactAdd")},
		"ABGroupContactDelete": {200, emptyResponse("ABGroupContactDelete")},
		"ABGroupDelete":        {200, emptyResponse("ABGroupDelete")},
	})
	ctx := testCtx(t)
	id, err := c.ABGroupAdd(ctx, "Work <stuff>")
	if err != nil || id != "9a9a9a9a-0000-4000-8000-00000000a002" {
		t.Fatalf("ABGroupAdd = %q, %v", id, err)
	}
	if got := f.last().field("name"); got != "Work <stuff>" {
		t.Errorf("group name read by server = %q", got)
	}
	if err := c.ABGroupUpdate(ctx, id, "Job"); err != nil {
		t.Fatalf("ABGroupUpdate: %v", err)
	}
	if req := f.last(); req.field("groupId") != id || req.field("name") != "Job" || req.field("propertiesChanged") != "GroupName" {
		t.Errorf("ABGroupUpdate request fields: %v", req.Fields)
	}
	if err := c.ABGroupContactAdd(ctx, id, "b0b0"); err != nil {
		t.Fatalf("ABGroupContactAdd: %v", err)
	}
	if req := f.last(); req.field("guid") != id || req.field("contactId") != "b0b0" {
		t.Errorf("ABGroupContactAdd request fields: %v", req.Fields)
	}
	if err := c.ABGroupContactDelete(ctx, id, "b0b0"); err != nil {
		t.Fatalf("ABGroupContactDelete: %v", err)
	}
	if err := c.ABGroupDelete(ctx, id); err != nil {
		t.Fatalf("ABGroupDelete: %v", err)
	}
	if _, err := c.ABGroupAdd(ctx, strings.Repeat("x", 62)); err == nil {
		t.Error("over-long group name accepted")
	}
	if _, err := c.ABGroupAdd(ctx, " "); err == nil {
		t.Error("blank group name accepted")
	}
}

func TestFaultsAndStatuses(t *testing.T) {
	tests := []struct {
		name     string
		rep      reply
		fault    string // expected ErrorCode, "" for no *Fault
		rejected bool   // errors.Is(err, ErrTicketRejected)
		mentions string
	}{
		{"full sync HTTP 200", reply{200, abFault("ABFindAll", FaultFullSyncRequired, "Full sync required.  Details: Delta syncs disabled.")}, FaultFullSyncRequired, false, "Full sync required"},
		{"unsupported HTTP 200", reply{200, abFault("ABFindAll", "Forbidden", "API ABFindAll no longer supported")}, "Forbidden", false, "no longer supported"},
		{"generic fault HTTP 500", reply{500, genericFault}, "", false, "Generic SOAP fault"},
		{"bare 500", reply{500, ""}, "", false, "HTTP 500"},
		{"unknown ticket 403", reply{403, ""}, "", true, "HTTP 403"},
		{"html 403", reply{403, "<html><body>403: Forbidden</body></html>"}, "", true, "HTTP 403"},
		{"doctype", reply{200, `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`}, "", false, "document type"},
		{"garbage", reply{200, "not xml at all <"}, "", false, "parse response"},
		{"too large", reply{200, soapEnvelope(strings.Repeat(" ", maxBody))}, "", false, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newTestClient(t, map[string]reply{"ABFindAll": tc.rep})
			ab, err := c.ABFindAll(testCtx(t))
			if err == nil {
				t.Fatalf("got %+v, want an error", ab)
			}
			var fault *Fault
			isFault := errors.As(err, &fault)
			if isFault != (tc.fault != "" || strings.Contains(tc.name, "fault")) {
				t.Errorf("err %v: is *Fault = %v", err, isFault)
			}
			if tc.fault != "" && !IsFault(err, tc.fault) {
				t.Errorf("err %v: want fault code %s", err, tc.fault)
			}
			if errors.Is(err, ErrTicketRejected) != tc.rejected {
				t.Errorf("err %v: errors.Is(ErrTicketRejected) = %v", err, !tc.rejected)
			}
			if !strings.Contains(err.Error(), tc.mentions) {
				t.Errorf("err %q does not mention %q", err, tc.mentions)
			}
		})
	}
}

func TestBadInputNeverSent(t *testing.T) {
	c, f := newTestClient(t, map[string]reply{})
	ctx := testCtx(t)
	for _, email := range []string{"", "bob", "bob@example.com\r\nX: y", "bo b@example.com", "bob\x00@example.com"} {
		if _, err := c.ABContactAdd(ctx, email); err == nil {
			t.Errorf("ABContactAdd(%q) accepted", email)
		}
		if err := c.AddMember(ctx, RoleAllow, email); err == nil {
			t.Errorf("AddMember(%q) accepted", email)
		}
	}
	if err := c.ABContactDelete(ctx, ""); err == nil {
		t.Error("ABContactDelete with empty id accepted")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) != 0 {
		t.Errorf("%d requests reached the server", len(f.reqs))
	}
}

func TestTicketHandling(t *testing.T) {
	f := &fakeABCH{t: t, replies: map[string]reply{"FindMembership": {200, findMembershipResponse}}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	ticket := ""
	c, err := New(Config{
		HTTPClient:        srv.Client(),
		ABServiceURL:      srv.URL + "/abservice/abservice.asmx",
		SharingServiceURL: srv.URL + "/abservice/SharingService.asmx",
		Ticket:            func() string { return ticket },
		MSPAuthCookie:     true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if _, err := c.FindMembership(ctx); !errors.Is(err, ErrNoTicket) {
		t.Fatalf("without ticket: err = %v, want ErrNoTicket", err)
	}

	ticket = "0123456789abcdef0123" // Escargot Tweener token
	if _, err := c.FindMembership(ctx); err != nil {
		t.Fatalf("FindMembership: %v", err)
	}
	req := f.last()
	if req.field("TicketToken") != ticket || req.Cookies["MSPAuth"] != ticket {
		t.Errorf("TicketToken %q cookie %v, want both %q", req.field("TicketToken"), req.Cookies, ticket)
	}

	ticket = "t=AbC+/1&p=XyZ*2" // Microsoft Tweener ticket
	if _, err := c.FindMembership(ctx); err != nil {
		t.Fatalf("FindMembership: %v", err)
	}
	req = f.last()
	if req.field("TicketToken") != ticket || req.Cookies["MSPAuth"] != "AbC+/1" || req.Cookies["MSPProf"] != "XyZ*2" {
		t.Errorf("TicketToken %q cookies %v", req.field("TicketToken"), req.Cookies)
	}
}

func TestNewValidates(t *testing.T) {
	ok := Config{HTTPClient: http.DefaultClient, ABServiceURL: "https://h/abservice/abservice.asmx",
		SharingServiceURL: "https://h/abservice/SharingService.asmx", Ticket: func() string { return "x" }}
	if _, err := New(ok); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"no client": func(c *Config) { c.HTTPClient = nil },
		"no ticket": func(c *Config) { c.Ticket = nil },
		"no ab url": func(c *Config) { c.ABServiceURL = "" },
		"ftp url":   func(c *Config) { c.SharingServiceURL = "ftp://h/x" },
	} {
		cfg := ok
		mutate(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
