package msntest

// PersonalMessage returns the account's personal message as the server
// knows it.
func (s *Server) PersonalMessage(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[key(email)]; a != nil {
		return a.psm
	}
	return ""
}

// SetProfile changes an account's friendly name and personal message on
// the server, as another client of the account (or a server reset) would,
// without telling anyone.
func (s *Server) SetProfile(email, friendlyName, psm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[key(email)]; a != nil {
		a.name, a.psm = friendlyName, psm
	}
}

// ChosenStatus returns the status the account's clients last set with CHG
// (HDN included), "" when it has no session.
func (s *Server) ChosenStatus(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[key(email)]; a != nil && len(s.sessionsOf(a)) > 0 {
		return a.status
	}
	return ""
}
