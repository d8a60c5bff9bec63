package msntest

import (
	"encoding/xml"
	"sort"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

var validStatus = map[string]bool{"NLN": true, "BSY": true, "IDL": true, "BRB": true, "AWY": true, "PHN": true, "LUN": true, "HDN": true}

func sortSessions(ss []*nsSession) {
	sort.Slice(ss, func(i, j int) bool { return ss[i].loginSeq < ss[j].loginSeq })
}

// visibleStatus is the status contacts see: FLN when offline, before the
// first CHG, or hidden. Server.mu must be held.
func (s *Server) visibleStatus(a *account) string {
	if a.status == "" || a.status == "HDN" || len(s.sessionsOf(a)) == 0 {
		return "FLN"
	}
	return a.status
}

// isBlocking reports whether a hides from b (Escargot _is_blocking).
func isBlocking(a, b *account) bool {
	if e := a.contacts[key(b.email)]; e != nil {
		if e.lists&ListBL != 0 {
			return true
		}
		if e.lists&ListAL != 0 {
			return false
		}
	}
	return a.blp == "BL"
}

// statusFor is a's status as b sees it.
func (s *Server) statusFor(a, b *account) string {
	if isBlocking(a, b) {
		return "FLN"
	}
	return s.visibleStatus(a)
}

func splitCaps(caps string) (string, string) {
	if caps == "" {
		return "0", "0"
	}
	c, ex, ok := strings.Cut(caps, ":")
	if !ok {
		return c, "0"
	}
	return c, ex
}

// sendPresence sends to sess the presence of a with the given status: an
// ILN (trid != "") or NLN line plus UBX (MSNP11+), or an FLN line.
func (sess *nsSession) sendPresence(a *account, status, trid string) {
	d := sess.dialect
	if status == "FLN" {
		if trid != "" {
			return
		}
		switch {
		case d >= 18:
			sess.send("FLN", "1:"+a.email, "0:0")
		case d >= 16:
			sess.send("FLN", a.email, "1", "0:0")
		case d >= 14:
			sess.send("FLN", a.email, "1", "0")
		default:
			sess.send("FLN", a.email)
		}
		return
	}
	var head []string
	switch {
	case trid == "":
		head = []string{"NLN"}
	case d >= 18 && !sess.s.opts.Microsoft:
		head = []string{"NLN"} // Escargot quirk 20
	default:
		head = []string{"ILN", trid}
	}
	caps, capsex := splitCaps(a.caps)
	var rest []string
	if d >= 16 {
		rest = append(rest, caps+":"+capsex)
	} else {
		rest = append(rest, caps)
	}
	if d >= 9 {
		obj := a.msnobj
		if obj == "" {
			obj = "<msnobj/>"
		}
		rest = append(rest, msnp.EncodeParamFull(obj))
	}
	name := msnp.EncodeParam(a.name)
	var args []string
	switch {
	case d >= 18:
		args = append(append(head[1:], status, "1:"+a.email, name), rest...)
	case d >= 14:
		args = append(append(head[1:], status, a.email, "1", name), rest...)
	default:
		args = append(append(head[1:], status, a.email, name), rest...)
	}
	sess.send(head[0], args...)
	if d >= 11 {
		sess.sendUBX(a)
	}
}

// sendUBX sends a's PSM/media/endpoint data in sess's dialect.
func (sess *nsSession) sendUBX(a *account) {
	d := sess.dialect
	payload := []byte(sess.s.ubxPayload(a, d, sess.acct == a))
	switch {
	case d >= 18:
		sess.sendPayload("UBX", payload, "1:"+a.email)
	case d >= 14:
		sess.sendPayload("UBX", payload, a.email, "1")
	default:
		sess.sendPayload("UBX", payload, a.email)
	}
}

func xmlText(s string, dialect int) string {
	if dialect < 13 {
		return esc(s)
	}
	s = strings.ReplaceAll(s, "&", "&#x26;")
	if dialect >= 16 {
		s = strings.NewReplacer("<", "&#x3C;", ">", "&#x3E;", "=", "&#x3D;", `\`, "&#x5C;").Replace(s)
	} else {
		s = strings.NewReplacer("<", "&#x3C;", ">", "&#x3E;").Replace(s)
	}
	return s
}

// ubxPayload builds the UBX data of a as Escargot does (misc.py).
func (s *Server) ubxPayload(a *account, dialect int, self bool) string {
	var b strings.Builder
	b.WriteString("<Data><PSM>" + xmlText(a.psm, dialect) + "</PSM><CurrentMedia>" + xmlText(a.media, dialect) + "</CurrentMedia>")
	sessions := s.sessionsOf(a)
	var first *nsSession
	if len(sessions) > 0 {
		first = sessions[0]
	}
	if dialect >= 13 && first != nil && first.machineGUID != "" {
		b.WriteString("<MachineGuid>{" + first.machineGUID + "}</MachineGuid>")
	}
	if dialect >= 16 {
		if dialect >= 18 {
			b.WriteString("<DDP></DDP>")
		}
		b.WriteString("<SignatureSound></SignatureSound>")
		if dialect >= 18 {
			b.WriteString("<Scene></Scene><ColorScheme></ColorScheme>")
		}
		for _, other := range sessions {
			if other.machineGUID == "" {
				continue
			}
			caps, capsex := splitCaps(other.caps)
			b.WriteString(`<EndpointData id="{` + other.machineGUID + `}"><Capabilities>` + caps + ":" + capsex + "</Capabilities></EndpointData>")
		}
		if self {
			for _, other := range sessions {
				if other.machineGUID == "" {
					continue
				}
				b.WriteString(`<PrivateEndpointData id="{` + other.machineGUID + `}">`)
				if other.epName != "" {
					b.WriteString("<EpName>" + xmlText(other.epName, dialect) + "</EpName>")
				}
				if other.idle != "" {
					b.WriteString("<Idle>" + xmlText(other.idle, dialect) + "</Idle>")
				}
				if other.clientType != "" {
					b.WriteString("<ClientType>" + xmlText(other.clientType, dialect) + "</ClientType>")
				}
				if other.epState != "" {
					b.WriteString("<State>" + other.epState + "</State>")
				}
				b.WriteString("</PrivateEndpointData>")
			}
		}
	}
	b.WriteString("</Data>")
	return b.String()
}

// broadcastPresence tells everyone watching a (a on their FL, after their
// first CHG) a's current presence, and echoes it to a's own MSNP16+
// sessions. Server.mu must be held.
func (s *Server) broadcastPresence(a *account) {
	for sess := range s.sessions {
		if sess.gone || sess.acct == nil || !sess.chgDone {
			continue
		}
		b := sess.acct
		if b == a {
			if sess.dialect >= 16 && a.status != "" {
				if !s.opts.Microsoft {
					sess.sendPresence(a, s.visibleStatus(a), "")
				} else {
					sess.sendUBX(a)
				}
			}
			continue
		}
		e := b.contacts[key(a.email)]
		if e == nil || e.lists&ListFL == 0 {
			continue
		}
		sess.sendPresence(a, s.statusFor(a, b), "")
	}
	s.broadcastCirclePresence(a)
}

// presenceTo sends a's presence to b's sessions that watch a (after a list
// change that may change visibility).
func (s *Server) presenceTo(a, b *account) {
	e := b.contacts[key(a.email)]
	if e == nil || e.lists&ListFL == 0 {
		return
	}
	for _, sess := range s.sessionsOf(b) {
		if sess.chgDone {
			sess.sendPresence(a, s.statusFor(a, b), "")
		}
	}
}

// initialPresence sends the ILN (or NLN) burst for every visible FL contact.
func (sess *nsSession) initialPresence(trid string) {
	s := sess.s
	me := sess.acct
	keys := make([]string, 0, len(me.contacts))
	for k := range me.contacts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if me.contacts[k].lists&ListFL == 0 {
			continue
		}
		c := s.accounts[k]
		if c == nil {
			continue
		}
		if st := s.statusFor(c, me); st != "FLN" {
			sess.sendPresence(c, st, trid)
		}
	}
}

func (sess *nsSession) cmdCHG(cmd *msnp.Command) bool {
	trid, status := cmd.Arg(0), cmd.Arg(1)
	if status == "FLN" {
		sess.sendError(201, trid)
		return false
	}
	if !validStatus[status] {
		return true
	}
	caps := cmd.Arg(2)
	if caps == "" || !validCaps(caps, sess.dialect) {
		return false // Escargot: silent
	}
	a := sess.acct
	obj := ""
	hasObj := len(cmd.Args) > 3 && sess.dialect >= 9
	if hasObj {
		obj = msnp.DecodeParam(cmd.Args[3])
	}
	onlyObj := sess.chgDone && a.status == status && a.caps == caps
	if hasObj {
		sess.send("CHG", trid, status, caps, msnp.EncodeParamFull(obj))
	} else {
		sess.send("CHG", trid, status, caps)
	}
	a.status, a.caps, sess.caps = status, caps, caps
	if hasObj {
		a.msnobj = obj
	}
	if !sess.chgDone {
		sess.chgDone = true
		sess.initialPresence(trid)
		if sess.dialect >= 11 {
			sess.sendPayload("MSG", sess.s.initialMailData(a), "Hotmail", "Hotmail")
		}
		onlyObj = false
	}
	if !onlyObj { // Escargot quirk 37: a new MSNObject alone is not passed on
		sess.s.broadcastPresence(a)
	}
	sess.s.notifyChanged()
	return false
}

func validCaps(caps string, dialect int) bool {
	isNum := func(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }
	c, ex, hasEx := strings.Cut(caps, ":")
	if !hasEx {
		return isNum(c)
	}
	return dialect >= 16 && isNum(c) && isNum(ex)
}

func (sess *nsSession) cmdPRP(cmd *msnp.Command) bool {
	trid, prop := cmd.Arg(0), cmd.Arg(1)
	if prop == "MFN" {
		if sess.dialect < 10 {
			sess.sendError(715, trid)
			return false
		}
		name := msnp.CleanText(msnp.DecodeParam(cmd.Arg(2)))
		if name == "" {
			sess.sendError(201, trid)
			return false
		}
		sess.acct.name = name
		sess.send("PRP", trid, "MFN", msnp.EncodeParam(name))
		sess.s.broadcastPresence(sess.acct)
		return false
	}
	args := []string{trid}
	if sess.dialect < 10 {
		sess.acct.listVer++
		args = append(args, itoa(sess.acct.listVer))
	}
	args = append(args, prop)
	if v := cmd.Arg(2); v != "" {
		args = append(args, v)
	}
	sess.send("PRP", args...)
	return false
}

func (sess *nsSession) cmdREA(cmd *msnp.Command) bool {
	trid := cmd.Arg(0)
	if sess.dialect >= 10 {
		sess.sendError(502, trid)
		return false
	}
	email, name := cmd.Arg(1), msnp.CleanText(msnp.DecodeParam(cmd.Arg(2)))
	if name == "" {
		sess.sendError(201, trid)
		return false
	}
	a := sess.acct
	if key(email) != key(a.email) {
		if sess.s.accounts[key(email)] == nil {
			sess.sendError(205, trid)
			return false
		}
		a.listVer++
		sess.send("REA", trid, itoa(a.listVer), email, msnp.EncodeParam(name))
		return false
	}
	a.name = name
	a.listVer++
	sess.send("REA", trid, itoa(a.listVer), a.email, msnp.EncodeParam(name))
	sess.s.broadcastPresence(a)
	return false
}

// uuxData holds the direct children of the UUX root Escargot looks at.
type uuxData struct {
	Children []struct {
		XMLName xml.Name
		Text    string `xml:",chardata"`
		Caps    string `xml:"Capabilities"`
	} `xml:",any"`
}

func (sess *nsSession) cmdUUX(cmd *msnp.Command) bool {
	trid := cmd.Arg(0)
	if sess.dialect < 11 {
		return false
	}
	var d uuxData
	if len(cmd.Payload) > 0 {
		if err := xml.Unmarshal(cmd.Payload, &d); err != nil {
			sess.log.Debug().Err(err).Msg("ignoring malformed UUX")
			return false
		}
	}
	a := sess.acct
	changed := false
	for _, c := range d.Children {
		switch c.XMLName.Local {
		case "PSM":
			v := msnp.CleanText(c.Text)
			changed = changed || a.psm != v
			a.psm = v
		case "CurrentMedia":
			v := msnp.CleanText(c.Text)
			changed = changed || a.media != v
			a.media = v
		case "EpName":
			sess.epName = msnp.CleanText(c.Text)
		case "Idle":
			sess.idle = c.Text
		case "ClientType":
			sess.clientType = c.Text
		case "State":
			if !validStatus[c.Text] {
				return true
			}
			sess.epState = c.Text
		case "EndpointData":
			if c.Caps != "" && validCaps(c.Caps, sess.dialect) {
				sess.caps = c.Caps
			}
		}
	}
	sess.send("UUX", trid, "0")
	if changed && sess.chgDone {
		sess.s.broadcastPresence(a)
	}
	return false
}

func (sess *nsSession) cmdXFR(cmd *msnp.Command) bool {
	trid := cmd.Arg(0)
	if cmd.Arg(1) != "SB" {
		sess.sendError(201, trid)
		return false
	}
	if !sess.chgDone || (sess.acct.status == "HDN" && sess.dialect < 13) {
		sess.sendError(913, trid)
		return false
	}
	addr, cookie := sess.s.newSwitchboardTicket(sess)
	switch {
	case sess.dialect >= 14:
		sess.send("XFR", trid, "SB", addr, "CKI", cookie, "U", "messenger.msn.com", "1")
	case sess.dialect == 13:
		sess.send("XFR", trid, "SB", addr, "CKI", cookie, "U", "messenger.msn.com")
	default:
		sess.send("XFR", trid, "SB", addr, "CKI", cookie)
	}
	return false
}

func sortStrings(s []string) { sort.Strings(s) }
