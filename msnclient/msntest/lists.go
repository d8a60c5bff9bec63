package msntest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

func itoa(n int) string { return strconv.Itoa(n) }

// addToList adds bits (FL/AL/BL) for b to a's lists, maintaining b's RL/PL
// and notifying b when it was added to a's FL. It returns an MSNP error code
// (210 list full) or 0. Bits already set are ignored. Server.mu must be held.
func (s *Server) addToList(a, b *account, bits uint8) int {
	e := a.contacts[key(b.email)]
	old := uint8(0)
	if e != nil {
		old = e.lists
	}
	add := bits &^ old
	for _, bit := range []uint8{ListFL, ListAL, ListBL} {
		if add&bit != 0 && a.countList(bit) >= listLimits[bit] {
			return 210
		}
	}
	if add == 0 {
		return 0
	}
	if e == nil {
		e = &contactEntry{}
		a.contacts[key(b.email)] = e
	}
	e.lists |= add
	if add&(ListAL|ListBL) != 0 {
		e.lists &^= ListPL // allowing or blocking answers a pending request
	}
	a.listVer++
	if add&ListFL != 0 {
		r := b.contacts[key(a.email)]
		if r == nil {
			r = &contactEntry{}
			b.contacts[key(a.email)] = r
		}
		if r.lists&ListRL == 0 {
			r.lists |= ListRL
			if r.lists&(ListAL|ListBL) == 0 {
				r.lists |= ListPL
			}
			b.listVer++
			s.notifyAddedMe(b, a)
		}
	}
	if add&(ListAL|ListBL) != 0 {
		s.presenceTo(a, b)
	}
	return 0
}

// removeFromList removes bits (FL/AL/BL) for b from a's lists. Removing FL
// also removes b from a's groups and a from b's RL/PL, notifying b.
// Server.mu must be held.
func (s *Server) removeFromList(a, b *account, bits uint8) {
	e := a.contacts[key(b.email)]
	if e == nil || e.lists&bits == 0 {
		return
	}
	rm := e.lists & bits
	e.lists &^= rm
	a.listVer++
	if rm&ListFL != 0 {
		e.groups = nil
		if r := b.contacts[key(a.email)]; r != nil && r.lists&(ListRL|ListPL) != 0 {
			r.lists &^= ListRL | ListPL
			if r.lists == 0 {
				delete(b.contacts, key(a.email))
			}
			b.listVer++
			s.notifyRemovedMe(b, a)
		}
	}
	if e.lists == 0 {
		delete(a.contacts, key(b.email))
	}
	if rm&(ListAL|ListBL) != 0 {
		s.presenceTo(a, b)
	}
}

// notifyAddedMe tells b's sessions that a added them (ADD/ADC 0 RL or ADL 0,
// then NOT).
func (s *Server) notifyAddedMe(b, a *account) {
	for _, sess := range s.sessionsOf(b) {
		switch {
		case sess.dialect <= 9:
			sess.send("ADD", "0", "RL", itoa(b.listVer), a.email, msnp.EncodeParam(a.name))
		case sess.dialect <= 12:
			sess.send("ADC", "0", "RL", "N="+a.email, "F="+msnp.EncodeParam(a.name))
		default:
			local, domain, _ := strings.Cut(a.email, "@")
			ml := fmt.Sprintf(`<ml><d n="%s"><c n="%s" t="1" l="8" f="%s" /></d></ml>`, esc(domain), esc(local), esc(msnp.EncodeParam(a.name)))
			sess.sendPayload("ADL", []byte(ml), "0")
		}
		sess.sendPayload("NOT", abchNotification(b))
	}
}

func (s *Server) notifyRemovedMe(b, a *account) {
	for _, sess := range s.sessionsOf(b) {
		switch {
		case sess.dialect <= 9:
			sess.send("REM", "0", "RL", itoa(b.listVer), a.email)
		case sess.dialect <= 12:
			sess.send("REM", "0", "RL", a.email)
		default:
			local, domain, _ := strings.Cut(a.email, "@")
			ml := fmt.Sprintf(`<ml><d n="%s"><c n="%s" t="1" l="8" /></d></ml>`, esc(domain), esc(local))
			sess.sendPayload("RML", []byte(ml), "0")
		}
		sess.sendPayload("NOT", abchNotification(b))
	}
}

func abchNotification(a *account) []byte {
	cid := uint64(a.cidInt())
	body := esc(fmt.Sprintf(`<NotificationData xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Service>ABCHInternal</Service><CID>%d</CID><LastModifiedDate>%s</LastModifiedDate><HasNewItem>false</HasNewItem></NotificationData>`, int64(cid), abDate()))
	return []byte(fmt.Sprintf(`<NOTIFICATION id="0" siteid="45705" siteurl="http://contacts.msn.com"><TO pid="0x%08x:0x%08x" name="%s"><VIA agent="messenger" /></TO><MSG id="0"><SUBSCR url="s.htm" /><ACTION url="a.htm" /><BODY>%s</BODY></MSG></NOTIFICATION>`, uint32(cid), uint32(cid>>32), esc(a.email), body))
}

func (s *Server) accountByUUID(id string) *account {
	for _, a := range s.accounts {
		if strings.EqualFold(a.uuid, id) {
			return a
		}
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func remove(list []string, v string) []string {
	out := list[:0]
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
