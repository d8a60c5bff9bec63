package msntest

import (
	"net/http"
	"strings"
)

// handleSharing serves one authenticated request (Server.mu held).
func (s *Server) handleSharing(w http.ResponseWriter, req *soapRequest, action string) {
	switch action {
	case "FindMembership":
		if refusesDeltas(w, req) {
			return
		}
		writeXML(w, http.StatusOK, soapEnvelope(s.findMembership(req.acct)))
	case "AddMember", "DeleteMember":
		s.changeMembers(w, req, action == "AddMember")
	case "CreateCircle":
		s.createCircle(w, req) // circles_soap.go
	default:
		unsupported(w, action)
	}
}

var roleBits = []struct {
	role string
	test func(uint8) bool
}{
	{"Allow", func(l uint8) bool { return l&ListAL != 0 }},
	{"Block", func(l uint8) bool { return l&ListBL != 0 }},
	{"Reverse", func(l uint8) bool { return l&ListRL != 0 && l&ListPL == 0 }},
	{"Pending", func(l uint8) bool { return l&ListPL != 0 }},
}

func (s *Server) findMembership(a *account) string {
	now := abDate()
	keys := sortedKeys(a.contacts)
	var b strings.Builder
	b.WriteString(`<FindMembershipResponse xmlns="http://www.msn.com/webservices/AddressBook"><FindMembershipResult><Services><Service><Memberships>`)
	for _, rb := range roleBits {
		b.WriteString(`<Membership><MemberRole>` + rb.role + `</MemberRole><Members>`)
		for _, k := range keys {
			c := s.accounts[k]
			if c == nil || !rb.test(a.contacts[k].lists) {
				continue
			}
			b.WriteString(`<Member xsi:type="PassportMember"><MembershipId>` + rb.role + `/` + c.uuid + `</MembershipId><Type>Passport</Type><State>Accepted</State><Deleted>false</Deleted>`)
			b.WriteString(`<LastChanged>` + now + `</LastChanged><JoinedDate>` + now + `</JoinedDate><ExpirationDate>0001-01-01T00:00:00</ExpirationDate><Changes />`)
			b.WriteString(`<PassportName>` + esc(c.email) + `</PassportName><IsPassportNameHidden>false</IsPassportNameHidden><PassportId>0</PassportId><CID>` + c.cid() + `</CID><PassportChanges /><LookedupByCID>false</LookedupByCID></Member>`)
		}
		b.WriteString(`</Members><MembershipIsComplete>true</MembershipIsComplete></Membership>`)
	}
	b.WriteString(`</Memberships><Info><Handle><Id>1</Id><Type>Messenger</Type><ForeignId /></Handle><InverseRequired>false</InverseRequired><AuthorizationCriteria>Everyone</AuthorizationCriteria><IsBot>false</IsBot></Info>`)
	b.WriteString(`<Changes /><LastChange>` + now + `</LastChange><Deleted>false</Deleted></Service></Services>`)
	b.WriteString(`<OwnerNamespace><Info><Handle><Id>` + zeroABID + `</Id><IsPassportNameHidden>false</IsPassportNameHidden><CID>0</CID></Handle><CreatorPuid>0</CreatorPuid>`)
	b.WriteString(`<CreatorCID>` + a.cid() + `</CreatorCID><CreatorPassportName>` + esc(a.email) + `</CreatorPassportName><CircleAttributes><IsPresenceEnabled>false</IsPresenceEnabled><Domain>WindowsLive</Domain></CircleAttributes>`)
	b.WriteString(`<MessengerApplicationServiceCreated>false</MessengerApplicationServiceCreated></Info><Changes /><CreateDate>` + now + `</CreateDate><LastChange>` + now + `</LastChange></OwnerNamespace>`)
	b.WriteString(`</FindMembershipResult></FindMembershipResponse>`)
	return b.String()
}

// changeMembers handles AddMember (Allow, Block) and DeleteMember (Allow,
// Block, Pending). AddMember identifies members by PassportName.
// DeleteMember, like Escargot, identifies them only by MembershipId
// ("Role/<contact guid>", from FindMembership) and fails without one; in
// Microsoft mode a PassportName is enough.
func (s *Server) changeMembers(w http.ResponseWriter, req *soapRequest, add bool) {
	action := req.action.XMLName.Local
	a := req.acct
	type change struct {
		c   *account
		bit uint8
	}
	var changes []change
	for _, m := range req.action.findAll("Membership") {
		role := m.child("MemberRole").text()
		var bit uint8
		switch role {
		case "Allow":
			bit = ListAL
		case "Block":
			bit = ListBL
		case "Pending":
			if !add {
				bit = ListPL
			}
		case "Reverse":
			continue
		}
		if bit == 0 {
			writeFault(w, http.StatusInternalServerError, action, "InvalidArgument", "Invalid member role "+role)
			return
		}
		for _, mem := range m.findAll("Member") {
			var c *account
			id, pn := mem.child("MembershipId").text(), mem.child("PassportName").text()
			switch {
			case !add && id != "":
				_, guid, _ := strings.Cut(id, "/")
				c = s.accountByUUID(guid)
			case !add && !s.opts.Microsoft:
				writeXML(w, http.StatusInternalServerError, soapFault("soap:Server", "Exception: no MembershipId", action, ""))
				return
			case pn != "":
				c = s.accounts[key(pn)]
			}
			if c == nil || c == a {
				writeFault(w, http.StatusInternalServerError, action, "UserDoesNotExist", "User does not exist")
				return
			}
			if !add && bit != ListPL { // pending may already be cleared by AddMember
				if e := a.contacts[key(c.email)]; e == nil || e.lists&bit == 0 {
					writeFault(w, http.StatusInternalServerError, action, "MemberDoesNotExist", "Member does not exist")
					return
				}
			}
			changes = append(changes, change{c, bit})
		}
	}
	for _, ch := range changes {
		switch {
		case ch.bit == ListPL:
			if e := a.contacts[key(ch.c.email)]; e != nil {
				e.lists &^= ListPL
			}
			a.memberLog = append(a.memberLog, action+" Pending "+ch.c.email)
		case add:
			if code := s.addToList(a, ch.c, ch.bit); code != 0 {
				writeFault(w, http.StatusInternalServerError, action, "QuotaLimitReached", "List full")
				return
			}
			a.memberLog = append(a.memberLog, action+" "+roleName(ch.bit)+" "+ch.c.email)
		default:
			s.removeFromList(a, ch.c, ch.bit)
			a.memberLog = append(a.memberLog, action+" "+roleName(ch.bit)+" "+ch.c.email)
		}
	}
	writeXML(w, http.StatusOK, soapEnvelope(`<`+action+`Response xmlns="http://www.msn.com/webservices/AddressBook" />`))
}

func roleName(bit uint8) string {
	for _, rb := range roleBits {
		if rb.test(bit) {
			return rb.role
		}
	}
	return ""
}

// MembershipChanges returns the sharing-service changes owner made, in
// order, as "AddMember Block bob@example.com" or "DeleteMember Allow
// bob@example.com" (AddMember of an existing member is logged too, as
// Escargot accepts it silently).
func (s *Server) MembershipChanges(owner string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[key(owner)]; a != nil {
		return append([]string(nil), a.memberLog...)
	}
	return nil
}

// FailNextSOAP makes the next address book or sharing-service call of the
// SOAP action (e.g. "AddMember") answer with a fault carrying errorCode
// (e.g. "MemberAlreadyExists") instead of being processed. Calls queue up.
func (s *Server) FailNextSOAP(action, errorCode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.soapFaults[action] = append(s.soapFaults[action], errorCode)
}

// takeSOAPFault pops a queued fault for action. Server.mu must be held.
func (s *Server) takeSOAPFault(action string) (string, bool) {
	q := s.soapFaults[action]
	if len(q) == 0 {
		return "", false
	}
	if len(q) == 1 {
		delete(s.soapFaults, action)
	} else {
		s.soapFaults[action] = q[1:]
	}
	return q[0], true
}
