package msntest

import (
	"net"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Internal hooks between the notification server (this file's owner) and the
// switchboard server (sb*.go, owned by the switchboard helper).
//
// Wiring:
//   - Start creates the SB listener (s.sbLn, address s.SBAddr()) and calls
//     s.serveSB(conn) (sb.go) in its own goroutine for every accepted
//     connection; the connection is tracked and closed by Server.Close, and
//     serveSB returns when the connection ends. The switchboard state lives
//     in Server.sb (sbState, its own mutex; lock order sbState.mu before
//     Server.mu).
//   - Locking: Server.mu guards accounts, NS sessions and cookies. Every hook
//     below takes s.mu itself: never call them with s.mu held. nsSession
//     sends are queued and never block.
//   - Logging: use s.log (zerolog, silent by default) and cmd.Redacted().
//   - s.closed is closed when the server shuts down.
//
// Hooks:
//   - s.newSwitchboardTicket(sess) (addr, cookie): used by the NS for XFR SB.
//   - s.redeemSBCookie(cookie) (ident, sessionID, ok): the SB calls it on
//     USR (sessionID == "") and ANS (sessionID = the session rung); cookies
//     are single use and expire after 120 s (Escargot quirk 25). Check
//     ident.Email == the email in USR/ANS exactly (case-sensitive, quirk 9;
//     for MSNP16+ the client sends "email;{guid}", compare the part before
//     ';' and ident.MachineGUID with the guid).
//   - s.ring(invitee, inviter, sessionID) int: for CAL; sends RNG to every
//     logged-in NS session of invitee that may be reached by inviter (after
//     its first CHG, not HDN, not blocking inviter), each with its own ANS
//     cookie, in the session's dialect. Returns how many were rung (0 =>
//     the SB answers 217).
//   - s.sbIdentity(email, guid) (ident, ok): the current identity of a
//     logged-in endpoint (friendly name may have changed since login).
//   - s.registerSBConn(email, conn) (unregister func()): register an
//     authenticated SB connection so DropConnections(email) closes it.

// sbIdentity describes one logged-in endpoint (NS session) of an account.
type sbIdentity struct {
	Email        string // as registered (exact case)
	FriendlyName string // decoded
	MachineGUID  string // lower case, no braces; "" when none (MSNP<16)
	Dialect      int
	Caps         string // "caps" or "caps:capsex" from the last CHG, "0" if none
}

type sbCookie struct {
	ident     sbIdentity
	sessionID string
	expires   time.Time
}

const sbCookieLifetime = 120 * time.Second

func (sess *nsSession) identity() sbIdentity {
	caps := sess.caps
	if caps == "" {
		caps = "0"
	}
	return sbIdentity{
		Email:        sess.acct.email,
		FriendlyName: sess.acct.name,
		MachineGUID:  sess.machineGUID,
		Dialect:      sess.dialect,
		Caps:         caps,
	}
}

// newSbCookie stores a cookie. Server.mu must be held.
func (s *Server) newSbCookie(ident sbIdentity, sessionID string) string {
	now := time.Now()
	for c, v := range s.sbCookies {
		if now.After(v.expires) {
			delete(s.sbCookies, c)
		}
	}
	for {
		c := msnp.RandomHex(10)
		if _, dup := s.sbCookies[c]; !dup {
			s.sbCookies[c] = &sbCookie{ident: ident, sessionID: sessionID, expires: now.Add(sbCookieLifetime)}
			return c
		}
	}
}

// newSwitchboardTicket issues an XFR SB cookie for sess. Server.mu must be
// held (it is called from the NS handler).
func (s *Server) newSwitchboardTicket(sess *nsSession) (addr, cookie string) {
	return s.advertisedSBAddr(), s.newSbCookie(sess.identity(), "")
}

// redeemSBCookie consumes a cookie from XFR SB (sessionID "") or RNG.
func (s *Server) redeemSBCookie(cookie string) (ident sbIdentity, sessionID string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.sbCookies[cookie]
	if c == nil {
		return sbIdentity{}, "", false
	}
	delete(s.sbCookies, cookie)
	if time.Now().After(c.expires) {
		return sbIdentity{}, "", false
	}
	return c.ident, c.sessionID, true
}

// ring sends RNG for sessionID to the reachable NS sessions of invitee.
func (s *Server) ring(invitee string, inviter sbIdentity, sessionID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	to, from := s.accounts[key(invitee)], s.accounts[key(inviter.Email)]
	if to == nil || from == nil || to.status == "HDN" || isBlocking(to, from) {
		return 0
	}
	n := 0
	for _, sess := range s.sessionsOf(to) {
		if !sess.chgDone {
			continue
		}
		cookie := s.newSbCookie(sess.identity(), sessionID)
		if !s.holds.hold(key(invitee), func() { sess.sendRing(sessionID, cookie, inviter) }) {
			sess.sendRing(sessionID, cookie, inviter)
		}
		n++
	}
	return n
}

// sendRing sends one RNG line in sess's dialect. Server.mu must be held.
func (sess *nsSession) sendRing(sessionID, cookie string, inviter sbIdentity) {
	args := []string{sessionID, sess.s.advertisedSBAddr(), "CKI", cookie, inviter.Email, msnp.EncodeParam(inviter.FriendlyName)}
	switch {
	case sess.dialect >= 14:
		args = append(args, "U", "messenger.hotmail.com", "1")
	case sess.dialect == 13:
		args = append(args, "U", "messenger.hotmail.com")
	}
	sess.send("RNG", args...)
}

// sbIdentity returns the identity of a logged-in endpoint of email; with
// guid == "" the oldest session.
func (s *Server) sbIdentity(email, guid string) (sbIdentity, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessionsOf(s.accounts[key(email)]) {
		if guid == "" || sess.machineGUID == guid {
			return sess.identity(), true
		}
	}
	return sbIdentity{}, false
}

// registerSBConn records an authenticated SB connection of email so that
// DropConnections closes it. Call the returned function when it ends.
func (s *Server) registerSBConn(email string, c net.Conn) (unregister func()) {
	s.mu.Lock()
	s.sbConns[c] = key(email)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.sbConns, c)
		s.mu.Unlock()
	}
}
