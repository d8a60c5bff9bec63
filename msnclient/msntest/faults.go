package msntest

import "time"

// DropConnections closes every NS and SB connection of the account abruptly,
// without OUT.
func (s *Server) DropConnections(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[key(email)]
	if a == nil {
		return
	}
	for _, sess := range s.sessionsOf(a) {
		sess.conn.Close()
		s.endSession(sess)
	}
	for c, k := range s.sbConns {
		if k == key(a.email) {
			c.Close()
		}
	}
}

// SendOUT sends "OUT reason" (OTH, SSD, ...) to every NS session of the
// account and closes them.
func (s *Server) SendOUT(email, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessionsOf(s.accounts[key(email)]) {
		sess.sendOUT(reason)
	}
}

// SetAnswerPings stops (false) or resumes (true) answering PNG.
func (s *Server) SetAnswerPings(on bool) { s.answerPing.Store(on) }

// FailNext makes the next client NS command named command (e.g. "ADC") get
// the error code instead of being processed. Calls queue up.
func (s *Server) FailNext(command string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[command] = append(s.failNext[command], code)
}

// takeFailure pops a queued failure for command. Server.mu must be held.
func (s *Server) takeFailure(command string) (int, bool) {
	q := s.failNext[command]
	if len(q) == 0 {
		return 0, false
	}
	if len(q) == 1 {
		delete(s.failNext, command)
	} else {
		s.failNext[command] = q[1:]
	}
	return q[0], true
}

// SetDelay delays every NS line the server sends by d (0 to stop).
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }
