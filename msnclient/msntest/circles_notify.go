package msntest

import "fmt"

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
	c.members[key(email)] = &circleMember{email: a.email, role: role, state: state, inviter: inviter}
	s.notifyCircleChangedLocked(c, a.email)
	return nil
}

// removeCircleMemberLocked removes a member. Server.mu must be held.
func (s *Server) removeCircleMemberLocked(c *circle, k string) {
	delete(c.members, k)
	if a := s.accounts[k]; a != nil {
		s.notifyCircleChangedLocked(c, a.email)
	}
}

// notifyCircleChangedLocked tells email's MSNP18 sessions that their
// address book changed. Server.mu must be held.
func (s *Server) notifyCircleChangedLocked(c *circle, email string) {
	a := s.accounts[key(email)]
	if a == nil {
		return
	}
	for _, sess := range s.sessionsOf(a) {
		if sess.dialect >= 13 {
			sess.sendPayload("NOT", abchNotification(a))
		}
	}
}
