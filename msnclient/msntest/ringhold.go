package msntest

import (
	"sync"
	"time"
)

// ringHolds keeps invitations (RNG) to some accounts from being sent until
// released, to play a client that answers late (Pidgin's MSN plugin rings
// up its user and joins once the chat window opened). Lock order:
// Server.mu before ringHolds.mu.
type ringHolds struct {
	mu     sync.Mutex
	held   map[string]bool     // account key => hold its rings
	queued map[string][]func() // account key => RNG lines to send, in order
}

// HoldRings keeps invitations to email's endpoints back until the returned
// function is called, which sends them (each with its cookie, valid for
// the usual 120 s from the CAL) and stops holding. Meanwhile the inviter
// gets CAL … RINGING at once, as from a real server.
func (s *Server) HoldRings(email string) (release func()) {
	h := &s.holds
	h.mu.Lock()
	if h.held == nil {
		h.held = make(map[string]bool)
		h.queued = make(map[string][]func())
	}
	h.held[key(email)] = true
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			h.mu.Lock()
			sends := h.queued[key(email)]
			delete(h.queued, key(email))
			delete(h.held, key(email))
			h.mu.Unlock()
			for _, send := range sends {
				send()
			}
		})
	}
}

// hold queues send if rings to the account k are held. Server.mu is held.
func (h *ringHolds) hold(k string, send func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.held[k] {
		return false
	}
	h.queued[k] = append(h.queued[k], send)
	return true
}

// ringPending reports whether an invitation into the session is still
// unanswered (its cookie not yet used and not expired). Server.mu must not
// be held.
func (s *Server) ringPending(sessionID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.sbCookies {
		if c.sessionID == sessionID && !time.Now().After(c.expires) {
			return true
		}
	}
	return false
}
