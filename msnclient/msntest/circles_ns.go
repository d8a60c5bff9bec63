package msntest

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Notification-server side of circles: USR SHA, the circle ADL/RML, PUT,
// SDG, presence with via= and the NFY notifications.

// cmdUSRSHA handles "USR trid SHA A <base64 ticket>" (MSNP18): the ticket
// must be byte for byte the one the server would issue now, else 911.
// Below MSNP18 the connection is closed, as Escargot does.
func (sess *nsSession) cmdUSRSHA(cmd *msnp.Command) bool {
	if sess.dialect < 18 {
		return true
	}
	trid, stage := cmd.Arg(0), cmd.Arg(2)
	a := sess.acct
	if a == nil || stage != "A" {
		return false // Escargot: unhandled error, no reply
	}
	s := sess.s
	want := base64.StdEncoding.EncodeToString([]byte(s.circles.ticket(a)))
	if s.circles.rejectTickets > 0 || cmd.Arg(3) != want {
		if s.circles.rejectTickets > 0 {
			s.circles.rejectTickets--
		}
		sess.sendError(911, trid)
		return false
	}
	sess.circ.authed = true
	sess.send("USR", trid, "OK", a.email, "0", "0")
	for _, c := range s.circles.of(a) {
		if m := c.acceptedMember(a); m != nil && m.fresh {
			sess.sendNewCircle(c)
		}
	}
	return false
}

// circleML handles an ADL or RML whose entries are circles (t="9").
func (sess *nsSession) circleML(trid string, entries []mlEntry, add bool) bool {
	s, a := sess.s, sess.acct
	var circles []*circle
	for _, e := range entries {
		if e.network != "9" {
			sess.sendError(241, trid) // circles and contacts never share an ADL
			return true
		}
		id, domain, _ := strings.Cut(e.email, "@")
		c := s.circles.get(id)
		if !sess.circ.authed || !strings.EqualFold(domain, "live.com") || c == nil || c.acceptedMember(a) == nil {
			sess.sendError(933, trid)
			return false
		}
		circles = append(circles, c)
	}
	if !add {
		for _, c := range circles {
			sess.leaveCircleSession(c)
		}
		sess.send("RML", trid, "OK")
		return false
	}
	sess.send("ADL", trid, "OK")
	for i, c := range circles {
		if entries[i].lists&ListFL == 0 {
			continue // l="4" blocks the circle: nothing flows
		}
		sess.joinCircle(c)
	}
	return false
}

func setFlag(m *map[string]bool, id string, on bool) {
	if on {
		if *m == nil {
			*m = make(map[string]bool)
		}
		(*m)[id] = true
	} else {
		delete(*m, id)
	}
}

// joinCircle joins sess to c after a circle ADL and sends what Escargot
// sends then: a circle NOT, the circle's own presence, the presence of the
// members in it and its roster; the others see us appear.
func (sess *nsSession) joinCircle(c *circle) {
	s, a := sess.s, sess.acct
	was := s.inCircle(c, a)
	setFlag(&sess.circ.adl, c.id, true)
	if sess.circ.initialADL {
		setFlag(&sess.circ.joined, c.id, true)
	}
	if m := c.acceptedMember(a); m != nil {
		m.fresh = false
	}
	sess.sendPayload("NOT", circleNotification(a, c))
	sess.send("NLN", "NLN", circleAddress(c.id), msnp.EncodeParam(c.name), "0:0", msnp.EncodeParamFull("<msnobj/>"))
	for _, other := range s.circleMembersIn(c, a) {
		sess.sendCirclePresence(c, other, s.visibleStatus(other))
	}
	sess.sendNFY("PUT", c, "", circleRosterBlock(s.rosterOf(c, nil)))
	sess.sendNFY("PUT", c, "", circlePropsBlock(c))
	if !was {
		s.circlePresenceChanged(c, a)
	}
}

// leaveCircleSession takes sess out of c (circle RML, or the membership
// ended).
func (sess *nsSession) leaveCircleSession(c *circle) {
	s, a := sess.s, sess.acct
	was := s.inCircle(c, a)
	setFlag(&sess.circ.adl, c.id, false)
	setFlag(&sess.circ.joined, c.id, false)
	setFlag(&sess.circ.inRoster, c.id, false)
	if was && !s.inCircle(c, a) {
		s.circlePresenceChanged(c, a)
	}
}

// inCircle reports whether a has a session in c.
func (s *Server) inCircle(c *circle, a *account) bool {
	for _, sess := range s.sessionsOf(a) {
		if sess.circ.adl[c.id] {
			return true
		}
	}
	return false
}

// circleMembersIn returns the accepted members of c other than skip that
// have a session in it, sorted by email.
func (s *Server) circleMembersIn(c *circle, skip *account) []*account {
	var out []*account
	for k, m := range c.members {
		b := s.accounts[k]
		if b == nil || b == skip || m.state != circleAccepted || !s.inCircle(c, b) {
			continue
		}
		out = append(out, b)
	}
	sortAccounts(out)
	return out
}

func sortAccounts(as []*account) {
	for i := 1; i < len(as); i++ {
		for j := i; j > 0 && key(as[j].email) < key(as[j-1].email); j-- {
			as[j], as[j-1] = as[j-1], as[j]
		}
	}
}

// rosterOf returns the members of c that published themselves in its
// roster (only, when only is not nil).
func (s *Server) rosterOf(c *circle, only *account) []*account {
	var out []*account
	for k, m := range c.members {
		b := s.accounts[k]
		if b == nil || m.state != circleAccepted || (only != nil && b != only) {
			continue
		}
		for _, sess := range s.sessionsOf(b) {
			if sess.circ.inRoster[c.id] {
				out = append(out, b)
				break
			}
		}
	}
	sortAccounts(out)
	return out
}

// circlePresenceChanged tells the other sessions in c a's presence there.
func (s *Server) circlePresenceChanged(c *circle, a *account) {
	status := "FLN"
	if s.inCircle(c, a) {
		status = s.visibleStatus(a)
	}
	for _, sess := range s.joinedSessions(c, nil) {
		if sess.acct != a {
			sess.sendCirclePresence(c, a, status)
		}
	}
}

// broadcastCirclePresence sends a's new presence into every circle a is in
// (called by broadcastPresence).
func (s *Server) broadcastCirclePresence(a *account) {
	for _, c := range s.circles.of(a) {
		if c.acceptedMember(a) != nil && (s.inCircle(c, a) || len(s.sessionsOf(a)) == 0) {
			s.circlePresenceChanged(c, a)
		}
	}
}

// sendCirclePresence sends a's presence in c: NLN and UBX with via=, or FLN.
func (sess *nsSession) sendCirclePresence(c *circle, a *account, status string) {
	who := "1:" + a.email + ";via=" + circleAddress(c.id)
	if status == "FLN" {
		sess.send("FLN", who, "0:0")
		return
	}
	caps, capsex := splitCaps(a.caps)
	obj := a.msnobj
	if obj == "" {
		obj = "<msnobj/>"
	}
	sess.send("NLN", status, who, msnp.EncodeParam(a.name), caps+":"+capsex, msnp.EncodeParamFull(obj))
	sess.sendPayload("UBX", []byte(sess.s.ubxPayload(a, 18, false)), who)
}

// circleNotification is the circle variant of the ABCH NOT.
func circleNotification(a *account, c *circle) []byte {
	cid := uint64(a.cidInt())
	body := esc(`<NotificationData xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Service>ABCHInternal</Service><CID>` +
		a.cid() + `</CID><LastModifiedDate>` + abDate() + `</LastModifiedDate><HasNewItem>true</HasNewItem><CircleId>` + c.id + `</CircleId></NotificationData>`)
	return []byte(`<NOTIFICATION id="0" siteid="45705" siteurl="http://contacts.msn.com"><TO pid="0x` + hex8(uint32(cid)) + `:0x` + hex8(uint32(cid>>32)) +
		`" name="` + esc(a.email) + `"><VIA agent="messenger" /></TO><MSG id="0"><SUBSCR url="s.htm" /><ACTION url="a.htm" /><BODY>` + body + `</BODY></MSG></NOTIFICATION>`)
}

func hex8(v uint32) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b)
}

// sendNFY sends "NFY <verb>" from circle c with the third block (and body)
// given; toEPID adds ";epid=" to To.
func (sess *nsSession) sendNFY(verb string, c *circle, toEPID string, block string) {
	to := "1:" + sess.acct.email
	if toEPID != "" {
		to += ";epid=" + toEPID
	}
	var b strings.Builder
	b.WriteString("Routing: 1.0\r\nTo: " + to + "\r\nFrom: " + circleAddress(c.id) + "\r\n\r\n")
	b.WriteString(block)
	sess.sendPayload("NFY", []byte(b.String()), verb)
}

func circleRosterBlock(users []*account) string {
	var body strings.Builder
	body.WriteString("<circle><roster><id>IM</id>")
	for _, u := range users {
		body.WriteString("<user><id>1:" + esc(u.email) + "</id></user>")
	}
	body.WriteString("</roster></circle>")
	return "Reliability: 1.0\r\n\r\nPublication: 1.0\r\nUri: /circle\r\nNotifType: Partial\r\nContent-Type: application/circles+xml\r\nContent-Length: " +
		itoa(body.Len()) + "\r\n\r\n" + body.String()
}

func circlePropsBlock(c *circle) string {
	body := "<circle><props><presence dtype=\"xml\"><Data><UTL></UTL><MFN>" + esc(c.name) + "</MFN><PSM>" + esc(c.psm) +
		"</PSM><CurrentMedia>" + esc(c.media) + "</CurrentMedia></Data></presence></props></circle>"
	return "Reliability: 1.0\r\nStream: 1\r\nSegment: 0\r\n\r\nPublication: 1.0\r\nUri: /circle\r\nNotifType: Full\r\nContent-Type: application/circles+xml\r\nContent-Length: " +
		itoa(len(body)) + "\r\n\r\n" + body
}

// sendNewCircle announces a circle the session should join.
func (sess *nsSession) sendNewCircle(c *circle) {
	epid := ""
	if sess.machineGUID != "" {
		epid = "{" + sess.machineGUID + "}"
	}
	sess.sendNFY("PUT", c, epid, "Reliability: 1.0\r\n\r\nNotification: 1.0\r\nNotifNum: 0\r\nUri: /circle\r\nNotifType: Full\r\nContent-Length: 0\r\n\r\n")
}

// sendMemberLeft sends NFY DEL for a member who left c.
func (sess *nsSession) sendMemberLeft(c *circle, email string) {
	sess.sendNFY("DEL", c, "", "Reliability: 1.0\r\n\r\nNotification: 1.0\r\nNotifNum: 2\r\nUri: /circle/roster(IM)/user(1:"+email+")\r\nNotifType: Partial\r\nContent-Length: 0\r\n\r\n")
}

// mimeBlocks splits a PUT/SDG payload into its three header blocks and
// the body. ok is false when it does not have three blocks.
func mimeBlocks(payload []byte) (blocks [3]map[string]string, body []byte, ok bool) {
	rest := payload
	for i := range blocks {
		end := bytes.Index(rest, []byte("\r\n\r\n"))
		if end < 0 {
			if i == 2 {
				end = len(rest)
			} else {
				return blocks, nil, false
			}
		}
		blocks[i] = make(map[string]string)
		for _, line := range strings.Split(string(rest[:end]), "\r\n") {
			name, value, found := strings.Cut(line, ":")
			if !found {
				return blocks, nil, false
			}
			blocks[i][strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(value)
		}
		if end+4 > len(rest) {
			rest = nil
		} else {
			rest = rest[end+4:]
		}
	}
	return blocks, rest, true
}

// cmdPUT handles PUT /circle: publishing ourselves in a circle's roster or
// the circle's PSM.
func (sess *nsSession) cmdPUT(cmd *msnp.Command) bool {
	if sess.dialect < 18 {
		return false
	}
	trid := cmd.Arg(0)
	blocks, body, ok := mimeBlocks(cmd.Payload)
	if !ok {
		sess.sendError(201, trid)
		return false
	}
	to := blocks[0]["to"]
	if !strings.HasPrefix(to, "9:") {
		return false // not a circle: no reply
	}
	s, a := sess.s, sess.acct
	c := s.parseCircleAddress(to)
	if c == nil || !sess.circ.joined[c.id] {
		sess.sendError(201, trid)
		return false
	}
	var doc struct {
		Roster *struct {
			Users []string `xml:"user>id"`
		} `xml:"roster"`
		Props *struct {
			PSM   *string `xml:"presence>Data>PSM"`
			Media *string `xml:"presence>Data>CurrentMedia"`
		} `xml:"props"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil || (doc.Roster == nil && doc.Props == nil) {
		sess.sendError(201, trid)
		return false
	}
	if doc.Roster != nil {
		for _, u := range doc.Roster.Users {
			if !strings.EqualFold(strings.TrimSpace(u), "1:"+a.email) {
				sess.sendError(201, trid)
				return false
			}
		}
		first := len(s.rosterOf(c, a)) == 0
		setFlag(&sess.circ.inRoster, c.id, true)
		sess.send("PUT", trid, "OK", "0")
		if first {
			for _, other := range s.joinedSessions(c, sess) {
				if other.acct != a {
					other.sendNFY("PUT", c, "", circleRosterBlock([]*account{a}))
				}
			}
		}
		return false
	}
	if doc.Props.PSM != nil {
		c.psm = msnp.CleanText(*doc.Props.PSM)
	}
	if doc.Props.Media != nil {
		c.media = msnp.CleanText(*doc.Props.Media)
	}
	sess.send("PUT", trid, "OK", "0")
	for _, other := range s.joinedSessions(c, sess) {
		other.sendNFY("PUT", c, "", circlePropsBlock(c))
	}
	return false
}

// cmdSDG relays a circle message to every other endpoint in the circle.
func (sess *nsSession) cmdSDG(cmd *msnp.Command) bool {
	if sess.dialect < 18 {
		return false
	}
	trid := cmd.Arg(0)
	blocks, _, ok := mimeBlocks(cmd.Payload)
	if !ok {
		sess.sendError(201, trid)
		return false
	}
	to := blocks[0]["to"]
	if !strings.HasPrefix(to, "9:") {
		return false // no 1:1 SDG messaging in Escargot: ignored
	}
	s, a := sess.s, sess.acct
	addr, path, _ := strings.Cut(to, ";")
	c := s.parseCircleAddress(addr)
	if c == nil || path != "path=IM" || !sess.circ.adl[c.id] || c.acceptedMember(a) == nil || !sess.ownFrom(blocks[0]["from"]) {
		sess.sendError(201, trid)
		return false
	}
	for _, other := range s.joinedSessions(c, sess) {
		other.sendPayload("SDG", cmd.Payload, "0")
	}
	return false
}

// ownFrom reports whether from is exactly "1:<email>;epid={<guid>}" of sess.
func (sess *nsSession) ownFrom(from string) bool {
	want := "1:" + sess.acct.email + ";epid={" + sess.machineGUID + "}"
	return sess.machineGUID != "" && len(from) == len(want) &&
		from[:len(want)-len(sess.machineGUID)-2] == want[:len(want)-len(sess.machineGUID)-2] &&
		strings.EqualFold(from, want)
}

// endCircleSession tells the circles a closed session was in that its
// account left them, when no other session of the account is still there
// (a last session's sign-out goes through broadcastPresence).
func (s *Server) endCircleSession(sess *nsSession) {
	a := sess.acct
	if len(s.sessionsOf(a)) == 0 {
		return
	}
	for id := range sess.circ.adl {
		if c := s.circles.get(id); c != nil && !s.inCircle(c, a) {
			s.circlePresenceChanged(c, a)
		}
	}
}
