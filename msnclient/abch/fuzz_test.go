package abch

import (
	"errors"
	"testing"
)

// checkDecodeError: decode errors must be one of the documented kinds.
func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	var fault *Fault
	var status *StatusError
	if errors.As(err, &fault) {
		_ = fault.Error()
		return
	}
	if errors.As(err, &status) {
		_ = status.Error()
		return
	}
	if err.Error() == "" {
		t.Fatal("empty error message")
	}
}

// FuzzFindMembershipResponse: arbitrary FindMembership replies never panic
// and give only non-deleted members with an email or circle id.
// Seeds: testdata/fuzz/FuzzFindMembershipResponse.
func FuzzFindMembershipResponse(f *testing.F) {
	f.Add(200, []byte(findMembershipResponse))
	f.Add(500, []byte(abFault("FindMembership", FaultFullSyncRequired, "Full sync required")))
	f.Fuzz(func(t *testing.T, status int, data []byte) {
		var env findMembershipEnvelope
		if err := decodeResponse("FindMembership", status, data, &env); err != nil {
			checkDecodeError(t, err)
			return
		}
		m := convertMemberships(&env.Result)
		for _, mem := range m.Members {
			if mem.Email == "" && mem.CircleID == "" {
				t.Fatalf("member without email or circle id: %+v", mem)
			}
			if !m.Has(mem.Role, mem.Email) && mem.Email != "" {
				t.Fatalf("Has(%s, %q) false for a listed member", mem.Role, mem.Email)
			}
		}
	})
}

// FuzzAddressBookResponse: arbitrary ABFindAll / ABFindContactsPaged
// replies never panic; Me never appears among Contacts.
// Seeds: testdata/fuzz/FuzzAddressBookResponse.
func FuzzAddressBookResponse(f *testing.F) {
	f.Add(false, 200, []byte(abFindAllResponse))
	f.Add(true, 200, []byte(abFindContactsPagedResponse))
	f.Add(false, 200, []byte(genericFault))
	f.Fuzz(func(t *testing.T, paged bool, status int, data []byte) {
		var r *abResult
		var err error
		if paged {
			var env abFindContactsPagedEnvelope
			err = decodeResponse("ABFindContactsPaged", status, data, &env)
			r = &env.Result
		} else {
			var env abFindAllEnvelope
			err = decodeResponse("ABFindAll", status, data, &env)
			r = &env.Result
		}
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		ab := convertAddressBook(r)
		for _, c := range ab.Contacts {
			if c.Type == ContactMe {
				t.Fatal("Me listed among contacts")
			}
			if c.ID == "" && c.Email == "" {
				t.Fatalf("contact without id and email: %+v", c)
			}
		}
		if ab.Me != nil && ab.Me.Type != ContactMe {
			t.Fatalf("Me has type %q", ab.Me.Type)
		}
		for _, g := range ab.Groups {
			if g.ID == "" {
				t.Fatal("group without id")
			}
		}
	})
}
