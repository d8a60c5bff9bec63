package msnclient

import "time"

// SetSwitchboardJoinTimeout shortens how long opening a conversation waits
// for the invitees to join (tests only).
func SetSwitchboardJoinTimeout(c *Client, d time.Duration) { c.sb.joinTimeout = d }
