package msntest

import (
	"strconv"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// wireLists is the bit mask sent in LST: PL replaces RL for pending
// contacts (MSNP11+); older dialects have no PL.
func wireLists(lists uint8, dialect int) uint8 {
	if dialect < 11 {
		return lists &^ ListPL
	}
	if lists&ListPL != 0 {
		return lists &^ ListRL
	}
	return lists
}

const synTimestamp = "2000-01-01T00:00:00.0-00:00"

func (sess *nsSession) cmdSYN(cmd *msnp.Command) bool {
	trid := cmd.Arg(0)
	if sess.dialect >= 13 {
		sess.sendError(502, trid)
		return false
	}
	s, a := sess.s, sess.acct
	sess.synDone = true
	keys := sortedKeys(a.contacts)
	if sess.dialect <= 9 {
		ser, _ := strconv.Atoi(cmd.Arg(1))
		sess.send("SYN", trid, itoa(ser+1), itoa(len(keys)), itoa(len(a.groups)+1))
		sess.send("GTC", a.gtc)
		sess.send("BLP", a.blp)
		sess.send("LSG", "0", "Other%20Contacts", "0")
		for _, g := range a.groups {
			sess.send("LSG", itoa(g.num), msnp.EncodeParam(g.name), "0")
		}
		for _, k := range keys {
			e, c := a.contacts[k], s.accounts[k]
			gids := []string{}
			for _, gid := range e.groups {
				if g := a.group(gid); g != nil {
					gids = append(gids, itoa(g.num))
				}
			}
			if len(gids) == 0 {
				gids = []string{"0"}
			}
			sess.send("LST", c.email, msnp.EncodeParam(c.name), itoa(int(wireLists(e.lists, sess.dialect))), strings.Join(gids, ","))
		}
		return false
	}
	sess.send("SYN", trid, synTimestamp, synTimestamp, itoa(len(keys)), itoa(len(a.groups)))
	sess.send("GTC", a.gtc)
	sess.send("BLP", a.blp)
	sess.send("PRP", "MFN", msnp.EncodeParam(a.name))
	for _, g := range a.groups {
		sess.send("LSG", msnp.EncodeParam(g.name), g.id)
	}
	for _, k := range keys {
		e, c := a.contacts[k], s.accounts[k]
		line := "LST N=" + c.email + " F=" + msnp.EncodeParam(c.name)
		if e.lists&ListFL != 0 {
			line += " C=" + c.uuid
		}
		line += " " + itoa(int(wireLists(e.lists, sess.dialect)))
		if sess.dialect >= 12 {
			line += " 1"
		}
		line += " " + strings.Join(e.groups, ",")
		sess.sendRaw(line)
	}
	return false
}

func sortedKeys(m map[string]*contactEntry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

func listBit(name string) uint8 {
	switch name {
	case "FL":
		return ListFL
	case "AL":
		return ListAL
	case "BL":
		return ListBL
	case "RL":
		return ListRL
	case "PL":
		return ListPL
	}
	return 0
}

// cmdADD is MSNP8-9: ADD t LIST email name [gid].
func (sess *nsSession) cmdADD(cmd *msnp.Command) bool {
	if sess.dialect >= 10 {
		return true
	}
	trid, list, email := cmd.Arg(0), cmd.Arg(1), cmd.Arg(2)
	bit := listBit(list)
	if bit == 0 || bit == ListRL || bit == ListPL {
		return true
	}
	s, a := sess.s, sess.acct
	c := s.accounts[key(email)]
	if c == nil || c == a {
		sess.sendError(205, trid)
		return false
	}
	gid := cmd.Arg(4)
	e := a.contacts[key(c.email)]
	known := e != nil
	if e != nil && e.lists&bit != 0 {
		if bit != ListFL || gid == "" {
			sess.sendError(215, trid)
			return false
		}
		// add an FL contact to a group
		g := a.group(gid)
		if g == nil || gid == "0" {
			sess.sendError(224, trid)
			return false
		}
		if contains(e.groups, g.id) {
			sess.sendError(215, trid)
			return false
		}
		e.groups = append(e.groups, g.id)
		a.listVer++
		sess.send("ADD", trid, "FL", itoa(a.listVer), c.email, msnp.EncodeParam(c.name), gid)
		return false
	}
	var g *group
	if bit == ListFL && gid != "" && gid != "0" {
		if g = a.group(gid); g == nil {
			sess.sendError(224, trid)
			return false
		}
	}
	if code := s.addToList(a, c, bit); code != 0 {
		sess.sendError(code, trid)
		return false
	}
	args := []string{trid, list, itoa(a.listVer), c.email, msnp.EncodeParam(c.name)}
	if bit != ListFL {
		args[4] = c.email
	}
	if g != nil {
		a.contacts[key(c.email)].groups = []string{g.id}
		args = append(args, gid)
	} else if bit == ListFL && gid == "0" {
		args = append(args, "0")
	}
	sess.send("ADD", args...)
	if bit == ListFL && known && sess.chgDone {
		if st := s.statusFor(c, a); st != "FLN" {
			sess.sendPresence(c, st, trid)
		}
	}
	return false
}

// cmdADC is MSNP10-12.
func (sess *nsSession) cmdADC(cmd *msnp.Command) bool {
	if sess.dialect < 10 || sess.dialect >= 13 {
		return true
	}
	trid, list := cmd.Arg(0), cmd.Arg(1)
	bit := listBit(list)
	if bit == 0 || bit == ListPL {
		return true
	}
	s, a := sess.s, sess.acct
	if bit == ListRL && sess.dialect < 11 {
		return true
	}
	var email, cguid string
	for _, arg := range cmd.Args[2:] {
		switch {
		case strings.HasPrefix(arg, "N="):
			email = arg[2:]
		case strings.HasPrefix(arg, "C="):
			cguid = arg[2:]
		}
	}
	if cguid != "" && bit == ListFL {
		// ADC t FL C=guid groupguid: add to a group
		gguid := cmd.Arg(3)
		c := s.accountByUUID(cguid)
		if c == nil {
			sess.sendError(208, trid)
			return false
		}
		e := a.contacts[key(c.email)]
		g := a.group(gguid)
		if e == nil || e.lists&ListFL == 0 {
			sess.sendError(216, trid)
			return false
		}
		if g == nil {
			sess.sendError(224, trid)
			return false
		}
		if contains(e.groups, g.id) {
			sess.sendError(215, trid)
			return false
		}
		e.groups = append(e.groups, g.id)
		sess.send("ADC", trid, "FL", "C="+c.uuid, g.id)
		return false
	}
	if !strings.Contains(email, "@") {
		sess.sendError(201, trid)
		return false
	}
	c := s.accounts[key(email)]
	if c == nil || c == a {
		sess.sendError(208, trid)
		return false
	}
	e := a.contacts[key(c.email)]
	known := e != nil
	if bit == ListRL {
		if e == nil || e.lists&ListPL == 0 {
			return true
		}
		sess.send("ADC", trid, "RL", "N="+c.email)
		return false
	}
	if e != nil && e.lists&bit != 0 {
		sess.sendError(215, trid)
		return false
	}
	if code := s.addToList(a, c, bit); code != 0 {
		sess.sendError(code, trid)
		return false
	}
	if bit == ListFL {
		if g := a.group(cmd.Arg(4)); g != nil && cmd.Arg(4) != "" {
			a.contacts[key(c.email)].groups = []string{g.id}
		}
		sess.send("ADC", trid, "FL", "N="+c.email, "F="+msnp.EncodeParam(c.name), "C="+c.uuid)
		if known && sess.chgDone {
			if st := s.statusFor(c, a); st != "FLN" {
				sess.sendPresence(c, st, trid)
			}
		}
		return false
	}
	sess.send("ADC", trid, list, "N="+c.email)
	return false
}

func (sess *nsSession) cmdREM(cmd *msnp.Command) bool {
	trid, list, who, gid := cmd.Arg(0), cmd.Arg(1), cmd.Arg(2), cmd.Arg(3)
	bit := listBit(list)
	if bit == 0 || bit == ListRL || (bit == ListPL && sess.dialect < 11) {
		return true
	}
	s, a := sess.s, sess.acct
	var c *account
	if bit == ListFL && sess.dialect >= 10 {
		if guidRe.FindString(who) == "" {
			sess.sendError(403, trid)
			return false
		}
		c = s.accountByUUID(strings.Trim(who, "{}"))
	} else {
		c = s.accounts[key(who)]
	}
	unknown := 205
	if sess.dialect >= 10 {
		unknown = 208
	}
	if c == nil {
		sess.sendError(unknown, trid)
		return false
	}
	e := a.contacts[key(c.email)]
	if e == nil || e.lists&bit == 0 {
		sess.sendError(216, trid)
		return false
	}
	ser := func() []string {
		if sess.dialect <= 9 {
			return []string{itoa(a.listVer)}
		}
		return nil
	}
	if bit == ListPL {
		e.lists &^= ListPL
		sess.send("REM", trid, "PL", c.email)
		return false
	}
	if bit == ListFL && gid != "" && !(sess.dialect <= 9 && gid == "0") {
		g := a.group(gid)
		if g == nil {
			sess.sendError(224, trid)
			return false
		}
		if !contains(e.groups, g.id) {
			sess.sendError(225, trid)
			return false
		}
		e.groups = remove(e.groups, g.id)
		a.listVer++
		sess.send("REM", append(append([]string{trid, "FL"}, ser()...), who, gid)...)
		return false
	}
	s.removeFromList(a, c, bit)
	sess.send("REM", append(append([]string{trid, list}, ser()...), who)...)
	return false
}

func (sess *nsSession) cmdBLP(cmd *msnp.Command) bool {
	trid, v := cmd.Arg(0), cmd.Arg(1)
	if v != "AL" && v != "BL" {
		return true
	}
	a := sess.acct
	if a.blp == v && sess.dialect < 13 {
		sess.sendError(218, trid)
		return false
	}
	a.blp = v
	sess.sendSetting("BLP", trid, v)
	for _, k := range sortedKeys(a.contacts) {
		if c := sess.s.accounts[k]; c != nil {
			sess.s.presenceTo(a, c)
		}
	}
	return false
}

// sendSetting confirms a BLP/GTC change, with the new list version up to
// MSNP9.
func (sess *nsSession) sendSetting(name, trid, v string) {
	sess.acct.listVer++
	if sess.dialect <= 9 {
		sess.send(name, trid, itoa(sess.acct.listVer), v)
	} else {
		sess.send(name, trid, v)
	}
}

func (sess *nsSession) cmdGTC(cmd *msnp.Command) bool {
	trid, v := cmd.Arg(0), cmd.Arg(1)
	if sess.dialect >= 13 || (v != "A" && v != "N") {
		return true
	}
	a := sess.acct
	if a.gtc == v {
		sess.sendError(218, trid)
		return false
	}
	a.gtc = v
	sess.sendSetting("GTC", trid, v)
	return false
}

// cmdSBP (MSNP10-12) renames a contact; Escargot echoes it.
func (sess *nsSession) cmdSBP(cmd *msnp.Command) bool {
	if sess.dialect < 10 || len(cmd.Args) < 4 {
		return false
	}
	sess.send("SBP", cmd.Args[:4]...)
	return false
}
