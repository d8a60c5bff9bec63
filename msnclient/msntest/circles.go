package msntest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strings"
	"time"
)

// MSNP18 circles as Escargot implements them (escargot.md §5): a circle
// is an address book of its own whose members have a role and a state;
// a session that authenticated with the circle ticket (USR SHA) joins a
// circle with a circle ADL and then receives its members' presence
// (via=), roster NFY and SDG messages.

// Membership states, as the address book names them.
const (
	circleAccepted = "Accepted"
	circleWaiting  = "WaitingResponse"
)

const circleIDPrefix = "00000000-0000-0000-0009-"

// circleTicketLifetime is how long the server keeps issuing the same
// circle ticket; a ticket older than that no longer matches what the
// server would generate now (911).
const circleTicketLifetime = 10 * time.Minute

type circleStore struct {
	byID          map[string]*circle // by lower-case id
	rejectTickets int                // USR SHA answers 911 this many more times
	tickets       map[string]*circleTicket
	key           []byte // signs tickets
}

type circleTicket struct {
	text   string
	issued time.Time
}

func (cs *circleStore) init() {
	cs.byID = make(map[string]*circle)
	cs.tickets = make(map[string]*circleTicket)
	cs.key = make([]byte, 32)
	if _, err := rand.Read(cs.key); err != nil {
		panic(err)
	}
}

type circle struct {
	id      string // lower case
	name    string
	psm     string // circle PSM and media (props), set by members with PUT
	media   string
	members map[string]*circleMember // by account key
}

type circleMember struct {
	email   string // as registered
	role    string // CircleAdmin, CircleAssistantAdmin, CircleMember
	state   string // circleAccepted, circleWaiting
	inviter string // email of who invited (pending)
	message string // invitation message
	// fresh: accepted (or created) and not joined by any session yet; the
	// next USR SHA announces it with a "new circle" NFY.
	fresh bool
}

// circleSession is the circle state of one NS session (guarded by Server.mu).
type circleSession struct {
	authed     bool            // USR SHA succeeded
	initialADL bool            // the initial ADL (<ml l="1">) was received
	joined     map[string]bool // circle ids joined with a circle ADL (PUT allowed)
	adl        map[string]bool // circle ids given in a circle ADL (presence flows)
	inRoster   map[string]bool // published itself in the roster (PUT /circle)
}

func (cs *circleStore) get(id string) *circle {
	return cs.byID[strings.ToLower(strings.TrimSpace(id))]
}

// create adds a circle with admin as its accepted Admin.
func (cs *circleStore) create(name, admin string) *circle {
	var b [6]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err)
		}
		id := circleIDPrefix + hex.EncodeToString(b[:])
		if cs.byID[id] != nil {
			continue
		}
		c := &circle{id: id, name: name, members: make(map[string]*circleMember)}
		c.members[key(admin)] = &circleMember{email: admin, role: CircleAdmin, state: circleAccepted, fresh: true}
		cs.byID[id] = c
		return c
	}
}

// of returns the circles a is a member of or invited to, sorted by id.
func (cs *circleStore) of(a *account) []*circle {
	var out []*circle
	for _, c := range cs.byID {
		if c.members[key(a.email)] != nil {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// ticket returns the circle ticket the server would issue a now: the same
// text for circleTicketLifetime, then a new one.
func (cs *circleStore) ticket(a *account) string {
	k := key(a.email)
	t := cs.tickets[k]
	if t == nil || time.Since(t.issued) > circleTicketLifetime {
		t = cs.newTicket(a)
		cs.tickets[k] = t
	}
	return t.text
}

// newTicket signs a ticket naming a's CID and the time (the layout of
// Escargot's SignedTicket).
func (cs *circleStore) newTicket(a *account) *circleTicket {
	now := time.Now().UTC()
	data := `<?xml version="1.0" encoding="utf-16"?><Ticket xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><TS>` +
		now.Format("2006-01-02T15:04:05.0000000Z") + `</TS><CID>` + a.cid() + `</CID></Ticket>`
	mac := hmac.New(sha256.New, cs.key)
	mac.Write([]byte(data))
	text := `<?xml version="1.0" encoding="utf-16"?><SignedTicket xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ver="1" keyVer="1"><Data>` +
		base64.StdEncoding.EncodeToString([]byte(data)) + `</Data><Sig>` + base64.StdEncoding.EncodeToString(mac.Sum(nil)) + `</Sig></SignedTicket>`
	return &circleTicket{text: text, issued: now}
}

func (sess *nsSession) email() string {
	if sess.acct == nil {
		return ""
	}
	return sess.acct.email
}

func (sess *nsSession) circleJoined(id string) bool {
	return sess.circ.adl[strings.ToLower(id)]
}

// circleAddress is a circle's network-9 address.
func circleAddress(id string) string { return "9:" + id + "@live.com" }

// parseCircleAddress returns the circle of "9:<id>@live.com" (an optional
// ";path=IM" suffix is the caller's business), or nil.
func (s *Server) parseCircleAddress(addr string) *circle {
	rest, ok := strings.CutPrefix(addr, "9:")
	if !ok {
		return nil
	}
	id, domain, ok := strings.Cut(rest, "@")
	if !ok || !strings.EqualFold(domain, "live.com") {
		return nil
	}
	return s.circles.get(id)
}

// acceptedMember reports whether a is an accepted member of c.
func (c *circle) acceptedMember(a *account) *circleMember {
	if m := c.members[key(a.email)]; m != nil && m.state == circleAccepted {
		return m
	}
	return nil
}

// joinedSessions returns the sessions that joined c with a circle ADL,
// except skip.
func (s *Server) joinedSessions(c *circle, skip *nsSession) []*nsSession {
	var out []*nsSession
	for sess := range s.sessions {
		if sess == skip || sess.gone || sess.acct == nil || !sess.circ.adl[c.id] || c.acceptedMember(sess.acct) == nil {
			continue
		}
		out = append(out, sess)
	}
	sortSessions(out)
	return out
}
