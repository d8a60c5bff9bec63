package bridge

import (
	"fmt"
	"strings"
	"sync/atomic"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/mautrix-msn/mautrix-msn/database"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// groupPortalPrefix starts the PortalID of every multi-party portal, so it can
// never collide with a DM portal (whose ID is an email).
const groupPortalPrefix = "group:"

// identifierPrefix starts the identifiers shown for ghosts ("msn:<email>").
const identifierPrefix = "msn:"

// normalizeEmail lower-cases and trims an MSN address.
func normalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// validEmail reports whether s looks like an MSN address: one @, something on
// both sides, no spaces or control characters.
func validEmail(s string) bool {
	if len(s) == 0 || len(s) > 320 {
		return false
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || at == len(s)-1 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == ',' {
			return false
		}
	}
	return true
}

// makeUserID is the ghost ID of an MSN contact.
func makeUserID(email string) networkid.UserID {
	return networkid.UserID(normalizeEmail(email))
}

// makeUserLoginID is the login ID of an MSN account.
func makeUserLoginID(email string) networkid.UserLoginID {
	return networkid.UserLoginID(normalizeEmail(email))
}

// parseUserID returns the email of a ghost ID.
func parseUserID(id networkid.UserID) string { return string(id) }

// makeDMPortalKey is the key of the DM portal of login with contact.
func makeDMPortalKey(contact string, login networkid.UserLoginID) networkid.PortalKey {
	return networkid.PortalKey{ID: networkid.PortalID(normalizeEmail(contact)), Receiver: login}
}

// newGroupPortalID generates the ID of a new multi-party portal.
func newGroupPortalID() networkid.PortalID {
	return networkid.PortalID(groupPortalPrefix + msnp.RandomHex(8))
}

// isGroupPortalID reports whether id is a multi-party portal.
func isGroupPortalID(id networkid.PortalID) bool {
	return strings.HasPrefix(string(id), groupPortalPrefix)
}

// dmContact returns the contact email of a DM portal ID.
func dmContact(id networkid.PortalID) (string, bool) {
	if isGroupPortalID(id) || isCirclePortalID(id) {
		return "", false
	}
	return string(id), true
}

// participantKey is the canonical form of a participant set.
func participantKey(participants []string) string {
	return database.ParticipantKey(participants)
}

// makeIdentifier is the identifier shown for a contact.
func makeIdentifier(email string) string {
	return identifierPrefix + normalizeEmail(email)
}

// parseIdentifier accepts "msn:email", "email" and Matrix-style input with
// surrounding spaces, and returns the normalised email.
func parseIdentifier(identifier string) (string, error) {
	email := normalizeEmail(strings.TrimPrefix(strings.TrimSpace(identifier), identifierPrefix))
	if !validEmail(email) {
		return "", fmt.Errorf("%q is not an MSN address (expected something like alice@hotmail.com)", identifier)
	}
	return email, nil
}

// messageIDGenerator creates message IDs unique across portals: a random
// prefix per generator plus a counter. Safe for concurrent use.
type messageIDGenerator struct {
	prefix string
	next   atomic.Uint64
}

func newMessageIDGenerator() *messageIDGenerator {
	return &messageIDGenerator{prefix: msnp.RandomHex(6)}
}

// New returns a fresh message ID.
func (g *messageIDGenerator) New() networkid.MessageID {
	return networkid.MessageID(fmt.Sprintf("%s.%d", g.prefix, g.next.Add(1)))
}
