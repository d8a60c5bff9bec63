package msntest

import (
	"strconv"
	"strings"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// sbNotifyLocked wakes WaitSwitchboards callers. sb.mu must be held.
func (st *sbState) notifyLocked() {
	close(st.changed)
	st.changed = make(chan struct{})
}

func (s *Server) idleTimeout() time.Duration {
	if s.sb.idle > 0 {
		return s.sb.idle
	}
	return sbDefaultIdle
}

// sbCreate starts a new session for c (after USR).
func (s *Server) sbCreate(c *sbConn) {
	st := &s.sb
	st.mu.Lock()
	defer st.mu.Unlock()
	st.init()
	sess := &sbSession{id: msnp.RandomHex(16)[:31]}
	for st.sessions[sess.id] != nil {
		sess.id = msnp.RandomHex(16)[:31]
	}
	sess.conns = []*sbConn{c}
	c.session = sess
	st.sessions[sess.id] = sess
	sess.idleTimer = time.AfterFunc(s.idleTimeout(), func() { s.sbIdle(sess) })
	st.notifyLocked()
}

// sbJoin adds c to an existing session (after ANS): JOI to the others, IRO
// and ANS OK to c. It returns false when the session is gone.
func (s *Server) sbJoin(c *sbConn, sessionID, trid string) bool {
	st := &s.sb
	st.mu.Lock()
	defer st.mu.Unlock()
	st.init()
	sess := st.sessions[sessionID]
	if sess == nil {
		return false
	}
	first := !sess.hasUser(c.email())
	for _, o := range sess.conns {
		o.announceJoin(c, first)
	}
	c.sendRoster(sess, trid)
	c.send("ANS", trid, "OK")
	if d := c.ident.Dialect; d >= 16 {
		// Escargot announces you to yourself.
		if c.guid() != "" {
			c.send("JOI", c.lineArgs(d, true)...)
		}
		c.send("JOI", c.lineArgs(d, false)...)
	}
	sess.conns = append(sess.conns, c)
	c.session = sess
	st.notifyLocked()
	return true
}

func (sess *sbSession) hasUser(email string) bool {
	for _, o := range sess.conns {
		if o.email() == email {
			return true
		}
	}
	return false
}

// announceJoin tells o that j joined, in o's dialect.
func (o *sbConn) announceJoin(j *sbConn, firstEndpoint bool) {
	d := o.ident.Dialect
	if d < 16 {
		if firstEndpoint && o.email() != j.email() {
			o.send("JOI", j.lineArgs(d, false)...)
		}
		return
	}
	if j.guid() != "" {
		o.send("JOI", j.lineArgs(d, true)...)
		if firstEndpoint {
			o.send("JOI", j.lineArgs(d, false)...)
		}
		return
	}
	o.send("JOI", j.lineArgs(d, false)...)
}

// sendRoster sends IRO lines for everyone already in sess to c.
func (c *sbConn) sendRoster(sess *sbSession, trid string) {
	d := c.ident.Dialect
	var lines [][]string
	seen := map[string]bool{}
	for _, o := range sess.conns {
		if seen[o.email()] {
			continue
		}
		seen[o.email()] = true
		if d < 16 {
			if o.email() != c.email() {
				lines = append(lines, o.lineArgs(d, false))
			}
			continue
		}
		for _, ep := range sess.conns {
			if ep.email() == o.email() && ep.guid() != "" {
				lines = append(lines, ep.lineArgs(d, true))
			}
		}
		lines = append(lines, o.lineArgs(d, false))
	}
	total := len(lines)
	for i, l := range lines {
		args := append([]string{trid, strconv.Itoa(i + 1), strconv.Itoa(total)}, l...)
		c.send("IRO", args...)
	}
}

// sbLeave removes c from its session and sends BYE to the others.
func (s *Server) sbLeave(c *sbConn) {
	st := &s.sb
	st.mu.Lock()
	defer st.mu.Unlock()
	sess := c.session
	if sess == nil {
		return
	}
	c.session = nil
	for i, o := range sess.conns {
		if o == c {
			sess.conns = append(sess.conns[:i], sess.conns[i+1:]...)
			break
		}
	}
	last := !sess.hasUser(c.email())
	for _, o := range sess.conns {
		d := o.ident.Dialect
		if d < 16 {
			if last && o.email() != c.email() {
				o.send("BYE", c.email())
			}
			continue
		}
		if c.guid() != "" {
			o.send("BYE", c.email()+";{"+c.guid()+"}")
		}
		if last || c.guid() == "" {
			o.send("BYE", c.email())
		}
	}
	// As Escargot, a session nobody is in stays while an invitation into
	// it can still be answered: the invitee then joins an empty session.
	if len(sess.conns) == 0 && !s.ringPending(sess.id) {
		sess.idleTimer.Stop()
		delete(st.sessions, sess.id)
	}
	st.notifyLocked()
}

// sbIdle closes a session nobody wrote in for the idle timeout.
func (s *Server) sbIdle(sess *sbSession) {
	st := &s.sb
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sessions[sess.id] != sess {
		return
	}
	if len(sess.conns) == 0 {
		delete(st.sessions, sess.id)
		st.notifyLocked()
		return
	}
	for _, o := range sess.conns {
		_ = o.conn.Close()
	}
}

// handle runs one command of an authenticated connection; false closes it.
func (c *sbConn) handle(cmd *msnp.Command) bool {
	switch cmd.Name {
	case "OUT":
		return false
	case "CAL":
		c.cmdCAL(cmd)
	case "MSG":
		return c.cmdMSG(cmd)
	case "USR", "ANS":
		return false
	default:
		c.log.Debug().Str("cmd", cmd.Name).Msg("ignoring unknown switchboard command")
	}
	return true
}

func (c *sbConn) cmdCAL(cmd *msnp.Command) {
	trid, invitee := cmd.Arg(0), cmd.Arg(1)
	if len(cmd.Args) != 2 || !validEmail(invitee) {
		c.send("208", trid)
		return
	}
	st := &c.s.sb
	st.mu.Lock()
	sess := c.session
	sid := sess.id
	if invitee == c.email() {
		defer st.mu.Unlock()
		if c.ident.Dialect >= 16 {
			// MSNP16+ self-CAL: RINGING and a JOI of yourself.
			c.send("CAL", trid, "RINGING", sid)
			if c.guid() != "" {
				c.send("JOI", c.lineArgs(c.ident.Dialect, true)...)
			}
			c.send("JOI", c.lineArgs(c.ident.Dialect, false)...)
			return
		}
		c.send("215", trid)
		return
	}
	inSession := hasUserFold(sess, invitee)
	st.mu.Unlock()
	if inSession {
		c.send("215", trid)
		return
	}
	if c.s.ring(invitee, c.ident, sid) == 0 {
		c.send("217", trid)
		return
	}
	c.send("CAL", trid, "RINGING", sid)
}

func hasUserFold(sess *sbSession, email string) bool {
	for _, o := range sess.conns {
		if strings.EqualFold(o.email(), email) {
			return true
		}
	}
	return false
}

// cmdMSG relays a message to every other connection of the session.
func (c *sbConn) cmdMSG(cmd *msnp.Command) bool {
	trid, mode := cmd.Arg(0), cmd.Arg(1)
	if len(cmd.Payload) > sbMaxPayload {
		c.log.Debug().Int("len", len(cmd.Payload)).Msg("MSG over the payload limit, disconnecting")
		return false
	}
	if isP2P(cmd.Payload) && mode != "D" {
		return false
	}
	name := msnp.EncodeParam(c.currentName())
	st := &c.s.sb
	st.mu.Lock()
	if st.dropOnMsg[key(c.email())] {
		delete(st.dropOnMsg, key(c.email()))
		st.mu.Unlock()
		_ = c.conn.Close()
		return false
	}
	ack := st.ackMode
	sess := c.session
	var others []*sbConn
	if ack != AckNAK && sess != nil {
		st.msgCount++
		for _, o := range sess.conns {
			if o != c {
				others = append(others, o)
			}
		}
		sess.idleTimer.Reset(c.s.idleTimeout())
		st.notifyLocked()
	}
	st.mu.Unlock()
	// Written outside the lock: each connection's writer keeps its own order.
	relay := msnp.NewPayload("MSG", cmd.Payload, c.email(), name)
	for _, o := range others {
		o.write(relay)
	}
	switch {
	case mode == "U":
	case ack == AckLater && mode != "N":
		st.mu.Lock()
		st.heldAcks = append(st.heldAcks, heldAck{c: c, trid: trid})
		st.mu.Unlock()
	case ack == AckNAK:
		c.send("NAK", trid)
	case ack == AckNever, mode == "N":
	default:
		c.send("ACK", trid)
	}
	return true
}

func isP2P(payload []byte) bool {
	head, _, _ := strings.Cut(string(payload), "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Content-Type") {
			return strings.HasPrefix(strings.ToLower(strings.TrimSpace(value)), "application/x-msnmsgrp2p")
		}
	}
	return false
}
