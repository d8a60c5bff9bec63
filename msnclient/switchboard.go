package msnclient

// SKELETON written by the lead; the switchboard helper owns this file.

import "context"

type switchboards struct{ c *Client }

func newSwitchboards(c *Client) *switchboards { return &switchboards{c: c} }

// handleRing is called by the NS reader for RNG (an invitation).
func (s *switchboards) handleRing(sessionID, addr, cookie, inviter, inviterName string) {}

// closeAll closes every switchboard (on disconnect or Close).
func (s *switchboards) closeAll() {}

// Conversation is a conversation with a set of participants. The switchboard
// behind it is opened, replaced and closed as needed.
type Conversation struct{ participants []string }

// Conversation returns the conversation with these participants (emails),
// creating a handle if none exists; nothing is sent until it is used.
func (c *Client) Conversation(participants ...string) *Conversation {
	return &Conversation{participants: participants}
}

// Participants returns the other participants, lower-cased and sorted.
func (cv *Conversation) Participants() []string { return cv.participants }

// SendText sends a message and returns when every part was acknowledged.
func (cv *Conversation) SendText(ctx context.Context, msg TextMessage) error { return nil }

// SendTyping sends one typing notification.
func (cv *Conversation) SendTyping(ctx context.Context) error { return nil }

// SendNudge sends a nudge.
func (cv *Conversation) SendNudge(ctx context.Context) error { return nil }

// Invite invites another contact into the conversation.
func (cv *Conversation) Invite(ctx context.Context, email string) error { return nil }

// Leave leaves the conversation (BYE) and closes its switchboard.
func (cv *Conversation) Leave() error { return nil }
