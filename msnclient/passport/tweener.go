package passport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
	"github.com/rs/zerolog"
)

// orgURL is the (percent-encoded) OrgURL Messenger clients send.
const orgURL = "http%3A%2F%2Fmessenger%2Emsn%2Ecom"

// maxRedirects bounds the 302 redirects followed to other DA servers.
const maxRedirects = 3

// NexusLookup asks the Passport nexus for the login server URL (DALogin in
// the PassportURLs header). A DALogin without a scheme gets "https://".
func NexusLookup(ctx context.Context, client *http.Client, nexusURL string) (string, error) {
	if client == nil {
		return "", errors.New("passport: nil HTTP client")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, nexusURL, nil)
	if err != nil {
		return "", fmt.Errorf("passport: build nexus request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("passport: nexus request: %w", err)
	}
	defer resp.Body.Close()
	_, _ = xmlsafe.ReadAll(resp.Body, maxBody) // drain for connection reuse; content unused
	if resp.StatusCode != http.StatusOK {
		return "", &StatusError{Op: "nexus", StatusCode: resp.StatusCode}
	}
	// http.Header canonicalises names ("Passporturls"); Get is case-insensitive.
	urls := resp.Header.Get("PassportURLs")
	if urls == "" {
		return "", errors.New("passport: nexus response has no PassportURLs header")
	}
	login := headerParam(urls, "DALogin")
	if login == "" {
		return "", errors.New("passport: nexus PassportURLs has no DALogin")
	}
	if !strings.Contains(login, "://") {
		login = "https://" + login
	}
	if _, err := url.Parse(login); err != nil {
		return "", fmt.Errorf("passport: nexus DALogin: %w", err)
	}
	return login, nil
}

// TweenerLogin performs a Passport 1.4 login and returns the ticket to send
// in "USR … TWN S <ticket>". If nexusURL is not empty the login server comes
// from the nexus; otherwise loginURL is used. challenge is the parameter of
// "USR … TWN I/S", passed on unchanged. A rejected email or password gives
// ErrBadCredentials.
func TweenerLogin(ctx context.Context, client *http.Client, nexusURL, loginURL, email, password, challenge string) (string, error) {
	if client == nil {
		return "", errors.New("passport: nil HTTP client")
	}
	log := zerolog.Ctx(ctx)
	if nexusURL != "" {
		var err error
		loginURL, err = NexusLookup(ctx, client, nexusURL)
		if err != nil {
			return "", err
		}
		log.Debug().Str("login_url", loginURL).Msg("Nexus returned the login server")
	}
	if loginURL == "" {
		return "", errors.New("passport: no Tweener login URL configured")
	}
	if strings.ContainsAny(challenge, "\r\n") {
		return "", errors.New("passport: Tweener challenge contains a line break")
	}
	auth := "Passport1.4 OrgVerb=GET,OrgURL=" + orgURL +
		",sign-in=" + percentEncode(email) +
		",pwd=" + percentEncode(password) +
		"," + challenge

	// Follow redirects by hand: the Authorization header must be resent to
	// the new DA server, which net/http does not do across hosts.
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	target := loginURL
	for i := 0; ; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return "", fmt.Errorf("passport: build login request: %w", err)
		}
		req.Header.Set("Authorization", auth)
		log.Debug().Str("url", target).Msg("Sending Tweener login request")
		resp, err := noRedirect.Do(req)
		if err != nil {
			return "", fmt.Errorf("passport: login request: %w", err)
		}
		_, _ = xmlsafe.ReadAll(resp.Body, maxBody)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return parseAuthInfo(resp.Header.Get("Authentication-Info"))
		case resp.StatusCode == http.StatusUnauthorized:
			return "", ErrBadCredentials
		case resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusMovedPermanently ||
			resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusTemporaryRedirect:
			if i >= maxRedirects {
				return "", fmt.Errorf("passport: login redirected more than %d times", maxRedirects)
			}
			next, err := redirectTarget(target, resp.Header.Get("Location"))
			if err != nil {
				return "", err
			}
			log.Debug().Str("location", next).Msg("Login server redirected")
			target = next
		default:
			return "", &StatusError{Op: "tweener login", StatusCode: resp.StatusCode}
		}
	}
}

// redirectTarget resolves a Location header and refuses HTTPS-to-HTTP
// downgrades (the password would travel in clear text).
func redirectTarget(current, location string) (string, error) {
	if location == "" {
		return "", errors.New("passport: login redirect without Location")
	}
	base, err := url.Parse(current)
	if err != nil {
		return "", fmt.Errorf("passport: login URL: %w", err)
	}
	loc, err := url.Parse(location)
	if err != nil {
		return "", fmt.Errorf("passport: login redirect Location: %w", err)
	}
	next := base.ResolveReference(loc)
	if next.Scheme != "https" && next.Scheme != "http" {
		return "", fmt.Errorf("passport: login redirect to unsupported scheme %q", next.Scheme)
	}
	if base.Scheme == "https" && next.Scheme != "https" {
		return "", errors.New("passport: login redirect from HTTPS to HTTP refused")
	}
	return next.String(), nil
}

// parseAuthInfo extracts the ticket from
// "Passport1.4 da-status=success,…,from-PP='<ticket>',…".
func parseAuthInfo(h string) (string, error) {
	if h == "" {
		return "", errors.New("passport: login response has no Authentication-Info header")
	}
	if status := headerParam(h, "da-status"); status != "" && !strings.EqualFold(status, "success") {
		if strings.EqualFold(status, "failed") {
			return "", ErrBadCredentials
		}
		return "", fmt.Errorf("passport: login da-status=%s", status)
	}
	const key = "from-PP='"
	i := strings.Index(h, key)
	if i < 0 {
		return "", errors.New("passport: Authentication-Info has no from-PP ticket")
	}
	rest := h[i+len(key):]
	j := strings.IndexByte(rest, '\'')
	if j < 0 {
		return "", errors.New("passport: Authentication-Info from-PP ticket is not terminated")
	}
	ticket := rest[:j]
	if ticket == "" || strings.ContainsAny(ticket, " \t\r\n") {
		return "", errors.New("passport: Authentication-Info from-PP ticket is empty or malformed")
	}
	return ticket, nil
}

// headerParam finds key=value in a comma-separated Passport header value
// (optionally starting with "Passport1.4 "). Keys match case-insensitively.
func headerParam(h, key string) string {
	h = strings.TrimSpace(h)
	if sp := strings.IndexByte(h, ' '); sp >= 0 && !strings.Contains(h[:sp], "=") {
		h = h[sp+1:]
	}
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// percentEncode escapes everything but RFC 3986 unreserved characters, so
// commas, '=' and spaces in credentials cannot break the header.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
