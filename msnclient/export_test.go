package msnclient

import (
	"context"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// SetSwitchboardJoinTimeout shortens how long opening a conversation waits
// for the invitees to join (tests only).
func SetSwitchboardJoinTimeout(c *Client, d time.Duration) { c.sb.joinTimeout = d }

// SendRawMessage sends a raw MSG payload to a contact (tests only).
func SendRawMessage(ctx context.Context, c *Client, to string, payload []byte) error {
	return c.Conversation(to).send(ctx, "N", payload)
}

// OfferFileRaw offers a file with a hand-made context and data, which may
// disagree (tests only).
func OfferFileRaw(ctx context.Context, c *Client, to string, fileContext, data []byte) error {
	return c.p2pApps().m.Offer(ctx, to, p2p.Offer{EUFGUID: p2p.EUFGUIDFile, AppID: p2p.AppIDFile,
		Context: fileContext, Data: data, DataFlags: p2p.FlagFileData})
}

// SendRawP2P sends a raw P2P payload to a contact with ack mode D (tests
// only).
func SendRawP2P(ctx context.Context, c *Client, to string, payload []byte) error {
	return c.Conversation(to).send(ctx, "D", payload)
}

// EndpointGUID is the client's endpoint (machine) GUID (tests only).
func EndpointGUID(c *Client) string { return c.guid }
