package passport

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Service addresses requested from the security token service.
const (
	AddrPassportTB      = "http://Passport.NET/tb"
	AddrMessengerClear  = "messengerclear.live.com"  // NS login ticket and MBI binary secret
	AddrMessenger       = "messenger.msn.com"        // web/RSI (offline messages)
	AddrContacts        = "contacts.msn.com"         // address book and sharing service
	AddrMessengerSecure = "messengersecure.live.com" // OIM store
	AddrSpaces          = "spaces.live.com"
	AddrStorage         = "storage.msn.com" // storage service (profile, display picture)
)

// Token is one security token issued for one service address.
type Token struct {
	Address      string
	Ticket       string // compact ticket "t=…&p=", unescaped
	BinarySecret string // base64 proof key; only for messengerclear.live.com
	Expires      time.Time
}

// String describes the token without revealing its secrets.
func (t Token) String() string {
	return fmt.Sprintf("passport.Token{Address: %q, Ticket: %s, BinarySecret: %s, Expires: %s}",
		t.Address, redacted(t.Ticket), redacted(t.BinarySecret), t.Expires.Format(time.RFC3339))
}

// GoString is String, so %#v does not leak secrets either.
func (t Token) GoString() string { return t.String() }

func redacted(s string) string {
	if s == "" {
		return "<none>"
	}
	return "<redacted>"
}

// Tokens holds the tokens of one RST response, keyed by service address
// (matched case-insensitively; never by the Compact<n> number).
type Tokens struct {
	byAddr map[string]Token
}

func normAddr(addr string) string { return strings.ToLower(strings.TrimSpace(addr)) }

// Get returns the token for a service address.
func (t *Tokens) Get(address string) (Token, bool) {
	if t == nil {
		return Token{}, false
	}
	tok, ok := t.byAddr[normAddr(address)]
	return tok, ok
}

// Ticket returns the ticket for a service address, or "".
func (t *Tokens) Ticket(address string) string {
	tok, _ := t.Get(address)
	return tok.Ticket
}

// BinarySecret returns the base64 binary secret for a service address, or "".
func (t *Tokens) BinarySecret(address string) string {
	tok, _ := t.Get(address)
	return tok.BinarySecret
}

// MessengerClear returns the NS login token (ticket for USR SSO S, binary
// secret for the MBI response).
func (t *Tokens) MessengerClear() Token {
	tok, _ := t.Get(AddrMessengerClear)
	return tok
}

// Contacts returns the address book / sharing service token.
func (t *Tokens) Contacts() Token {
	tok, _ := t.Get(AddrContacts)
	return tok
}

// Addresses lists the service addresses that have a token, sorted.
func (t *Tokens) Addresses() []string {
	if t == nil {
		return nil
	}
	out := make([]string, 0, len(t.byAddr))
	for _, tok := range t.byAddr {
		out = append(out, tok.Address)
	}
	sort.Strings(out)
	return out
}

// String lists the addresses without revealing tickets.
func (t *Tokens) String() string {
	return fmt.Sprintf("passport.Tokens%v", t.Addresses())
}

// GoString is String, so %#v does not leak secrets either.
func (t *Tokens) GoString() string { return t.String() }
