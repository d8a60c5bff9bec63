package msntest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// token is a login token issued over HTTP: by /login (Tweener, short-lived,
// single use) or by RST (24 hours, with the MBI binary secret).
type token struct {
	email        string
	expires      time.Time
	binarySecret string // base64 of 24 bytes; "" for Tweener tokens
	singleUse    bool
}

// issueToken stores a new 20-hex-character token. Server.mu must be held.
func (s *Server) issueToken(email string, lifetime time.Duration, withSecret, singleUse bool) (string, *token) {
	s.pruneTokens()
	t := &token{email: email, expires: time.Now().Add(lifetime), singleUse: singleUse}
	if withSecret {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			panic(fmt.Errorf("msntest: random: %w", err))
		}
		t.binarySecret = base64.StdEncoding.EncodeToString(b)
	}
	for {
		id := msnp.RandomHex(10)
		if _, dup := s.tokens[id]; !dup {
			s.tokens[id] = t
			return id, t
		}
	}
}

func (s *Server) pruneTokens() {
	now := time.Now()
	for id, t := range s.tokens {
		if now.After(t.expires) {
			delete(s.tokens, id)
		}
	}
}

// sessionByToken finds a live, logged-in NS session that logged in with tok
// (Escargot quirk 7: HTTP services only work while that login is alive).
// Server.mu must be held.
func (s *Server) sessionByToken(tok string) *nsSession {
	if tok == "" {
		return nil
	}
	for sess := range s.sessions {
		if sess.acct != nil && !sess.gone && sess.token == tok {
			return sess
		}
	}
	return nil
}
