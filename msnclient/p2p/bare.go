package p2p

// bareHandler receives the data messages of a session id that no MSNSLP
// call opened (see HandleBare).
type bareHandler struct {
	maxSize int64
	fn      func(peer string, data []byte, err error)
}

// HandleBare registers fn for data messages on sessionID that arrive
// without an MSNSLP call: WLM sends one-to-one handwritten (ink) messages
// this way, on session 64. Each complete message of at most maxSize bytes
// is acked and passed to fn; one announced larger is dropped and fn gets
// ErrTooLarge instead, so that the loss can be shown. fn runs in its own
// goroutine. A call that negotiated the same session id keeps its data.
func (m *Manager) HandleBare(sessionID uint32, maxSize int64, fn func(peer string, data []byte, err error)) {
	if sessionID == 0 {
		return // MSNSLP signalling
	}
	m.mu.Lock()
	m.bare[sessionID] = bareHandler{maxSize: maxSize, fn: fn}
	m.mu.Unlock()
}

// deliverBare acks a complete bare data message and hands it over.
func (m *Manager) deliverBare(peer string, a *assembly) {
	m.sendAck(peer, a.first)
	m.mu.Lock()
	h, ok := m.bare[a.first.SessionID]
	m.mu.Unlock()
	if ok {
		h.fn(peer, a.buf, nil)
	}
}
