package msntest

import "fmt"

// Membership changes and who hears of them: the member's own sessions get
// a circle NOT (their client re-fetches the address book; one who left
// gets the plain address-book NOT, as from Escargot); an accepted
// membership also gets the "new circle" NFY on authenticated sessions;
// the other members get a circle NOT too (their client re-fetches the
// circle's member list), and NFY DEL when someone leaves.

// setCircleMember adds or updates email's membership of circle id.
func (s *Server) setCircleMember(id, email, role, state, inviter string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.circles.get(id)
	if c == nil {
		return fmt.Errorf("msntest: unknown circle %s", id)
	}
	a := s.accounts[key(email)]
	if a == nil {
		return fmt.Errorf("msntest: unknown account %s", email)
	}
	switch role {
	case CircleAdmin, CircleAssistantAdmin, CircleMember:
	default:
		return fmt.Errorf("msntest: invalid circle role %q", role)
	}
	if old := c.members[key(email)]; old != nil && old.state == circleAccepted && state == circleWaiting {
		return fmt.Errorf("msntest: %s is already in circle %s", email, id)
	}
	m := &circleMember{email: a.email, role: role, state: state, inviter: inviter}
	c.members[key(email)] = m
	if state == circleAccepted {
		s.circleAcceptedLocked(c, a)
	} else {
		s.notifyCircleChangedLocked(c, a.email)
	}
	return nil
}

// circleAcceptedLocked announces that a became an accepted member of c.
func (s *Server) circleAcceptedLocked(c *circle, a *account) {
	m := c.members[key(a.email)]
	m.state, m.inviter, m.message, m.fresh = circleAccepted, "", "", true
	s.notifyCircleChangedLocked(c, a.email)
	for _, sess := range s.sessionsOf(a) {
		if sess.circ.authed {
			sess.sendNewCircle(c)
		}
	}
	s.notifyOtherMembersLocked(c, a)
}

// removeCircleMemberLocked removes a member: its sessions leave the circle
// and hear of it, the others get NFY DEL. Server.mu must be held.
func (s *Server) removeCircleMemberLocked(c *circle, k string) {
	m := c.members[k]
	a := s.accounts[k]
	if m == nil || a == nil {
		delete(c.members, k)
		return
	}
	wasAccepted := m.state == circleAccepted
	for _, sess := range s.sessionsOf(a) {
		if sess.circ.adl[c.id] {
			sess.leaveCircleSession(c)
		}
	}
	delete(c.members, k)
	// As Escargot's on_left_groupchat: the plain address-book NOT (not the
	// circle one), to MSNP18 sessions only.
	for _, sess := range s.sessionsOf(a) {
		if sess.dialect >= 18 {
			sess.sendPayload("NOT", abchNotification(a))
		}
	}
	if !wasAccepted {
		return
	}
	for _, sess := range s.joinedSessions(c, nil) {
		sess.sendMemberLeft(c, a.email)
	}
	s.notifyOtherMembersLocked(c, a)
}

// notifyCircleChangedLocked tells email's sessions that their address book
// changed (the circle NOT). Server.mu must be held.
func (s *Server) notifyCircleChangedLocked(c *circle, email string) {
	a := s.accounts[key(email)]
	if a == nil {
		return
	}
	for _, sess := range s.sessionsOf(a) {
		if sess.dialect >= 13 {
			sess.sendPayload("NOT", circleNotification(a, c))
		}
	}
}

// notifyOtherMembersLocked sends the circle NOT to the members of c other
// than a, so that their clients re-read its member list.
func (s *Server) notifyOtherMembersLocked(c *circle, a *account) {
	for k := range c.members {
		if b := s.accounts[k]; b != nil && b != a {
			s.notifyCircleChangedLocked(c, b.email)
		}
	}
}
