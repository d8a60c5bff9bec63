package msntest

import (
	"encoding/xml"
	"fmt"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// mlList is the <ml> payload of ADL, RML and FQY.
type mlList struct {
	XMLName xml.Name `xml:"ml"`
	L       string   `xml:"l,attr"`
	Domains []struct {
		N        *string `xml:"n,attr"`
		Contacts []struct {
			N *string `xml:"n,attr"`
			L *string `xml:"l,attr"`
			T *string `xml:"t,attr"`
		} `xml:"c"`
	} `xml:"d"`
}

type mlEntry struct {
	email   string
	lists   uint8
	network string // "" when t is missing
}

// parseML validates an <ml> payload as Escargot does. On error it returns the
// MSNP error code to send before closing the connection.
func parseML(payload []byte) (initial bool, entries []mlEntry, code int) {
	var ml mlList
	if err := xml.Unmarshal(payload, &ml); err != nil {
		return false, nil, 241
	}
	for _, d := range ml.Domains {
		if d.N == nil || *d.N == "" {
			return false, nil, 241
		}
		if len(d.Contacts) == 0 {
			return false, nil, 240
		}
		for _, c := range d.Contacts {
			if c.N == nil || *c.N == "" {
				return false, nil, 241
			}
			e := mlEntry{email: *c.N + "@" + *d.N}
			if c.L != nil {
				var l int
				if _, err := fmt.Sscan(*c.L, &l); err != nil || l < 0 || l > 255 {
					return false, nil, 241
				}
				if uint8(l)&(ListRL|ListPL) != 0 {
					return false, nil, 241
				}
				e.lists = uint8(l)
			}
			if c.T != nil {
				e.network = *c.T
			}
			entries = append(entries, e)
		}
	}
	return ml.L == "1", entries, 0
}

var validNetworks = map[string]bool{"1": true, "2": true, "4": true, "8": true, "16": true, "32": true}

func (sess *nsSession) cmdADL(cmd *msnp.Command) bool {
	return sess.listXML(cmd, true)
}

func (sess *nsSession) cmdRML(cmd *msnp.Command) bool {
	return sess.listXML(cmd, false)
}

func (sess *nsSession) listXML(cmd *msnp.Command, add bool) bool {
	if sess.dialect < 13 {
		return true
	}
	trid := cmd.Arg(0)
	initial, entries, code := parseML(cmd.Payload)
	if code != 0 {
		sess.sendError(code, trid)
		return true
	}
	if add && initial {
		sess.circ.initialADL = true
		sess.send("ADL", trid, "OK")
		return false
	}
	for _, e := range entries {
		if e.network == "" {
			return false // Escargot: unhandled error, no reply
		}
		if e.network == "9" {
			return sess.circleML(trid, entries, add) // circles*.go
		}
		if !validNetworks[e.network] {
			sess.sendError(204, trid)
			return true
		}
	}
	s, a := sess.s, sess.acct
	if !add {
		for _, e := range entries {
			if c := s.accounts[key(e.email)]; c != nil && c != a {
				s.removeFromList(a, c, e.lists&(ListFL|ListAL|ListBL))
			}
		}
		sess.send("RML", trid, "OK")
		return false
	}
	for _, e := range entries {
		c := s.accounts[key(e.email)]
		if c == nil || c == a {
			sess.sendError(208, trid)
			return false
		}
		bits := e.lists & (ListFL | ListAL | ListBL)
		hadFL := false
		if old := a.contacts[key(c.email)]; old != nil {
			hadFL = old.lists&ListFL != 0
		}
		if code := s.addToList(a, c, bits); code != 0 {
			sess.sendError(code, trid)
			return false
		}
		if bits&ListFL != 0 && !hadFL && sess.chgDone {
			if st := s.statusFor(c, a); st != "FLN" {
				sess.sendPresence(c, st, trid)
			}
		}
	}
	sess.send("ADL", trid, "OK")
	return false
}

func (sess *nsSession) cmdFQY(cmd *msnp.Command) bool {
	if sess.dialect < 14 {
		return true
	}
	trid := cmd.Arg(0)
	var ml mlList
	if err := xml.Unmarshal(cmd.Payload, &ml); err != nil {
		sess.sendError(241, trid)
		return true
	}
	if len(ml.Domains) != 1 || ml.Domains[0].N == nil {
		sess.sendError(241, trid)
		return true
	}
	d := ml.Domains[0]
	if len(d.Contacts) != 1 || d.Contacts[0].N == nil {
		sess.sendError(240, trid)
		return true
	}
	email := *d.Contacts[0].N + "@" + *d.N
	if sess.s.accounts[key(email)] == nil {
		sess.sendError(208, trid)
		return false
	}
	out := fmt.Sprintf(`<ml><d n="%s"><c n="%s" t="1" /></d></ml>`, esc(*d.N), esc(*d.Contacts[0].N))
	sess.sendPayload("FQY", []byte(out), trid)
	return false
}
