package msntest

import (
	"net/http"
	"strings"
)

// SOAP side of circles: the CircleResult of ABFindContactsPaged, a
// circle's own address book, CreateCircle (sharing), CreateContact,
// ManageWLConnection and BreakConnection (abservice).

// Wire values of membership states and roles (RelationshipState,
// RelationshipRole).
var (
	circleStateValue = map[string]string{circleWaiting: "1", circleAccepted: "3"}
	circleRoleValue  = map[string]string{CircleAdmin: "1", CircleAssistantAdmin: "2", CircleMember: "3"}
)

// circleResultXML is the CircleResult element of a's default address
// book: one CircleInverseInfo per circle a is in or invited to, and the
// circle ticket (XML-escaped, surrounded by whitespace as Escargot's
// template leaves it).
func (s *Server) circleResultXML(a *account) string {
	var b strings.Builder
	b.WriteString(`<CircleResult>`)
	circles := s.circles.of(a)
	if len(circles) > 0 {
		b.WriteString(`<Circles>`)
		for _, c := range circles {
			m := c.members[key(a.email)]
			b.WriteString(`<CircleInverseInfo><Content><Handle><Id>` + c.id + `</Id></Handle><Info><Domain>1</Domain><HostedDomain>live.com</HostedDomain><Type>2</Type>` +
				`<MembershipAccess>0</MembershipAccess><IsPresenceEnabled>true</IsPresenceEnabled><RequestMembershipOption>2</RequestMembershipOption>` +
				`<DisplayName>` + esc(c.name) + `</DisplayName><ProfileLastUpdated>0001-01-01T00:00:00</ProfileLastUpdated><Changes /><CreateDate>0001-01-01T00:00:00</CreateDate>` +
				`<LastChanged>0001-01-01T00:00:00</LastChanged></Info></Content><PersonalInfo><MembershipInfo><CirclePersonalMembership><Role>` + m.role +
				`</Role><State>` + m.state + `</State></CirclePersonalMembership></MembershipInfo><Name>` + esc(c.name) +
				`</Name><IsNotMobileVisible>false</IsNotMobileVisible><IsFavorite>false</IsFavorite><IsFamily>false</IsFamily><Changes /></PersonalInfo><Deleted>false</Deleted></CircleInverseInfo>`)
		}
		b.WriteString(`</Circles>`)
	}
	b.WriteString("<CircleTicket>\n\t\t\t\t\t" + esc(s.circles.ticket(a)) + "\n\t\t\t\t\t</CircleTicket></CircleResult>")
	return b.String()
}

// circleContactsXML is the hidden Circle contact of each of a's circles in
// a's default address book, with the invitation's inviter.
func (s *Server) circleContactsXML(a *account, now string) string {
	var b strings.Builder
	for _, c := range s.circles.of(a) {
		m := c.members[key(a.email)]
		upper := circleIDPrefix + strings.ToUpper(strings.TrimPrefix(c.id, circleIDPrefix))
		b.WriteString(`<Contact><contactId>` + c.id + `</contactId><contactInfo><contactType>Circle</contactType><quickName>` + esc(c.name) +
			`</quickName><passportName>` + upper + `@hotmail.com</passportName><IsPassportNameHidden>true</IsPassportNameHidden><displayName>` + esc(c.name) +
			`</displayName><puid>0</puid><CID>0</CID><isMessengerUser>true</isMessengerUser><NetworkInfoList><NetworkInfo><DomainId>1</DomainId><SourceId>WL</SourceId>` +
			`<DomainTag>` + c.id + `</DomainTag><DisplayName>` + esc(c.name) + `</DisplayName><RelationshipType>5</RelationshipType><RelationshipState>` +
			circleStateValue[m.state] + `</RelationshipState><RelationshipRole>` + circleRoleValue[m.role] + `</RelationshipRole>`)
		if m.inviter != "" {
			inviter := s.accounts[key(m.inviter)]
			name := m.inviter
			if inviter != nil {
				name = inviter.name
			}
			b.WriteString(`<InviterName>` + esc(name) + `</InviterName><InviterEmail>` + esc(m.inviter) + `</InviterEmail>`)
			if m.message != "" {
				b.WriteString(`<InviterMessage>` + esc(m.message) + `</InviterMessage>`)
			}
		}
		b.WriteString(`</NetworkInfo></NetworkInfoList></contactInfo><propertiesChanged /><fDeleted>false</fDeleted><lastChange>` + now + `</lastChange></Contact>`)
	}
	return b.String()
}

// circleAddressBook answers ABFindContactsPaged for a circle's address
// book: its members, each with its state and role. Only members (and
// invitees) may read it.
func (s *Server) circleAddressBook(w http.ResponseWriter, req *soapRequest, id string) {
	c := s.circles.get(id)
	if c == nil || c.members[key(req.acct.email)] == nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	now := abDate()
	var b strings.Builder
	b.WriteString(`<ABFindContactsPagedResponse xmlns="http://www.msn.com/webservices/AddressBook"><ABFindContactsPagedResult><Contacts>`)
	for _, k := range sortedMemberKeys(c) {
		m, u := c.members[k], s.accounts[k]
		if u == nil {
			continue
		}
		ctype := "Live"
		switch {
		case u == req.acct:
			ctype = "Me"
		case m.state != circleAccepted:
			ctype = "LivePending"
		}
		b.WriteString(`<Contact><contactId>` + u.uuid + `</contactId><contactInfo><contactType>` + ctype + `</contactType><quickName>` + esc(u.name) +
			`</quickName><passportName>` + esc(u.email) + `</passportName><IsPassportNameHidden>false</IsPassportNameHidden><displayName>` + esc(u.name) +
			`</displayName><puid>0</puid><CID>` + u.cid() + `</CID><isMessengerUser>true</isMessengerUser><NetworkInfoList><NetworkInfo><DomainId>1</DomainId>` +
			`<SourceId>WL</SourceId><DomainTag>` + c.id + `</DomainTag><DisplayName>` + esc(u.name) + `</DisplayName><RelationshipType>5</RelationshipType><RelationshipState>` +
			circleStateValue[m.state] + `</RelationshipState><RelationshipRole>` + circleRoleValue[m.role] + `</RelationshipRole></NetworkInfo></NetworkInfoList></contactInfo>` +
			`<propertiesChanged /><fDeleted>false</fDeleted><lastChange>` + now + `</lastChange></Contact>`)
	}
	b.WriteString(`</Contacts><CircleResult><CircleTicket>` + esc(s.circles.ticket(req.acct)) + `</CircleTicket></CircleResult><Ab><abId>` + c.id +
		`</abId><abInfo><OwnerCID>0</OwnerCID><ownerEmail></ownerEmail><fDefault>false</fDefault><joinedNamespace>false</joinedNamespace><AddressBookType>Group</AddressBookType></abInfo>` +
		`<lastChange>` + now + `</lastChange></Ab></ABFindContactsPagedResult></ABFindContactsPagedResponse>`)
	writeXML(w, http.StatusOK, soapEnvelope(b.String()))
}

func sortedMemberKeys(c *circle) []string {
	keys := make([]string, 0, len(c.members))
	for k := range c.members {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

// createCircle handles CreateCircle (sharing service): the caller becomes
// the Admin of a new circle.
func (s *Server) createCircle(w http.ResponseWriter, req *soapRequest) {
	act := req.action
	name := act.find("DisplayName").text()
	if strings.TrimSpace(name) == "" || act.find("Domain").text() != "1" || act.find("HostedDomain").text() != "live.com" || act.find("Type").text() != "2" {
		writeFault(w, http.StatusInternalServerError, "CreateCircle", "InvalidArgument", "Invalid circle properties")
		return
	}
	c := s.circles.create(name, req.acct.email)
	s.circleAcceptedLocked(c, req.acct)
	writeXML(w, http.StatusOK, soapEnvelope(`<CreateCircleResponse xmlns="http://www.msn.com/webservices/AddressBook"><CreateCircleResult><Id>`+
		c.id+`</Id></CreateCircleResult></CreateCircleResponse>`))
}

// createContact handles CreateContact into a circle's address book (the
// first half of an invitation): it answers the contact's id in the circle.
// Only Admin and AssistantAdmin may add people.
func (s *Server) createContact(w http.ResponseWriter, req *soapRequest) {
	c := s.circles.get(req.action.find("ABId").text())
	email := req.action.find("Email").text()
	u := s.accounts[key(email)]
	switch {
	case c == nil:
		writeFault(w, http.StatusInternalServerError, "CreateContact", "ABDoesNotExist", "Address book does not exist")
		return
	case !mayInvite(c, req.acct):
		writeFault(w, http.StatusInternalServerError, "CreateContact", "Forbidden", "Not allowed to invite to this circle")
		return
	case u == nil || u == req.acct:
		writeFault(w, http.StatusInternalServerError, "CreateContact", "InvalidPassportUser", "Invalid passport user")
		return
	}
	writeXML(w, http.StatusOK, soapEnvelope(`<CreateContactResponse xmlns="http://www.msn.com/webservices/AddressBook"><CreateContactResult><contactId>`+
		u.uuid+`</contactId><contactInfo><contactType>LivePending</contactType><passportName>`+esc(u.email)+`</passportName><displayName>`+esc(u.name)+
		`</displayName></contactInfo><propertiesChanged /><fDeleted>false</fDeleted><lastChange>`+abDate()+`</lastChange></CreateContactResult></CreateContactResponse>`))
}

func mayInvite(c *circle, a *account) bool {
	m := c.acceptedMember(a)
	return m != nil && (m.role == CircleAdmin || m.role == CircleAssistantAdmin)
}

// manageWLConnection handles ManageWLConnection: with a circle's abHandle,
// inviting a contact created there; on one's own address book with the
// circle as contactId, accepting (action 1) or declining (action 2) an
// invitation.
func (s *Server) manageWLConnection(w http.ResponseWriter, req *soapRequest) {
	const action = "ManageWLConnection"
	act := req.action
	if act.find("relationshipType").text() != "5" {
		writeFault(w, http.StatusInternalServerError, action, "InvalidArgument", "Invalid relationship type")
		return
	}
	contactID := act.find("contactId").text()
	if abID := act.find("ABId").text(); abID != "" && abID != zeroABID {
		c := s.circles.get(abID)
		u := s.accountByUUID(contactID)
		switch {
		case c == nil:
			writeFault(w, http.StatusInternalServerError, action, "ABDoesNotExist", "Address book does not exist")
			return
		case !mayInvite(c, req.acct):
			writeFault(w, http.StatusInternalServerError, action, "Forbidden", "Not allowed to invite to this circle")
			return
		case u == nil || u == req.acct || act.find("action").text() != "1" || act.find("connection").text() != "true":
			writeFault(w, http.StatusInternalServerError, action, "InvalidArgument", "Invalid invitation")
			return
		}
		if old := c.members[key(u.email)]; old == nil || old.state != circleAccepted {
			m := &circleMember{email: u.email, role: CircleMember, state: circleWaiting, inviter: req.acct.email}
			for _, an := range act.findAll("Annotation") {
				if an.child("Name").text() == "MSN.IM.InviteMessage" {
					m.message = an.child("Value").text()
				}
			}
			c.members[key(u.email)] = m
			s.notifyCircleChangedLocked(c, u.email)
		}
		writeXML(w, http.StatusOK, soapEnvelope(`<ManageWLConnectionResponse xmlns="http://www.msn.com/webservices/AddressBook" />`))
		return
	}
	c := s.circles.get(contactID)
	var m *circleMember
	if c != nil {
		m = c.members[key(req.acct.email)]
	}
	if m == nil || m.state != circleWaiting {
		writeFault(w, http.StatusInternalServerError, action, "ContactDoesNotExist", "No such invitation")
		return
	}
	switch act.find("action").text() {
	case "1":
		s.circleAcceptedLocked(c, req.acct)
	case "2":
		delete(c.members, key(req.acct.email))
		s.notifyCircleChangedLocked(c, req.acct.email)
	default:
		writeFault(w, http.StatusInternalServerError, action, "InvalidArgument", "Invalid action")
		return
	}
	writeXML(w, http.StatusOK, soapEnvelope(`<ManageWLConnectionResponse xmlns="http://www.msn.com/webservices/AddressBook" />`))
}

// breakConnection handles BreakConnection: leaving a circle (ABId = the
// circle, contactId = one's own id in it).
func (s *Server) breakConnection(w http.ResponseWriter, req *soapRequest) {
	const action = "BreakConnection"
	c := s.circles.get(req.action.find("ABId").text())
	if c == nil || c.members[key(req.acct.email)] == nil {
		writeFault(w, http.StatusInternalServerError, action, "ABDoesNotExist", "Address book does not exist")
		return
	}
	if !strings.EqualFold(req.action.find("contactId").text(), req.acct.uuid) {
		writeFault(w, http.StatusInternalServerError, action, "ContactDoesNotExist", "Contact does not exist")
		return
	}
	s.removeCircleMemberLocked(c, key(req.acct.email))
	writeXML(w, http.StatusOK, soapEnvelope(`<BreakConnectionResponse xmlns="http://www.msn.com/webservices/AddressBook" />`))
}
