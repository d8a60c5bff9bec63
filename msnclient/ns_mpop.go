package msnclient

// MSNP16+ sends our own NLN and UBX when we or another endpoint of ours
// change state. They never become contact events; a change of our name or
// personal message made elsewhere becomes an OwnProfile event.

// ownPresence handles an NLN/ILN about ourselves.
func (c *Client) ownPresence(s *session, p presenceLine) {
	c.mu.Lock()
	changed := p.friendlyName != "" && p.friendlyName != c.own.friendlyName
	if changed {
		c.own.friendlyName = p.friendlyName
	}
	evt := &OwnProfile{FriendlyName: c.own.friendlyName, PersonalMessage: c.own.psm}
	c.mu.Unlock()
	if changed {
		s.emit(evt)
	}
}

// ownUBX handles a UBX about ourselves.
func (c *Client) ownUBX(s *session, data ubxData) {
	c.mu.Lock()
	changed := false
	if data.PSM != nil && *data.PSM != c.own.psm {
		c.own.psm = *data.PSM
		changed = true
	}
	if data.CurrentMedia != c.own.media {
		c.own.media = data.CurrentMedia
	}
	evt := &OwnProfile{FriendlyName: c.own.friendlyName, PersonalMessage: c.own.psm}
	c.mu.Unlock()
	if changed {
		s.emit(evt)
	}
}
