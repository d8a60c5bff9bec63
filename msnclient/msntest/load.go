package msntest

import (
	"encoding/json"
	"fmt"
	"io"
)

// AccountSpec describes an account and its contact list, for LoadAccounts.
type AccountSpec struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
	// Contacts maps a contact's email to the lists the account puts it on:
	// any of "FL", "AL", "BL". The other side's RL/PL follow automatically.
	Contacts map[string][]string `json:"contacts"`
}

// ParseAccounts reads a JSON array of AccountSpec, e.g.
//
//	[{"email": "alice@example.com", "password": "pass", "name": "Alice",
//	  "contacts": {"bob@example.com": ["FL", "AL"]}}]
func ParseAccounts(r io.Reader) ([]AccountSpec, error) {
	var specs []AccountSpec
	d := json.NewDecoder(io.LimitReader(r, maxBody))
	d.DisallowUnknownFields()
	if err := d.Decode(&specs); err != nil {
		return nil, fmt.Errorf("msntest: parse accounts: %w", err)
	}
	return specs, nil
}

// LoadAccounts adds every account, then every contact-list entry. It stops at
// the first error; accounts added before it stay.
func (s *Server) LoadAccounts(specs []AccountSpec) error {
	for _, sp := range specs {
		if err := s.AddAccount(sp.Email, sp.Password, sp.Name); err != nil {
			return err
		}
	}
	for _, sp := range specs {
		for contact, names := range sp.Contacts {
			var lists uint8
			for _, n := range names {
				bit := listBit(n)
				if bit == 0 || bit == ListRL || bit == ListPL {
					return fmt.Errorf("msntest: %s: contact %s: list %q is not FL, AL or BL", sp.Email, contact, n)
				}
				lists |= bit
			}
			if err := s.AddContact(sp.Email, contact, lists); err != nil {
				return err
			}
		}
	}
	return nil
}
