package msntest

import (
	"fmt"
	"sort"
	"strings"
)

// Test API for MSNP18 circles. Changes made here stand for another client
// or the server's administration script (script/managegrpchat.py in
// Escargot): members' online sessions are told as the real server tells
// them (circle NOT, roster NFY PUT / NFY DEL).

// Circle roles, as the address book names them.
const (
	CircleAdmin          = "Admin"
	CircleAssistantAdmin = "AssistantAdmin"
	CircleMember         = "Member"
)

// CreateCircle creates a circle named name with admin as its accepted Admin
// and returns its id ("00000000-0000-0000-0009-<12 hex>").
func (s *Server) CreateCircle(name, admin string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[key(admin)]
	if a == nil {
		return "", fmt.Errorf("msntest: unknown account %s", admin)
	}
	if strings.TrimSpace(name) == "" {
		return "", fmt.Errorf("msntest: empty circle name")
	}
	c := s.circles.create(name, a.email)
	s.circleAcceptedLocked(c, a)
	return c.id, nil
}

// AddCircleMember makes email an accepted member of circle id with role
// (CircleAdmin, CircleAssistantAdmin or CircleMember), as if it had
// accepted an invitation. Online members are told (roster NFY PUT when the
// new member joins the circle on the NS).
func (s *Server) AddCircleMember(id, email, role string) error {
	return s.setCircleMember(id, email, role, circleAccepted, "")
}

// InviteToCircle records a pending invitation of email to circle id from
// inviter (who must be an Admin or AssistantAdmin) and tells email's
// online MSNP18 sessions with an address-book NOT, as Escargot does.
func (s *Server) InviteToCircle(id, inviter, email string) error {
	s.mu.Lock()
	c := s.circles.get(id)
	var role string
	if c != nil {
		if m := c.members[key(inviter)]; m != nil && m.state == circleAccepted {
			role = m.role
		}
	}
	s.mu.Unlock()
	if role != CircleAdmin && role != CircleAssistantAdmin {
		return fmt.Errorf("msntest: %s may not invite to circle %s", inviter, id)
	}
	return s.setCircleMember(id, email, CircleMember, circleWaiting, inviter)
}

// RemoveCircleMember removes email from circle id (as BreakConnection
// does): its sessions leave the circle, the others get NFY DEL.
func (s *Server) RemoveCircleMember(id, email string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.circles.get(id)
	if c == nil || c.members[key(email)] == nil {
		return fmt.Errorf("msntest: %s is not in circle %s", email, id)
	}
	s.removeCircleMemberLocked(c, key(email))
	return nil
}

// RenameCircle changes a circle's display name; members' online sessions
// get an address-book NOT.
func (s *Server) RenameCircle(id, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.circles.get(id)
	if c == nil {
		return fmt.Errorf("msntest: unknown circle %s", id)
	}
	c.name = name
	for k := range c.members {
		s.notifyCircleChangedLocked(c, k)
	}
	return nil
}

// CircleMembers returns the members of circle id: email (lower-cased) ->
// "Accepted" or "WaitingResponse".
func (s *Server) CircleMembers(id string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.circles.get(id)
	if c == nil {
		return nil
	}
	out := make(map[string]string, len(c.members))
	for k, m := range c.members {
		out[k] = m.state
	}
	return out
}

// CirclesOf returns the ids of the circles email is in or invited to, sorted.
func (s *Server) CirclesOf(email string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, c := range s.circles.byID {
		if c.members[key(email)] != nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// RejectCircleTickets makes the next n USR SHA answers 911, as Escargot
// does for a ticket that is stale (not byte-for-byte what it would issue
// now), whatever the ticket.
func (s *Server) RejectCircleTickets(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.circles.rejectTickets = n
}

// CircleJoined reports whether email has a session that joined circle id
// with a circle ADL.
func (s *Server) CircleJoined(id, email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sess := range s.sessions {
		if key(sess.email()) == key(email) && sess.circleJoined(id) {
			return true
		}
	}
	return false
}
