package msntest

import (
	"strings"
	"sync"
)

// fileEUFGUID is the EUF-GUID of P2P file-transfer invitations.
const fileEUFGUID = "{5D3E02AB-6190-11D3-BBBB-00C04F795683}"

// scriptedOffers is what a scripted peer does with file offers and the
// text messages it receives. The zero value declines offers.
type scriptedOffers struct {
	mu       sync.Mutex
	ignoring bool
	invites  int      // file offers received
	texts    []string // text messages received, in order
}

// IgnoreFileOffers makes the peer leave file offers unanswered, as a
// person who never clicks Accept or Decline: the INVITE is acknowledged
// and nothing else is sent.
func (p *ScriptedPeer) IgnoreFileOffers() {
	p.offers.mu.Lock()
	defer p.offers.mu.Unlock()
	p.offers.ignoring = true
}

// FileOffers returns how many file offers the peer received.
func (p *ScriptedPeer) FileOffers() int {
	p.offers.mu.Lock()
	defer p.offers.mu.Unlock()
	return p.offers.invites
}

// Texts returns the text messages the peer received on its switchboards.
func (p *ScriptedPeer) Texts() []string {
	p.offers.mu.Lock()
	defer p.offers.mu.Unlock()
	return append([]string(nil), p.offers.texts...)
}

// ignore counts a file INVITE and reports whether to leave it unanswered.
func (o *scriptedOffers) ignore(invite string) bool {
	if !strings.Contains(strings.ToUpper(invite), fileEUFGUID) {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.invites++
	return o.ignoring
}

// recordText keeps the body of a text/plain switchboard message.
func (o *scriptedOffers) recordText(payload []byte) {
	head, body, ok := strings.Cut(string(payload), "\r\n\r\n")
	if !ok || !strings.Contains(strings.ToLower(head), "content-type: text/plain") {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.texts = append(o.texts, body)
}
