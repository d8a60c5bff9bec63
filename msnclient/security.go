package msnclient

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Checks on what a server tells us to connect to. A notification server
// names the switchboards (XFR SB, RNG) and other notification servers (XFR
// NS) to connect to, and a Passport nexus the login server that gets the
// password: a hostile or compromised server must not be able to point the
// client anywhere else.

// checkServerAddr checks a host:port the server gave us (XFR SB/NS, RNG)
// before it is dialled. Allowed are the host of Config.Server, the address
// the current notification-server connection reached (Escargot runs its
// switchboards on the same machine, named by IP), and Config.AllowedHosts.
// via is the remote address of the notification-server connection the
// address came from, nil when none. Refusals are
// logged.
func (c *Client) checkServerAddr(what, addr string, via net.Addr) error {
	err := c.serverAddrAllowed(addr, via)
	if err != nil {
		c.log.Warn().Str("address", addr).Str("what", what).Err(err).Msg("Refusing server address")
		return fmt.Errorf("%s %q: %w", what, addr, err)
	}
	return nil
}

func (c *Client) serverAddrAllowed(addr string, via net.Addr) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: not host:port", ErrAddressRefused)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%w: bad port", ErrAddressRefused)
	}
	if cfgHost, _, err := net.SplitHostPort(c.cfg.Server); err == nil && sameHost(host, cfgHost) {
		return nil
	}
	for _, h := range c.cfg.AllowedHosts {
		if sameHost(host, h) {
			return nil
		}
	}
	if ip := net.ParseIP(host); ip != nil && via != nil {
		if ta, ok := via.(*net.TCPAddr); ok && ta.IP.Equal(ip) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not the configured server (add it to the allowed hosts to permit it)", ErrAddressRefused, host)
}

// sameHost compares host names case-insensitively and IP addresses by
// value.
func sameHost(a, b string) bool {
	a, b = strings.Trim(a, "[]"), strings.Trim(b, "[]")
	if ia, ib := net.ParseIP(a), net.ParseIP(b); ia != nil && ib != nil {
		return ia.Equal(ib)
	}
	return a != "" && strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// checkLoginURL refuses a URL the password is sent to unless it is HTTPS,
// or plain HTTP was allowed explicitly (Config.AllowPlainHTTP).
func (c *Client) checkLoginURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("msn login: %s: %w", what, err)
	}
	switch {
	case strings.EqualFold(u.Scheme, "https"):
		return nil
	case strings.EqualFold(u.Scheme, "http") && c.cfg.AllowPlainHTTP:
		return nil
	}
	c.log.Warn().Str("url", u.Redacted()).Str("what", what).Msg("Refusing to send the password to a non-HTTPS URL")
	return fmt.Errorf("msn login: %s %s: %w", what, u.Redacted(), ErrInsecureURL)
}
