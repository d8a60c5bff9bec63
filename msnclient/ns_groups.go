package msnclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mautrix-msn/mautrix-msn/msnclient/abch"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Contact groups ("Friends", "Work"): created, renamed and removed with
// ADG/REG/RMG and filled with ADD/ADC/REM in MSNP8-12, with the address-book
// SOAP actions (ABGroupAdd, ABGroupUpdate, ABGroupDelete, ABGroupContactAdd,
// ABGroupContactDelete) in MSNP13+.

// defaultGroupID is MSNP8-9's group 0, "Other Contacts": it holds the
// contacts that are in no other group and cannot be removed.
const defaultGroupID = "0"

// MaxGroupNameLength is the longest group name servers accept, in bytes.
const MaxGroupNameLength = 61

// Group errors a caller can tell apart.
var (
	ErrInvalidGroupName = errors.New("msn: invalid group name")
	ErrGroupExists      = errors.New("msn: a group with that name already exists")
	ErrNoSuchGroup      = errors.New("msn: no such group")
	ErrNotAContact      = errors.New("msn: not on your contact list")
)

// CheckGroupName validates a group name: not empty, at most
// MaxGroupNameLength bytes of valid UTF-8, no control characters, not the
// reserved "(No Group)". It returns the name trimmed.
func CheckGroupName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", fmt.Errorf("%w: empty", ErrInvalidGroupName)
	case !utf8.ValidString(name):
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidGroupName)
	case len(name) > MaxGroupNameLength:
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidGroupName, MaxGroupNameLength)
	case strings.EqualFold(name, "(No Group)"):
		return "", fmt.Errorf("%w: %q is reserved", ErrInvalidGroupName, name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", fmt.Errorf("%w: contains control characters", ErrInvalidGroupName)
	}
	return name, nil
}

// findGroup returns the group with id. Client.mu must be held.
func (l *contactList) findGroup(id string) (Group, bool) {
	for _, g := range l.groups {
		if g.ID == id {
			return g, true
		}
	}
	return Group{}, false
}

// GroupByName returns the group whose name equals name (case-insensitive).
func (c *Client) GroupByName(name string) (Group, bool) {
	name = strings.TrimSpace(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.list.groups {
		if strings.EqualFold(g.Name, name) {
			return g, true
		}
	}
	return Group{}, false
}

// AddGroup creates a contact group.
func (c *Client) AddGroup(ctx context.Context, name string) (Group, error) {
	name, err := CheckGroupName(name)
	if err != nil {
		return Group{}, fmt.Errorf("add group: %w", err)
	}
	if _, dup := c.GroupByName(name); dup {
		return Group{}, fmt.Errorf("add group %q: %w", name, ErrGroupExists)
	}
	s, err := c.connected()
	if err != nil {
		return Group{}, fmt.Errorf("add group %q: %w", name, err)
	}
	var id string
	if s.d.addressBook {
		defer c.releaseHTTP()
		ab, err := c.abClient(s)
		if err != nil {
			return Group{}, fmt.Errorf("add group %q: %w", name, err)
		}
		id, err = ab.ABGroupAdd(ctx, name)
		if err != nil {
			return Group{}, fmt.Errorf("add group %q: %w", name, groupFault(err))
		}
	} else {
		args := []string{msnp.EncodeParam(name)}
		if !s.d.contactGUIDs {
			args = append(args, "0")
		}
		reply, err := s.conn.request(ctx, msnp.New("ADG", args...))
		if err != nil {
			return Group{}, fmt.Errorf("add group %q: %w", name, groupServerError(err))
		}
		// 8-9: ADG t ver name num 0; 10-12: ADG t name guid 0.
		if s.d.contactGUIDs {
			id = reply.Arg(2)
		} else {
			id = reply.Arg(3)
		}
		if id == "" {
			return Group{}, fmt.Errorf("add group %q: malformed reply %q", name, reply.Redacted())
		}
	}
	g := Group{ID: id, Name: name}
	c.mu.Lock()
	c.list.groups = append(c.list.groups, g)
	c.list.gen++
	c.mu.Unlock()
	return g, nil
}

// RenameGroup renames the group with id.
func (c *Client) RenameGroup(ctx context.Context, id, name string) error {
	name, err := CheckGroupName(name)
	if err != nil {
		return fmt.Errorf("rename group: %w", err)
	}
	if other, dup := c.GroupByName(name); dup && other.ID != id {
		return fmt.Errorf("rename group to %q: %w", name, ErrGroupExists)
	}
	c.mu.Lock()
	_, ok := c.list.findGroup(id)
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("rename group %s: %w", id, ErrNoSuchGroup)
	}
	s, err := c.connected()
	if err != nil {
		return fmt.Errorf("rename group to %q: %w", name, err)
	}
	if s.d.addressBook {
		defer c.releaseHTTP()
		ab, err := c.abClient(s)
		if err != nil {
			return fmt.Errorf("rename group to %q: %w", name, err)
		}
		if err := ab.ABGroupUpdate(ctx, id, name); err != nil {
			return fmt.Errorf("rename group to %q: %w", name, groupFault(err))
		}
	} else {
		args := []string{id, msnp.EncodeParam(name)}
		if !s.d.contactGUIDs {
			args = append(args, "0")
		}
		if _, err := s.conn.request(ctx, msnp.New("REG", args...)); err != nil {
			return fmt.Errorf("rename group to %q: %w", name, groupServerError(err))
		}
	}
	c.mu.Lock()
	for i := range c.list.groups {
		if c.list.groups[i].ID == id {
			c.list.groups[i].Name = name
		}
	}
	c.list.gen++
	c.mu.Unlock()
	return nil
}

// RemoveGroup deletes the group with id; its contacts stay on the list.
func (c *Client) RemoveGroup(ctx context.Context, id string) error {
	c.mu.Lock()
	g, ok := c.list.findGroup(id)
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("remove group %s: %w", id, ErrNoSuchGroup)
	}
	s, err := c.connected()
	if err != nil {
		return fmt.Errorf("remove group %q: %w", g.Name, err)
	}
	if s.d.addressBook {
		defer c.releaseHTTP()
		ab, err := c.abClient(s)
		if err != nil {
			return fmt.Errorf("remove group %q: %w", g.Name, err)
		}
		if err := ab.ABGroupDelete(ctx, id); err != nil {
			return fmt.Errorf("remove group %q: %w", g.Name, groupFault(err))
		}
	} else if _, err := s.conn.request(ctx, msnp.New("RMG", id)); err != nil {
		return fmt.Errorf("remove group %q: %w", g.Name, groupServerError(err))
	}
	c.mu.Lock()
	c.list.groups = slices.DeleteFunc(c.list.groups, func(x Group) bool { return x.ID == id })
	for _, ct := range c.list.contacts {
		ct.Groups = slices.DeleteFunc(ct.Groups, func(x string) bool { return x == id })
	}
	c.list.gen++
	c.mu.Unlock()
	return nil
}

// AddContactToGroup puts a forward-list contact into a group (it stays in
// its other groups).
func (c *Client) AddContactToGroup(ctx context.Context, email, groupID string) error {
	return c.groupMember(ctx, email, groupID, true)
}

// RemoveContactFromGroup takes a contact out of a group (it stays on the
// contact list).
func (c *Client) RemoveContactFromGroup(ctx context.Context, email, groupID string) error {
	return c.groupMember(ctx, email, groupID, false)
}

func (c *Client) groupMember(ctx context.Context, email, groupID string, add bool) error {
	what := "remove contact from group"
	if add {
		what = "add contact to group"
	}
	email, err := checkEmail(email)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	c.mu.Lock()
	g, ok := c.list.findGroup(groupID)
	ct := c.list.get(email, false)
	var contactID string
	var in bool
	if ct != nil {
		contactID = ct.ContactID
		in = slices.Contains(ct.Groups, groupID)
	}
	c.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("%s %s: %w", what, email, ErrNoSuchGroup)
	case ct == nil || ct.Lists&ListForward == 0:
		return fmt.Errorf("%s %s: %w", what, email, ErrNotAContact)
	case in == add:
		return nil // already so
	}
	what = fmt.Sprintf("%s %s %q", what, email, g.Name)
	s, err := c.connected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if groupID == defaultGroupID && !s.d.addressBook && !s.d.contactGUIDs {
		// MSNP8-9 "Other Contacts" holds whoever is in no other group;
		// REM FL email 0 would remove the contact from the list.
		return fmt.Errorf("%s: contacts are in %q when in no other group", what, g.Name)
	}
	switch {
	case s.d.addressBook:
		defer c.releaseHTTP()
		if contactID == "" {
			return fmt.Errorf("%s: no contact id known", what)
		}
		ab, err := c.abClient(s)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if add {
			err = ab.ABGroupContactAdd(ctx, groupID, contactID)
		} else {
			err = ab.ABGroupContactDelete(ctx, groupID, contactID)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, groupFault(err))
		}
	case s.d.contactGUIDs: // MSNP10-12: by contact GUID
		if contactID == "" {
			return fmt.Errorf("%s: no contact id known", what)
		}
		cmd := msnp.New("REM", "FL", contactID, groupID)
		if add {
			cmd = msnp.New("ADC", "FL", "C="+contactID, groupID)
		}
		if _, err := s.conn.request(ctx, cmd); tolerate(err, errCodeAlreadyOnList) != nil {
			return fmt.Errorf("%s: %w", what, groupServerError(err))
		}
	default: // MSNP8-9: by email and group number
		cmd := msnp.New("REM", "FL", email, groupID)
		if add {
			cmd = msnp.New("ADD", "FL", email, msnp.EncodeParam(ct.FriendlyName), groupID)
		}
		if _, err := s.conn.request(ctx, cmd); tolerate(err, errCodeAlreadyOnList) != nil {
			return fmt.Errorf("%s: %w", what, groupServerError(err))
		}
	}
	c.mu.Lock()
	if ct := c.list.get(email, false); ct != nil {
		ct.Groups = slices.DeleteFunc(ct.Groups, func(x string) bool { return x == groupID })
		if add {
			ct.Groups = append(ct.Groups, groupID)
		}
		if !s.d.addressBook && !s.d.contactGUIDs {
			ct.Groups = slices.DeleteFunc(ct.Groups, func(x string) bool { return x == defaultGroupID })
			if len(ct.Groups) == 0 {
				ct.Groups = []string{defaultGroupID}
			}
		}
	}
	c.list.gen++
	c.mu.Unlock()
	return nil
}

// MoveContactToGroup puts a contact into one group and takes it out of
// every other group, as MSN clients do when a contact is dragged.
func (c *Client) MoveContactToGroup(ctx context.Context, email, groupID string) error {
	if err := c.AddContactToGroup(ctx, email, groupID); err != nil {
		return err
	}
	ct, _ := c.Contact(email)
	for _, other := range ct.Groups {
		if other == groupID || other == defaultGroupID {
			continue
		}
		if err := c.RemoveContactFromGroup(ctx, email, other); err != nil {
			return err
		}
	}
	return nil
}

// RefreshContacts re-reads the contact list from the server where it can
// change behind our back (the address book of MSNP13+, edited by other
// clients of the account), emitting ContactListChanged when it changed. In
// MSNP8-12 the session's list is authoritative and nothing is fetched.
func (c *Client) RefreshContacts(ctx context.Context) error {
	s, err := c.connected()
	if err != nil {
		return fmt.Errorf("refresh contacts: %w", err)
	}
	if !s.d.addressBook {
		return nil
	}
	if err := c.refreshListCtx(ctx, s); err != nil {
		return fmt.Errorf("refresh contacts: %w", err)
	}
	return nil
}

// groupsChanged reports whether the groups or any contact's group
// membership differ between two lists.
func groupsChanged(oldGroups, newGroups []Group, oldContacts, newContacts map[string]*listEntry) bool {
	if !slices.Equal(oldGroups, newGroups) {
		return true
	}
	for email, ct := range newContacts {
		prev := oldContacts[email]
		if prev == nil {
			continue // a new contact is a list change already
		}
		a, b := slices.Clone(prev.Groups), slices.Clone(ct.Groups)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			return true
		}
	}
	return false
}

// groupFault turns address-book faults into the package's group errors.
func groupFault(err error) error {
	switch {
	case abch.IsFault(err, abch.FaultGroupAlreadyExists):
		return fmt.Errorf("%w (%w)", ErrGroupExists, err)
	case abch.IsFault(err, abch.FaultGroupNameTooLong):
		return fmt.Errorf("%w: too long (%w)", ErrInvalidGroupName, err)
	case abch.IsFault(err, "GroupDoesNotExist"):
		return fmt.Errorf("%w (%w)", ErrNoSuchGroup, err)
	}
	return err
}

// groupServerError turns NS group error codes into the package's errors.
func groupServerError(err error) error {
	var se *msnp.ServerError
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case 228:
		return fmt.Errorf("%w (%w)", ErrGroupExists, err)
	case 229:
		return fmt.Errorf("%w: too long (%w)", ErrInvalidGroupName, err)
	case 224:
		return fmt.Errorf("%w (%w)", ErrNoSuchGroup, err)
	}
	return err
}
