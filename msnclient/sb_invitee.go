package msnclient

import "slices"

// inviteeOffline forgets email's pending invitations when the contact
// signs out: a ring sent to a session that ended is never answered. A
// switchboard left with nobody joined and nobody invited is closed, so that
// a message waiting for someone to join fails over at once to a fresh
// switchboard (which rings the contact's new session, or learns that they
// are offline) instead of waiting out the join timeout.
func (s *switchboards) inviteeOffline(email string) {
	s.mu.Lock()
	conns := slices.Clone(s.conns)
	s.mu.Unlock()
	for _, sb := range conns {
		sb.mu.Lock()
		pending := sb.invited[email]
		if pending {
			delete(sb.invited, email)
			sb.notifyLocked()
		}
		abandoned := pending && len(sb.participants) == 0 && len(sb.invited) == 0
		sb.mu.Unlock()
		if abandoned {
			sb.log.Debug().Str("email", email).Msg("The only invitee signed out before joining, closing switchboard")
			sb.close()
		}
	}
}
