package msntest

import (
	"net/http"
	"sort"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// handleABService serves one authenticated request (Server.mu held).
func (s *Server) handleABService(w http.ResponseWriter, req *soapRequest, action string) {
	switch action {
	case "ABFindAll":
		if refusesDeltas(w, req) {
			return
		}
		if id := req.action.find("abId").text(); id != "" && id != zeroABID {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		writeXML(w, http.StatusOK, soapEnvelope(s.abFindAll(req.acct)))
	case "ABFindContactsPaged":
		if refusesDeltas(w, req) {
			return
		}
		if id := req.action.find("ABId").text(); id != "" && id != zeroABID {
			s.circleAddressBook(w, req, id) // circles_soap.go
			return
		}
		writeXML(w, http.StatusOK, soapEnvelope(s.abFindContactsPaged(req.acct)))
	case "ABContactAdd":
		s.abContactAdd(w, req)
	case "ABContactDelete":
		s.abContactDelete(w, req)
	case "ABContactUpdate":
		s.abContactUpdate(w, req)
	case "ABGroupAdd":
		s.abGroupAdd(w, req)
	case "ABGroupUpdate":
		s.abGroupUpdate(w, req)
	case "ABGroupDelete":
		s.abGroupDelete(w, req)
	case "ABGroupContactAdd", "ABGroupContactDelete":
		s.abGroupContact(w, req, action == "ABGroupContactAdd")
	case "CreateContact": // circles_soap.go
		s.createContact(w, req)
	case "ManageWLConnection":
		s.manageWLConnection(w, req)
	case "BreakConnection":
		s.breakConnection(w, req)
	default:
		unsupported(w, action)
	}
}

func (s *Server) groupXML(g *group, now string) string {
	return `<Group><groupId>` + g.id + `</groupId><groupInfo><annotations><Annotation><Name>MSN.IM.Display</Name><Value>1</Value></Annotation></annotations>` +
		`<groupType>c8529ce2-6ead-434d-881f-341e17db3ff8</groupType><name>` + esc(g.name) + `</name><IsNotMobileVisible>false</IsNotMobileVisible><IsPrivate>false</IsPrivate><IsFavorite>false</IsFavorite></groupInfo>` +
		`<propertiesChanged /><fDeleted>false</fDeleted><lastChange>` + now + `</lastChange></Group>`
}

func (s *Server) contactXML(owner *account, c *account, e *contactEntry, now string) string {
	var b strings.Builder
	b.WriteString(`<Contact><contactId>` + c.uuid + `</contactId><contactInfo><contactType>Regular</contactType>`)
	b.WriteString(`<quickName>` + esc(c.name) + `</quickName><passportName>` + esc(c.email) + `</passportName><IsPassportNameHidden>false</IsPassportNameHidden>`)
	b.WriteString(`<displayName>` + esc(c.name) + `</displayName><puid>0</puid>`)
	if len(e.groups) > 0 {
		b.WriteString(`<groupIds>`)
		for _, g := range e.groups {
			b.WriteString(`<guid>` + g + `</guid>`)
		}
		b.WriteString(`</groupIds>`)
	}
	b.WriteString(`<CID>` + c.cid() + `</CID><IsNotMobileVisible>false</IsNotMobileVisible><isMobileIMEnabled>false</isMobileIMEnabled>`)
	b.WriteString(`<isMessengerUser>true</isMessengerUser><isFavorite>false</isFavorite><isSmtp>false</isSmtp><hasSpace>false</hasSpace><spotWatchState>NoDevice</spotWatchState>`)
	b.WriteString(`<birthdate>0001-01-01T00:00:00</birthdate><primaryEmailType>ContactEmailPersonal</primaryEmailType><PrimaryLocation>ContactLocationPersonal</PrimaryLocation>`)
	b.WriteString(`<PrimaryPhone>ContactPhonePersonal</PrimaryPhone><IsPrivate>false</IsPrivate><Gender>Unspecified</Gender><TimeZone>None</TimeZone></contactInfo>`)
	b.WriteString(`<propertiesChanged /><fDeleted>false</fDeleted><lastChange>` + now + `</lastChange></Contact>`)
	return b.String()
}

func (s *Server) meXML(a *account, now string) string {
	gtc, blp := "0", "0"
	switch a.gtc {
	case "A":
		gtc = "1"
	case "N":
		gtc = "2"
	}
	switch a.blp {
	case "AL":
		blp = "1"
	case "BL":
		blp = "2"
	}
	return `<Contact><contactId>` + a.uuid + `</contactId><contactInfo><annotations>` +
		`<Annotation><Name>MSN.IM.MBEA</Name><Value>0</Value></Annotation>` +
		`<Annotation><Name>MSN.IM.GTC</Name><Value>` + gtc + `</Value></Annotation>` +
		`<Annotation><Name>MSN.IM.BLP</Name><Value>` + blp + `</Value></Annotation></annotations>` +
		`<contactType>Me</contactType><quickName>` + esc(a.name) + `</quickName><passportName>` + esc(a.email) + `</passportName><IsPassportNameHidden>false</IsPassportNameHidden>` +
		`<displayName>` + esc(a.name) + `</displayName><puid>0</puid><CID>` + a.cid() + `</CID><IsNotMobileVisible>false</IsNotMobileVisible><isMobileIMEnabled>false</isMobileIMEnabled>` +
		`<isMessengerUser>false</isMessengerUser><isFavorite>false</isFavorite><isSmtp>false</isSmtp><hasSpace>false</hasSpace><spotWatchState>NoDevice</spotWatchState>` +
		`<birthdate>0001-01-01T00:00:00</birthdate><primaryEmailType>ContactEmailPersonal</primaryEmailType><PrimaryLocation>ContactLocationPersonal</PrimaryLocation>` +
		`<PrimaryPhone>ContactPhonePersonal</PrimaryPhone><IsPrivate>false</IsPrivate><Gender>Unspecified</Gender><TimeZone>None</TimeZone></contactInfo>` +
		`<propertiesChanged /><fDeleted>false</fDeleted><lastChange>` + now + `</lastChange></Contact>`
}

// fwdContacts returns a's FL contacts sorted by email.
func (s *Server) fwdContacts(a *account) []*account {
	var out []*account
	for k, e := range a.contacts {
		if e.lists&ListFL != 0 {
			if c := s.accounts[k]; c != nil {
				out = append(out, c)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return key(out[i].email) < key(out[j].email) })
	return out
}

func (s *Server) abInfo(a *account, now string) string {
	return `<abId>` + zeroABID + `</abId><abInfo><ownerPuid>0</ownerPuid><OwnerCID>` + a.cid() + `</OwnerCID><ownerEmail>` + esc(a.email) +
		`</ownerEmail><fDefault>true</fDefault><joinedNamespace>false</joinedNamespace><IsBot>false</IsBot><IsParentManaged>false</IsParentManaged>` +
		`<SubscribeExternalPartner>false</SubscribeExternalPartner><NotifyExternalPartner>false</NotifyExternalPartner><AddressBookType>Individual</AddressBookType>` +
		`<MessengerApplicationServiceCreated>false</MessengerApplicationServiceCreated><IsBetaMigrated>false</IsBetaMigrated><MigratedTo>0</MigratedTo></abInfo>` +
		`<lastChange>` + now + `</lastChange><DynamicItemLastChanged>0001-01-01T00:00:00</DynamicItemLastChanged><createDate>` + now + `</createDate><propertiesChanged />`
}

func (s *Server) abFindAll(a *account) string {
	now := abDate()
	var b strings.Builder
	b.WriteString(`<ABFindAllResponse xmlns="http://www.msn.com/webservices/AddressBook"><ABFindAllResult><groups>`)
	for _, g := range a.groups {
		b.WriteString(s.groupXML(g, now))
	}
	b.WriteString(`</groups><contacts>`)
	for _, c := range s.fwdContacts(a) {
		b.WriteString(s.contactXML(a, c, a.contacts[key(c.email)], now))
	}
	b.WriteString(s.meXML(a, now))
	b.WriteString(`</contacts><ab>` + s.abInfo(a, now) + `</ab></ABFindAllResult></ABFindAllResponse>`)
	return b.String()
}

func (s *Server) abFindContactsPaged(a *account) string {
	now := abDate()
	var b strings.Builder
	b.WriteString(`<ABFindContactsPagedResponse xmlns="http://www.msn.com/webservices/AddressBook"><ABFindContactsPagedResult>`)
	if len(a.groups) > 0 {
		b.WriteString(`<Groups>`)
		for _, g := range a.groups {
			b.WriteString(s.groupXML(g, now))
		}
		b.WriteString(`</Groups>`)
	}
	b.WriteString(`<Contacts>`)
	for _, c := range s.fwdContacts(a) {
		b.WriteString(s.contactXML(a, c, a.contacts[key(c.email)], now))
	}
	b.WriteString(s.circleContactsXML(a, now))
	b.WriteString(s.meXML(a, now))
	b.WriteString(`</Contacts>` + s.circleResultXML(a))
	b.WriteString(`<Ab>` + s.abInfo(a, now) + `</Ab></ABFindContactsPagedResult></ABFindContactsPagedResponse>`)
	return b.String()
}

func (s *Server) abContactAdd(w http.ResponseWriter, req *soapRequest) {
	const action = "ABContactAdd"
	email := req.action.find("passportName").text()
	if email == "" {
		email = req.action.find("email").text()
	}
	if !strings.Contains(email, "@") {
		writeFault(w, http.StatusInternalServerError, action, "EmailMissingAtSign", "Email missing @ sign")
		return
	}
	if !strings.Contains(email[strings.IndexByte(email, '@'):], ".") {
		writeFault(w, http.StatusInternalServerError, action, "EmailMissingDot", "Email missing dot")
		return
	}
	c := s.accounts[key(email)]
	if c == nil || c == req.acct {
		writeFault(w, http.StatusInternalServerError, action, "InvalidPassportUser", "Invalid passport user "+email)
		return
	}
	if e := req.acct.contacts[key(c.email)]; e != nil && e.lists&ListFL != 0 {
		writeFault(w, http.StatusInternalServerError, action, "ContactAlreadyExists", "Contact already exists")
		return
	}
	if code := s.addToList(req.acct, c, ListFL); code != 0 {
		writeFault(w, http.StatusInternalServerError, action, "QuotaLimitReached", "Contact list full")
		return
	}
	writeXML(w, http.StatusOK, soapEnvelope(`<ABContactAddResponse xmlns="http://www.msn.com/webservices/AddressBook"><ABContactAddResult><guid>`+c.uuid+`</guid></ABContactAddResult></ABContactAddResponse>`))
}

func (s *Server) abContactDelete(w http.ResponseWriter, req *soapRequest) {
	var targets []*account
	for _, id := range req.action.findAll("contactId") {
		c := s.accountByUUID(id.text())
		if c == nil {
			writeFault(w, http.StatusInternalServerError, "ABContactDelete", "ContactDoesNotExist", "Contact does not exist")
			return
		}
		targets = append(targets, c)
	}
	for _, c := range targets {
		s.removeFromList(req.acct, c, ListFL)
	}
	writeXML(w, http.StatusOK, soapEnvelope(`<ABContactDeleteResponse xmlns="http://www.msn.com/webservices/AddressBook" />`))
}

// abContactUpdate handles the Me contact's privacy annotations; other
// changes (such as DisplayName, quirk 18) are accepted and ignored.
func (s *Server) abContactUpdate(w http.ResponseWriter, req *soapRequest) {
	a := req.acct
	for _, c := range req.action.findAll("Contact") {
		if c.find("contactType").text() != "Me" {
			continue
		}
		for _, an := range c.findAll("Annotation") {
			v := an.child("Value").text()
			switch an.child("Name").text() {
			case "MSN.IM.BLP":
				switch v {
				case "1":
					a.blp = "AL"
				case "2":
					a.blp = "BL"
				}
			case "MSN.IM.GTC":
				switch v {
				case "1":
					a.gtc = "A"
				case "2":
					a.gtc = "N"
				}
			}
		}
	}
	writeXML(w, http.StatusOK, soapEnvelope(`<ABContactUpdateResponse xmlns="http://www.msn.com/webservices/AddressBook" />`))
}

func (s *Server) abGroupAdd(w http.ResponseWriter, req *soapRequest) {
	const action = "ABGroupAdd"
	a := req.acct
	name := req.action.find("name").text()
	if name == "" || name == "(No Group)" || a.groupByName(name) != nil {
		writeFault(w, http.StatusInternalServerError, action, "GroupAlreadyExists", "Group already exists")
		return
	}
	if len(name) > maxGroupName {
		writeFault(w, http.StatusInternalServerError, action, "GroupNameTooLong", "Group name too long")
		return
	}
	g := &group{id: msnp.NewUUID(), num: a.nextGroupNum(), name: name}
	a.groups = append(a.groups, g)
	a.listVer++
	writeXML(w, http.StatusOK, soapEnvelope(`<ABGroupAddResponse xmlns="http://www.msn.com/webservices/AddressBook"><ABGroupAddResult><guid>`+g.id+`</guid></ABGroupAddResult></ABGroupAddResponse>`))
}

func (s *Server) abGroupUpdate(w http.ResponseWriter, req *soapRequest) {
	a := req.acct
	for _, gn := range req.action.findAll("Group") {
		g := a.group(gn.find("groupId").text())
		if g == nil {
			writeFault(w, http.StatusInternalServerError, "ABGroupUpdate", "GroupDoesNotExist", "Group does not exist")
			return
		}
		if name := gn.find("name").text(); name != "" {
			if len(name) > maxGroupName {
				writeFault(w, http.StatusInternalServerError, "ABGroupUpdate", "GroupNameTooLong", "Group name too long")
				return
			}
			g.name = name
		}
	}
	writeXML(w, http.StatusOK, soapEnvelope(`<ABGroupUpdateResponse xmlns="http://www.msn.com/webservices/AddressBook" />`))
}

func (s *Server) abGroupDelete(w http.ResponseWriter, req *soapRequest) {
	a := req.acct
	for _, id := range req.action.findAll("guid") {
		g := a.group(id.text())
		if g == nil {
			writeFault(w, http.StatusInternalServerError, "ABGroupDelete", "GroupDoesNotExist", "Group does not exist")
			return
		}
		a.deleteGroup(g)
	}
	writeXML(w, http.StatusOK, soapEnvelope(`<ABGroupDeleteResponse xmlns="http://www.msn.com/webservices/AddressBook" />`))
}

func (s *Server) abGroupContact(w http.ResponseWriter, req *soapRequest, add bool) {
	action := req.action.XMLName.Local
	a := req.acct
	var g *group
	if f := req.action.find("groupFilter"); f != nil {
		g = a.group(f.find("guid").text())
	}
	if g == nil {
		writeFault(w, http.StatusInternalServerError, action, "GroupDoesNotExist", "Group does not exist")
		return
	}
	for _, id := range req.action.findAll("contactId") {
		c := s.accountByUUID(id.text())
		var e *contactEntry
		if c != nil {
			e = a.contacts[key(c.email)]
		}
		if e == nil || e.lists&ListFL == 0 {
			writeFault(w, http.StatusInternalServerError, action, "ContactDoesNotExist", "Contact does not exist")
			return
		}
		if add && !contains(e.groups, g.id) {
			e.groups = append(e.groups, g.id)
		} else if !add {
			e.groups = remove(e.groups, g.id)
		}
	}
	if add {
		writeXML(w, http.StatusOK, soapEnvelope(`<ABGroupContactAddResponse xmlns="http://www.msn.com/webservices/AddressBook"><ABGroupContactAddResult><guid>`+g.id+`</guid></ABGroupContactAddResult></ABGroupContactAddResponse>`))
		return
	}
	writeXML(w, http.StatusOK, soapEnvelope(`<ABGroupContactDeleteResponse xmlns="http://www.msn.com/webservices/AddressBook" />`))
}
