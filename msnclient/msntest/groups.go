package msntest

import "github.com/mautrix-msn/mautrix-msn/msnclient/msnp"

func (sess *nsSession) cmdADG(cmd *msnp.Command) bool {
	trid := cmd.Arg(0)
	name := msnp.CleanText(msnp.DecodeParam(cmd.Arg(1)))
	a := sess.acct
	if len(name) > maxGroupName {
		sess.sendError(229, trid)
		return false
	}
	if name == "" {
		sess.sendError(201, trid)
		return false
	}
	if a.groupByName(name) != nil {
		sess.sendError(228, trid)
		return false
	}
	g := &group{id: msnp.NewUUID(), num: a.nextGroupNum(), name: name}
	a.groups = append(a.groups, g)
	a.listVer++
	if sess.dialect <= 9 {
		sess.send("ADG", trid, itoa(a.listVer), msnp.EncodeParam(name), itoa(g.num), "0")
	} else {
		sess.send("ADG", trid, msnp.EncodeParam(name), g.id, "0")
	}
	return false
}

func (a *account) nextGroupNum() int {
	n := 1
	for _, g := range a.groups {
		if g.num >= n {
			n = g.num + 1
		}
	}
	return n
}

func (sess *nsSession) cmdRMG(cmd *msnp.Command) bool {
	trid, id := cmd.Arg(0), cmd.Arg(1)
	a := sess.acct
	if id == "0" {
		if sess.dialect <= 9 {
			sess.sendError(230, trid)
		} else {
			sess.sendError(224, trid)
		}
		return false
	}
	g := a.group(id)
	if g == nil {
		g = a.groupByName(msnp.DecodeParam(id)) // MSN 7.0 quirk: the name instead of the id
	}
	if g == nil {
		sess.sendError(224, trid)
		return false
	}
	a.deleteGroup(g)
	if sess.dialect <= 9 {
		sess.send("RMG", trid, itoa(a.listVer), itoa(g.num))
	} else {
		sess.send("RMG", trid, "1", g.id)
	}
	return false
}

func (a *account) deleteGroup(g *group) {
	out := a.groups[:0]
	for _, x := range a.groups {
		if x != g {
			out = append(out, x)
		}
	}
	a.groups = out
	for _, e := range a.contacts {
		e.groups = remove(e.groups, g.id)
	}
	a.listVer++
}

func (sess *nsSession) cmdREG(cmd *msnp.Command) bool {
	trid, id := cmd.Arg(0), cmd.Arg(1)
	name := msnp.CleanText(msnp.DecodeParam(cmd.Arg(2)))
	a := sess.acct
	g := a.group(id)
	if g == nil || id == "0" {
		sess.sendError(224, trid)
		return false
	}
	if len(name) > maxGroupName {
		sess.sendError(229, trid)
		return false
	}
	if name == "" {
		sess.sendError(201, trid)
		return false
	}
	if other := a.groupByName(name); other != nil && other != g {
		sess.sendError(228, trid)
		return false
	}
	g.name = name
	a.listVer++
	if sess.dialect <= 9 {
		sess.send("REG", trid, itoa(a.listVer), itoa(g.num), msnp.EncodeParam(name), "0")
	} else {
		sess.send("REG", trid, "1", msnp.EncodeParam(name), g.id, "0")
	}
	return false
}
