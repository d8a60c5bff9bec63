package msntest

// SetAdvertisedSwitchboardAddr makes XFR SB and RNG name addr as the
// switchboard instead of the real one (SBAddr), as a misconfigured or
// hostile server would; "" restores the real address.
func (s *Server) SetAdvertisedSwitchboardAddr(addr string) {
	s.advertisedSB.Store(&addr)
}

// advertisedSBAddr is the switchboard address given to clients.
func (s *Server) advertisedSBAddr() string {
	if p := s.advertisedSB.Load(); p != nil && *p != "" {
		return *p
	}
	return s.SBAddr()
}
