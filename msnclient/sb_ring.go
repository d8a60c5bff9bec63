package msnclient

import (
	"context"
	"fmt"
	"net"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// handleRing passes an invitation to a switchboard to the switchboard code:
// "RNG sid host:port CKI cookie email name [U host [1]]".
func (c *Client) handleRing(cmd *msnp.Command) {
	if len(cmd.Args) < 6 || cmd.Arg(2) != "CKI" {
		c.log.Warn().Str("cmd", cmd.Redacted()).Msg("Skipping malformed RNG")
		return
	}
	inviter, err := checkEmail(cmd.Arg(4))
	if err != nil {
		c.log.Warn().Str("cmd", cmd.Redacted()).Msg("Skipping RNG with invalid inviter")
		return
	}
	var via net.Addr
	if s := c.session(); s != nil {
		via = s.conn.conn.RemoteAddr()
	}
	if err := c.checkServerAddr("switchboard invitation", cmd.Arg(1), via); err != nil {
		return
	}
	c.sb.handleRing(cmd.Arg(0), cmd.Arg(1), cmd.Arg(3), inviter, decodeName(cmd.Arg(5)))
}

// transferToSwitchboard asks the NS for a new switchboard (XFR SB) and returns
// its address and cookie. Server refusals are *msnp.ServerError (913: not
// allowed while offline or invisible).
func (c *Client) transferToSwitchboard(ctx context.Context) (addr, cookie string, err error) {
	s, err := c.connected()
	if err != nil {
		return "", "", fmt.Errorf("open switchboard: %w", err)
	}
	reply, err := s.conn.request(ctx, msnp.New("XFR", "SB"))
	if err != nil {
		return "", "", fmt.Errorf("open switchboard: %w", err)
	}
	// XFR t SB host:port CKI cookie [U messenger.msn.com [1]]
	if reply.Arg(1) != "SB" || reply.Arg(2) == "" || reply.Arg(3) != "CKI" || reply.Arg(4) == "" {
		return "", "", fmt.Errorf("open switchboard: unexpected reply %s", reply.Redacted())
	}
	if err := c.checkServerAddr("switchboard", reply.Arg(2), s.conn.conn.RemoteAddr()); err != nil {
		return "", "", fmt.Errorf("open switchboard: %w", err)
	}
	return reply.Arg(2), reply.Arg(4), nil
}
