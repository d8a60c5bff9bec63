package msntest

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// List bits, with their wire values (LST, ADL l=).
const (
	ListFL uint8 = 1  // forward: my contacts
	ListAL uint8 = 2  // allow
	ListBL uint8 = 4  // block
	ListRL uint8 = 8  // reverse: has me on their FL
	ListPL uint8 = 16 // pending: added me, not answered yet
)

// Escargot's list size limits (LST_LIMITS).
var listLimits = map[uint8]int{ListFL: 1000, ListAL: 1500, ListBL: 1200}

// Maximum group name length (MAX_GROUP_NAME_LENGTH).
const maxGroupName = 61

type account struct {
	email    string // as registered; USR must match it exactly
	password string
	name     string // friendly name, decoded
	uuid     string
	blp      string // "AL" or "BL"
	gtc      string // "A" or "N"
	listVer  int    // MSNP8-9 list version ("ser")
	contacts map[string]*contactEntry
	groups   []*group
	// memberLog records sharing-service changes (MembershipChanges).
	memberLog []string

	// Presence, shared by all sessions of the account.
	status string // last CHG status; "" until the first CHG
	caps   string // "caps" or "caps:capsex" from the last CHG
	msnobj string // decoded MSNObject XML, "" for none
	psm    string
	media  string

	oims []*storedOIM // offline messages waiting for this account (oim.go)

	// sessions are the account's logged-in NS sessions in login order
	// (finishLogin adds, endSession removes), so that finding them does
	// not walk every session of the server.
	sessions []*nsSession
}

type contactEntry struct {
	lists  uint8
	groups []string // group uuids
}

type group struct {
	id   string // uuid (MSNP10+ and ABCH)
	num  int    // numeric id (MSNP8-9); 0 is "Other Contacts" and never stored
	name string
}

// cid is the account's decimal CID, derived from its uuid as Escargot does.
func (a *account) cid() string {
	return fmt.Sprint(a.cidInt())
}

func (a *account) cidInt() int64 {
	raw, _ := hex.DecodeString(a.uuid[19:23] + a.uuid[24:36])
	return int64(binary.LittleEndian.Uint64(raw))
}

func (a *account) group(id string) *group {
	for _, g := range a.groups {
		if strings.EqualFold(g.id, id) || fmt.Sprint(g.num) == id {
			return g
		}
	}
	return nil
}

func (a *account) groupByName(name string) *group {
	for _, g := range a.groups {
		if g.name == name {
			return g
		}
	}
	return nil
}

func (a *account) countList(bit uint8) int {
	n := 0
	for _, c := range a.contacts {
		if c.lists&bit != 0 {
			n++
		}
	}
	return n
}

func key(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func validEmail(email string) bool {
	at := strings.IndexByte(email, '@')
	return at > 0 && at < len(email)-1 && !strings.ContainsAny(email, " \r\n\t\x00;:,<>\"'&")
}

// AddAccount registers an account. The email is stored as given: logins must
// use it with the same case (Escargot quirk), lookups are case-insensitive.
func (s *Server) AddAccount(email, password, friendlyName string) error {
	if !validEmail(email) {
		return fmt.Errorf("msntest: invalid email %q", email)
	}
	if password == "" {
		return fmt.Errorf("msntest: empty password for %s", email)
	}
	if friendlyName == "" {
		friendlyName = email
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[key(email)]; ok {
		return fmt.Errorf("msntest: account %s already exists", email)
	}
	s.accounts[key(email)] = &account{
		email:    email,
		password: password,
		name:     msnp.CleanText(friendlyName),
		uuid:     msnp.NewUUID(),
		blp:      "AL",
		gtc:      "A",
		contacts: make(map[string]*contactEntry),
	}
	return nil
}

// AddContact sets owner's FL/AL/BL bits for contact to those in lists
// (FL=1 AL=2 BL=4) and maintains the other side as Escargot does: FL on one
// side puts the owner on the contact's RL (and PL while the contact has not
// decided), and the contact's online sessions are told they were added or
// removed. RL (8) and PL (16) are normally maintained that way; set in lists
// they are forced on, never cleared. The owner's online sessions get an ABCH
// NOT (the list changed elsewhere) and, for a new FL contact that is
// visible, its presence.
func (s *Server) AddContact(owner, contact string, lists uint8) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, b := s.accounts[key(owner)], s.accounts[key(contact)]
	if a == nil {
		return fmt.Errorf("msntest: unknown account %s", owner)
	}
	if b == nil {
		return fmt.Errorf("msntest: unknown account %s", contact)
	}
	if a == b {
		return fmt.Errorf("msntest: %s cannot be its own contact", owner)
	}
	old := uint8(0)
	if e := a.contacts[key(b.email)]; e != nil {
		old = e.lists
	}
	settable := ListFL | ListAL | ListBL
	if rm := old &^ lists & settable; rm != 0 {
		s.removeFromList(a, b, rm)
	}
	if add := lists &^ old & settable; add != 0 {
		if code := s.addToList(a, b, add); code != 0 {
			return fmt.Errorf("msntest: add %s to %s's lists: %w", contact, owner, &msnp.ServerError{Code: code})
		}
	}
	// RL and PL are normally maintained by the other side; allow forcing them.
	e := a.contacts[key(b.email)]
	if e == nil {
		if lists == 0 {
			return nil
		}
		e = &contactEntry{}
		a.contacts[key(b.email)] = e
	}
	e.lists |= lists & (ListRL | ListPL)
	if e.lists == 0 {
		delete(a.contacts, key(b.email))
	}
	if e.lists != old {
		s.notifyOutOfBandChange(a, b, old)
	}
	return nil
}

// notifyOutOfBandChange tells a's sessions that its lists changed outside
// the protocol (as if from another client): an ABCH NOT, and b's presence
// when b was just put on a's FL and is visible to a.
func (s *Server) notifyOutOfBandChange(a, b *account, old uint8) {
	e := a.contacts[key(b.email)]
	newFL := e != nil && e.lists&ListFL != 0 && old&ListFL == 0
	for _, sess := range s.sessionsOf(a) {
		sess.sendPayload("NOT", abchNotification(a))
		if newFL && sess.chgDone {
			if st := s.statusFor(b, a); st != "FLN" {
				sess.sendPresence(b, st, "")
			}
		}
	}
}

// ContactLists returns owner's list bits for contact (0 when unknown).
func (s *Server) ContactLists(owner, contact string) uint8 {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[key(owner)]
	if a == nil {
		return 0
	}
	if e := a.contacts[key(contact)]; e != nil {
		return e.lists
	}
	return 0
}

// Contacts returns owner's contacts (registered emails) with their list bits.
func (s *Server) Contacts(owner string) map[string]uint8 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint8)
	a := s.accounts[key(owner)]
	if a == nil {
		return out
	}
	for k, e := range a.contacts {
		email := k
		if b := s.accounts[k]; b != nil {
			email = b.email
		}
		out[email] = e.lists
	}
	return out
}

// FriendlyName returns the account's current display name.
func (s *Server) FriendlyName(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[key(email)]; a != nil {
		return a.name
	}
	return ""
}

// Status returns the account's status as its contacts see it ("FLN" when
// offline or hidden).
func (s *Server) Status(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[key(email)]; a != nil {
		return s.visibleStatus(a)
	}
	return "FLN"
}

// IsOnline reports whether the account has a logged-in NS session.
func (s *Server) IsOnline(email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isOnlineLocked(email)
}

func (s *Server) isOnlineLocked(email string) bool {
	return len(s.sessionsOf(s.accounts[key(email)])) > 0
}
