package msnclient

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
	"github.com/mautrix-msn/mautrix-msn/msnclient/passport"
)

// maxRedirects bounds XFR NS redirects during one login.
const maxRedirects = 5

// errCodeAuthFailed is the USR "authentication failed" error code.
const errCodeAuthFailed = 911

// redirectError is returned by loginAt when the server sent XFR NS.
type redirectError struct {
	addr string
	via  net.Addr // the server that redirected us
}

func (e *redirectError) Error() string { return "redirected to " + e.addr }

// login connects, negotiates the dialect and authenticates, following XFR
// NS redirects. The returned session is running but not yet announced.
func (c *Client) login(ctx context.Context) (*session, error) {
	addr := c.cfg.Server
	for i := 0; ; i++ {
		s, err := c.loginAt(ctx, addr)
		var redirect *redirectError
		if !errors.As(err, &redirect) {
			return s, err
		}
		if i >= maxRedirects {
			return nil, fmt.Errorf("msn login: more than %d XFR NS redirects", maxRedirects)
		}
		c.log.Debug().Str("from", addr).Str("to", redirect.addr).Msg("Following XFR NS redirect")
		if redirect.addr != "0" {
			if err := c.checkServerAddr("notification server redirect", redirect.addr, redirect.via); err != nil {
				return nil, fmt.Errorf("msn login: %w", err)
			}
			addr = redirect.addr
		}
	}
}

// loginAt runs VER/CVR/USR against one notification server.
func (c *Client) loginAt(ctx context.Context, addr string) (*session, error) {
	dialer := net.Dialer{Timeout: c.cfg.DialTimeout}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("msn login: connect to %s: %w", addr, err)
	}
	nc := newNSConn(conn, &c.log, c.cfg.RequestTimeout)
	d, err := c.negotiate(ctx, nc)
	if err != nil {
		nc.close(err)
		return nil, redirectedFrom(err, conn.RemoteAddr())
	}
	s := newSession(c, nc, d)
	c.mu.Lock()
	c.sess = s
	c.dia = d
	c.mu.Unlock()
	go s.run()
	fail := func(err error) (*session, error) {
		s.end(ReasonConnectionLost, err)
		return nil, err
	}

	if _, err := nc.request(ctx, msnp.New("CVR", "0x0409", "winnt", "5.1", "i386", "MSNMSGR",
		d.clientVersion, "msmsgs", c.cfg.Email), "XFR"); err != nil {
		return fail(fmt.Errorf("msn login: %w", err))
	}
	if err := c.authenticate(ctx, s); err != nil {
		return fail(redirectedFrom(err, conn.RemoteAddr()))
	}
	return s, nil
}

// redirectedFrom records in a redirectError which server sent it.
func redirectedFrom(err error, via net.Addr) error {
	var redirect *redirectError
	if errors.As(err, &redirect) {
		redirect.via = via
	}
	return err
}

// negotiate sends VER and reads the reply before the reader goroutine starts
// (the dialect decides how everything after it is handled).
func (c *Client) negotiate(ctx context.Context, nc *nsConn) (*dialect, error) {
	versions := offeredVersions(c.cfg.Versions)
	if len(versions) == 0 {
		return nil, errors.New("msn login: no supported protocol version configured (MSNP8-18)")
	}
	args := make([]string, 0, len(versions)+1)
	for _, v := range versions {
		args = append(args, "MSNP"+strconv.Itoa(v))
	}
	args = append(args, "CVR0")
	stop := context.AfterFunc(ctx, func() { _ = nc.conn.SetDeadline(time.Now()) })
	defer stop()
	if err := nc.conn.SetReadDeadline(time.Now().Add(c.cfg.RequestTimeout)); err != nil {
		return nil, fmt.Errorf("msn login: %w", err)
	}
	if err := nc.send(msnp.New("VER", args...)); err != nil {
		return nil, fmt.Errorf("msn login: %w", err)
	}
	for {
		reply, err := nc.r.ReadCommand()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, fmt.Errorf("msn login: read VER reply: %w", err)
		}
		if reply.IsError() {
			return nil, fmt.Errorf("msn login: VER: %w", reply.Err())
		}
		if reply.Name != "VER" {
			c.log.Debug().Str("cmd", reply.Redacted()).Msg("Ignoring command before VER reply")
			continue
		}
		chosen := reply.Arg(1)
		v, err := strconv.Atoi(strings.TrimPrefix(chosen, "MSNP"))
		if err != nil || !strings.HasPrefix(chosen, "MSNP") || !containsInt(versions, v) {
			return nil, fmt.Errorf("msn login: server supports none of the offered protocol versions (answered %q)", chosen)
		}
		if err := nc.conn.SetDeadline(time.Time{}); err != nil {
			return nil, fmt.Errorf("msn login: %w", err)
		}
		return dialectFor(v)
	}
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

// authenticate runs USR with Tweener or SSO.
func (c *Client) authenticate(ctx context.Context, s *session) error {
	scheme := "TWN"
	if s.d.auth == authSSO {
		scheme = "SSO"
	}
	reply, err := s.conn.request(ctx, msnp.New("USR", scheme, "I", c.cfg.Email), "XFR")
	if err != nil {
		return loginError(err)
	}
	if reply.Name == "XFR" {
		return xfrRedirect(reply)
	}
	if reply.Arg(1) != scheme || reply.Arg(2) != "S" {
		return fmt.Errorf("msn login: unexpected reply %s", reply.Redacted())
	}
	hc, err := c.http()
	if err != nil {
		return fmt.Errorf("msn login: %w", err)
	}
	ctx = c.log.WithContext(ctx) // the passport package logs to zerolog.Ctx
	var final *msnp.Command
	if s.d.auth == authTweener {
		loginURL := c.cfg.LoginURL
		if c.cfg.NexusURL != "" {
			if loginURL, err = passport.NexusLookup(ctx, hc, c.cfg.NexusURL); err != nil {
				return loginError(fmt.Errorf("tweener login: %w", err))
			}
			c.log.Debug().Str("login_url", loginURL).Msg("Nexus returned the login server")
		}
		if err := c.checkLoginURL("Tweener login URL", loginURL); err != nil {
			return err
		}
		ticket, err := passport.TweenerLogin(ctx, hc, "", loginURL, c.cfg.Email, c.cfg.Password, reply.Arg(3))
		if err != nil {
			return loginError(fmt.Errorf("tweener login: %w", err))
		}
		s.mu.Lock()
		s.abTicket = ticket
		s.web = webTickets{rsi: ticket, store: ticket}
		s.mu.Unlock()
		final = msnp.New("USR", "TWN", "S", ticket)
	} else {
		final, err = c.ssoFinal(ctx, s, hc, reply.Arg(3), reply.Arg(4))
		if err != nil {
			return err
		}
	}
	reply, err = s.conn.request(ctx, final, "XFR")
	if err != nil {
		return loginError(err)
	}
	if reply.Name == "XFR" {
		return xfrRedirect(reply)
	}
	if reply.Arg(1) != "OK" {
		return fmt.Errorf("msn login: unexpected reply %s", reply.Redacted())
	}
	if s.d.nameInUSROK && len(reply.Args) >= 4 {
		c.mu.Lock()
		c.own.friendlyName = decodeName(reply.Args[3])
		c.mu.Unlock()
	}
	c.log.Debug().Int("version", s.d.version).Msg("Authenticated to MSN")
	return nil
}

// ssoFinal gets the RST tokens and builds "USR SSO S ticket blob [guid]".
func (c *Client) ssoFinal(ctx context.Context, s *session, hc *http.Client, policy, nonce string) (*msnp.Command, error) {
	if policy == "" || nonce == "" {
		return nil, errors.New("msn login: USR SSO S without policy or nonce")
	}
	rstURL := c.cfg.RSTURL
	if s.d.rst2 {
		rstURL = c.cfg.RST2URL
	}
	if rstURL == "" {
		return nil, errors.New("msn login: no RST URL configured")
	}
	if err := c.checkLoginURL("RST URL", rstURL); err != nil {
		return nil, err
	}
	tokens, err := passport.RequestSecurityTokens(ctx, hc, rstURL, s.d.rst2, c.cfg.Email, c.cfg.Password, policy)
	if err != nil {
		return nil, loginError(fmt.Errorf("security token request: %w", err))
	}
	mc := tokens.MessengerClear()
	if mc.Ticket == "" || mc.BinarySecret == "" {
		return nil, errors.New("msn login: no messengerclear.live.com token in RST response")
	}
	abTicket := tokens.Contacts().Ticket
	if abTicket == "" {
		abTicket = mc.Ticket
	}
	s.mu.Lock()
	s.abTicket = abTicket
	s.web = ssoWebTickets(tokens, mc.Ticket)
	keepTickets(&s.abTicket, &s.web.rsi, &s.web.store)
	s.mu.Unlock()
	iv := make([]byte, 8)
	_, _ = rand.Read(iv)
	blob, err := msnp.MBIResponse(mc.BinarySecret, nonce, iv)
	if err != nil {
		return nil, fmt.Errorf("msn login: MBI response: %w", err)
	}
	args := []string{"SSO", "S", mc.Ticket, blob}
	if s.d.machineGUID {
		args = append(args, c.guid)
	}
	return msnp.New("USR", args...), nil
}

// xfrRedirect turns "XFR t NS host:port …" into a redirectError.
func xfrRedirect(reply *msnp.Command) error {
	if reply.Arg(1) != "NS" || reply.Arg(2) == "" {
		return fmt.Errorf("msn login: unexpected redirect %s", reply.Redacted())
	}
	return &redirectError{addr: reply.Arg(2)}
}

// loginError maps authentication failures to ErrBadCredentials.
func loginError(err error) error {
	var se *msnp.ServerError
	if errors.Is(err, passport.ErrBadCredentials) || errors.As(err, &se) && se.Code == errCodeAuthFailed {
		return fmt.Errorf("msn login: %w (%w)", ErrBadCredentials, err)
	}
	return fmt.Errorf("msn login: %w", err)
}

// http returns the HTTP client for the web services.
func (c *Client) http() (*http.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.httpClient != nil {
		return c.httpClient, nil
	}
	if c.cfg.HTTPClient != nil {
		c.httpClient = c.cfg.HTTPClient
		return c.httpClient, nil
	}
	hc, err := passport.NewHTTPClient(c.cfg.CAFile, c.cfg.RequestTimeout)
	if err != nil {
		return nil, fmt.Errorf("HTTP client: %w", err)
	}
	c.httpClient = hc
	return hc, nil
}
