package msntest

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// MSNP18 circles as Escargot implements them (escargot.md §5): a circle
// is an address book of its own whose members have a role and a state;
// an authenticated session (USR SHA) joins a circle with a circle ADL and
// then receives its members' presence (via=), roster NFY and SDG messages.

// Membership states, as the address book names them.
const (
	circleAccepted = "Accepted"
	circleWaiting  = "WaitingResponse"
)

const circleIDPrefix = "00000000-0000-0000-0009-"

type circleStore struct {
	byID          map[string]*circle // by lower-case id
	rejectTickets int                // USR SHA answers 911 this many more times
}

func (cs *circleStore) init() { cs.byID = make(map[string]*circle) }

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
}

// circleSession is the circle state of one NS session (guarded by Server.mu).
type circleSession struct {
	authed     bool            // USR SHA succeeded
	initialADL bool            // the initial ADL (l="1" on <ml>) came before circle ADLs
	joined     map[string]bool // circle ids joined with a circle ADL
	// inRoster: the session published itself in the circle's roster
	// (PUT /circle roster); only then do others see it in NFY PUT.
	inRoster map[string]bool
}

func (s *circleStore) get(id string) *circle {
	return s.byID[strings.ToLower(strings.TrimSpace(id))]
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
		c.members[key(admin)] = &circleMember{email: admin, role: CircleAdmin, state: circleAccepted}
		cs.byID[id] = c
		return c
	}
}

func (sess *nsSession) email() string {
	if sess.acct == nil {
		return ""
	}
	return sess.acct.email
}

func (sess *nsSession) circleJoined(id string) bool {
	return sess.circ.joined[strings.ToLower(id)]
}
