package msntest

import (
	"fmt"
	"sort"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Test API for contact groups. Changes made here stand for another client
// of the account (the web, a WLM elsewhere): like Escargot, the server
// tells no logged-in session about group changes; clients see them on their
// next list fetch (SYN at login, ABFindAll/ABFindContactsPaged).

// AddGroup creates a group named name for owner and returns its id (the
// uuid; MSNP8-9 sessions see its number).
func (s *Server) AddGroup(owner, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[key(owner)]
	if a == nil {
		return "", fmt.Errorf("msntest: unknown account %s", owner)
	}
	if name == "" || len(name) > maxGroupName || a.groupByName(name) != nil {
		return "", fmt.Errorf("msntest: invalid or duplicate group name %q", name)
	}
	g := &group{id: msnp.NewUUID(), num: a.nextGroupNum(), name: name}
	a.groups = append(a.groups, g)
	a.listVer++
	return g.id, nil
}

// RenameGroup renames owner's group oldName to newName.
func (s *Server) RenameGroup(owner, oldName, newName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[key(owner)]
	if a == nil {
		return fmt.Errorf("msntest: unknown account %s", owner)
	}
	g := a.groupByName(oldName)
	if g == nil {
		return fmt.Errorf("msntest: %s has no group %q", owner, oldName)
	}
	g.name = newName
	a.listVer++
	return nil
}

// SetContactGroups puts owner's forward-list contact into exactly the named
// groups.
func (s *Server) SetContactGroups(owner, contact string, groupNames ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[key(owner)]
	if a == nil {
		return fmt.Errorf("msntest: unknown account %s", owner)
	}
	e := a.contacts[key(contact)]
	if e == nil || e.lists&ListFL == 0 {
		return fmt.Errorf("msntest: %s is not on %s's forward list", contact, owner)
	}
	ids := make([]string, 0, len(groupNames))
	for _, n := range groupNames {
		g := a.groupByName(n)
		if g == nil {
			return fmt.Errorf("msntest: %s has no group %q", owner, n)
		}
		ids = append(ids, g.id)
	}
	e.groups = ids
	a.listVer++
	return nil
}

// Groups returns owner's groups by name, each with the sorted emails of
// its contacts.
func (s *Server) Groups(owner string) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[key(owner)]
	if a == nil {
		return nil
	}
	out := make(map[string][]string, len(a.groups))
	for _, g := range a.groups {
		members := []string{}
		for email, e := range a.contacts {
			if contains(e.groups, g.id) {
				if c := s.accounts[email]; c != nil {
					email = c.email
				}
				members = append(members, email)
			}
		}
		sort.Strings(members)
		out[g.name] = members
	}
	return out
}
