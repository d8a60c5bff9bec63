package msnclient

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// contactList is the contact list in one form for both mechanisms (SYN and
// address book), plus the last known presence of each contact. It is guarded
// by Client.mu.
type contactList struct {
	contacts  map[string]*listEntry // by lower-cased email
	presence  map[string]*presence  // by lower-cased email
	groups    []Group
	requested map[string]bool // ContactRequest already emitted
	gen       uint64          // incremented by every local change
}

// listEntry is a contact on the list without its presence (kept apart,
// in presence): a Contact less its presence fields, 96 bytes instead of
// 176, and every login keeps one per contact.
type listEntry struct {
	Email        string // lower-cased
	FriendlyName string
	ContactID    string   // GUID (MSNP10+ / address book), empty before
	Groups       []string // group ids
	Network      Network
	Lists        Lists
}

// presence is the last known presence of a contact.
type presence struct {
	status       Status
	friendlyName string
	capabilities string
	msnObject    string
	psm          string
	media        string
}

func (l *contactList) init() {
	l.contacts = make(map[string]*listEntry)
	l.presence = make(map[string]*presence)
	l.requested = make(map[string]bool)
}

// replace swaps in a freshly loaded list.
func (l *contactList) replace(contacts map[string]*listEntry, groups []Group) {
	for _, ct := range contacts {
		ct.Lists = normalizeLists(ct.Lists)
	}
	l.contacts = contacts
	l.groups = groups
}

// get returns the entry of email, creating it when create is set.
func (l *contactList) get(email string, create bool) *listEntry {
	email = strings.ToLower(email)
	ct := l.contacts[email]
	if ct == nil && create {
		ct = &listEntry{Email: email, Network: NetworkMSN, FriendlyName: email}
		l.contacts[email] = ct
	}
	return ct
}

// setLists changes the list bits of email, dropping the entry when it is on
// no list any more.
func (l *contactList) setLists(email string, add, remove Lists) {
	ct := l.get(email, add != 0)
	if ct == nil {
		return
	}
	l.gen++
	ct.Lists = normalizeLists((ct.Lists | add) &^ remove)
	if ct.Lists == 0 {
		delete(l.contacts, ct.Email)
	}
	if ct.Lists&(ListAllow|ListBlock) != 0 || ct.Lists&(ListPending|ListReverse) == 0 {
		delete(l.requested, ct.Email)
	}
}

// normalizeLists adds RL to pending contacts: a pending contact has added
// us, though servers send it with PL and without RL.
func normalizeLists(l Lists) Lists {
	if l&ListPending != 0 {
		l |= ListReverse
	}
	return l
}

// view returns a copy of ct with its presence.
func (l *contactList) view(ct *listEntry) Contact {
	out := Contact{
		Email: ct.Email, Network: ct.Network, FriendlyName: ct.FriendlyName, Lists: ct.Lists,
		Groups: append([]string(nil), ct.Groups...), ContactID: ct.ContactID,
	}
	out.Status = StatusOffline
	if p := l.presence[ct.Email]; p != nil {
		out.Status = p.status
		if p.friendlyName != "" {
			out.FriendlyName = p.friendlyName
		}
		out.Capabilities = p.capabilities
		out.MSNObject = p.msnObject
		out.PersonalMessage = p.psm
		out.CurrentMedia = p.media
	}
	return out
}

// isRequest reports whether ct added us and we have not answered: on RL or
// PL but neither on AL nor BL.
func isRequest(ct *listEntry) bool {
	return ct.Lists&(ListReverse|ListPending) != 0 && ct.Lists&(ListAllow|ListBlock) == 0
}

// Contacts returns a copy of the contact list, sorted by email.
func (c *Client) Contacts() []Contact {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Contact, 0, len(c.list.contacts))
	for _, ct := range c.list.contacts {
		out = append(out, c.list.view(ct))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out
}

// Contact returns one contact.
func (c *Client) Contact(email string) (Contact, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := c.list.get(email, false)
	if ct == nil {
		return Contact{}, false
	}
	return c.list.view(ct), true
}

// Groups returns the contact groups.
func (c *Client) Groups() []Group {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Group(nil), c.list.groups...)
}

// clearPresence forgets every contact's presence (the session ended).
func (c *Client) clearPresence() {
	c.mu.Lock()
	c.list.presence = make(map[string]*presence)
	c.mu.Unlock()
}

// emitPendingRequests emits ContactRequest for every unanswered request not
// yet reported (after login and after a list refresh).
func (c *Client) emitPendingRequests() {
	c.mu.Lock()
	var evts []*ContactRequest
	for email, ct := range c.list.contacts {
		if isRequest(ct) && !c.list.requested[email] {
			c.list.requested[email] = true
			evts = append(evts, &ContactRequest{Email: email, FriendlyName: ct.FriendlyName})
		}
	}
	c.mu.Unlock()
	sort.Slice(evts, func(i, j int) bool { return evts[i].Email < evts[j].Email })
	for _, evt := range evts {
		c.emit(evt)
	}
}

// errInvalidEmail is returned for an address that cannot be a contact.
var errInvalidEmail = errors.New("msn: invalid email address")

// checkEmail validates and lower-cases a contact address.
func checkEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(email, " \t\r\n\x00%<>\"'&;") || len(email) > 254 {
		return "", fmt.Errorf("%w: %q", errInvalidEmail, email)
	}
	return email, nil
}

// listOps is one contact-list mechanism (SYN or address book).
type listOps interface {
	load(ctx context.Context) error
	add(ctx context.Context, email string) error
	remove(ctx context.Context, email string) error
	block(ctx context.Context, email string) error
	unblock(ctx context.Context, email string) error
	accept(ctx context.Context, email string) error
}

// ops returns the contact-list mechanism of the session's dialect.
func (c *Client) ops(s *session) listOps {
	if s.d.addressBook {
		return &abOps{c: c, s: s}
	}
	return &synOps{c: c, s: s}
}

// loadContacts loads the contact list during login.
func (c *Client) loadContacts(ctx context.Context, s *session) error {
	return c.ops(s).load(ctx)
}

// contactOp runs one contact-list change on the current session.
func (c *Client) contactOp(ctx context.Context, what, email string, op func(listOps, context.Context, string) error) error {
	email, err := checkEmail(email)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if strings.EqualFold(email, c.Email()) {
		return fmt.Errorf("%s %s: cannot do that to yourself", what, email)
	}
	s, err := c.connected()
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, email, err)
	}
	defer c.releaseHTTP()
	if err := op(c.ops(s), ctx, email); err != nil {
		return fmt.Errorf("%s %s: %w", what, email, err)
	}
	return nil
}

// AddContact adds email to the forward and allow lists.
func (c *Client) AddContact(ctx context.Context, email string) error {
	return c.contactOp(ctx, "add contact", email, listOps.add)
}

// RemoveContact removes email from the forward list.
func (c *Client) RemoveContact(ctx context.Context, email string) error {
	return c.contactOp(ctx, "remove contact", email, listOps.remove)
}

// BlockContact moves email to the block list.
func (c *Client) BlockContact(ctx context.Context, email string) error {
	return c.contactOp(ctx, "block contact", email, listOps.block)
}

// UnblockContact moves email back to the allow list.
func (c *Client) UnblockContact(ctx context.Context, email string) error {
	return c.contactOp(ctx, "unblock contact", email, listOps.unblock)
}

// AcceptContact accepts a pending request: allow list and forward list.
func (c *Client) AcceptContact(ctx context.Context, email string) error {
	return c.contactOp(ctx, "accept contact", email, listOps.accept)
}

// lists returns the list bits of email (0 when unknown).
func (c *Client) lists(email string) Lists {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ct := c.list.get(email, false); ct != nil {
		return ct.Lists
	}
	return 0
}

// changeLists updates the local list bits after a successful change.
func (c *Client) changeLists(email string, add, remove Lists) {
	c.mu.Lock()
	c.list.setLists(email, add, remove)
	c.mu.Unlock()
}
