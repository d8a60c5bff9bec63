package msntest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SetSwitchboardAck sets how MSG with ack mode A or D is answered from now
// on: AckNormal (Escargot), AckNever or AckNAK.
func (s *Server) SetSwitchboardAck(mode SwitchboardAckMode) {
	s.sb.mu.Lock()
	s.sb.ackMode = mode
	s.sb.mu.Unlock()
}

// ReleaseSwitchboardAcks sends the acknowledgements held back since
// SetSwitchboardAck(AckLater), as a server that hung and resumed would,
// and returns how many were sent.
func (s *Server) ReleaseSwitchboardAcks() int {
	s.sb.mu.Lock()
	held := s.sb.heldAcks
	s.sb.heldAcks = nil
	s.sb.mu.Unlock()
	for _, h := range held {
		h.c.send("ACK", h.trid)
	}
	return len(held)
}

// SetSwitchboardIdleTimeout sets after how long without a message a
// session is closed (default 5 minutes). It applies to new sessions and to
// the next message of existing ones.
func (s *Server) SetSwitchboardIdleTimeout(d time.Duration) {
	s.sb.mu.Lock()
	s.sb.idle = d
	s.sb.mu.Unlock()
}

// DropSwitchboards closes every switchboard connection of email abruptly
// (no OUT); the other participants get BYE.
func (s *Server) DropSwitchboards(email string) {
	st := &s.sb
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, sess := range st.sessions {
		for _, c := range sess.conns {
			if key(c.email()) == key(email) {
				_ = c.conn.Close()
			}
		}
	}
}

// DropSwitchboardAtNextMessage makes the next MSG sent by email close its
// switchboard connection before the message is relayed or acknowledged.
func (s *Server) DropSwitchboardAtNextMessage(email string) {
	st := &s.sb
	st.mu.Lock()
	st.init()
	st.dropOnMsg[key(email)] = true
	st.mu.Unlock()
}

// SwitchboardSessions returns the number of open switchboard sessions.
func (s *Server) SwitchboardSessions() int {
	st := &s.sb
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.sessions)
}

// SwitchboardMessages returns how many messages the switchboards relayed.
func (s *Server) SwitchboardMessages() int {
	st := &s.sb
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.msgCount
}

// SwitchboardParticipants returns the emails connected to each open
// session (one list per session, one entry per connection, join order).
func (s *Server) SwitchboardParticipants() [][]string {
	st := &s.sb
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.participantsLocked()
}

func (st *sbState) participantsLocked() [][]string {
	out := make([][]string, 0, len(st.sessions))
	for _, sess := range st.sessions {
		list := make([]string, 0, len(sess.conns))
		for _, c := range sess.conns {
			list = append(list, c.email())
		}
		out = append(out, list)
	}
	return out
}

// WaitSwitchboards waits until cond, called with SwitchboardParticipants
// after every change, returns true.
func (s *Server) WaitSwitchboards(ctx context.Context, cond func(sessions [][]string) bool) error {
	st := &s.sb
	for {
		st.mu.Lock()
		st.init()
		ok := cond(st.participantsLocked())
		ch := st.changed
		st.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("msntest: wait for switchboards: %w", ctx.Err())
		case <-s.closed:
			return errors.New("msntest: server closed")
		}
	}
}
