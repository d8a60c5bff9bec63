package msnclient

import (
	"errors"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// ErrFileNewerTransfer is the reason of a file offered over P2P version 2
// (Windows Live Messenger 2009 and later), which the client cannot
// receive: it was declined so the sender does not wait.
var ErrFileNewerTransfer = errors.New("the sender's Messenger sent it via a newer transfer (P2P version 2) the bridge cannot receive")

// handleV2Invite reports a file offer the P2P manager declined because it
// came over P2P version 2, naming the file when its context can be read.
// Other invitations (pictures, emoticons) declined that way are only
// logged by the manager.
func (c *Client) handleV2Invite(peer string, inv *p2p.UnsupportedInvite) {
	if !strings.EqualFold(inv.EUFGUID, p2p.EUFGUIDFile) {
		return
	}
	ff := &FileFailed{ConversationEvent: c.p2pConversation(peer), From: peer, Declined: true, Err: ErrFileNewerTransfer}
	if fc, err := p2p.ParseFileContext(inv.Context); err == nil {
		ff.Name, ff.Size = p2p.CleanFileName(fc.Name), int64(min(fc.Size, 1<<62))
	}
	c.emit(ff)
}
