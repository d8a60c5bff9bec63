package msnclient_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// List bits as msntest uses them.
const (
	fl, al, bl, rl, pl uint8 = 1, 2, 4, 8, 16
)

// listMechanismVersions cover SYN (8, 11) and the address book (13, 15, 18).
var listMechanismVersions = []int{8, 11, 13, 15, 18}

func TestContactListMatchesServer(t *testing.T) {
	for _, v := range listMechanismVersions {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, msntest.Options{})
			addAccount(t, srv, "alice@example.com", "Alice")
			for _, e := range []string{"bob@example.com", "carol@example.com", "dave@example.net", "erin@example.com"} {
				addAccount(t, srv, e, e[:3])
			}
			addContact(t, srv, "alice@example.com", "bob@example.com", fl|al)
			addContact(t, srv, "bob@example.com", "alice@example.com", fl|al)
			addContact(t, srv, "alice@example.com", "carol@example.com", bl)
			addContact(t, srv, "alice@example.com", "dave@example.net", fl|al)
			addContact(t, srv, "erin@example.com", "alice@example.com", fl|al) // a pending request

			c := nsConnect(t, config(srv, "alice@example.com", v))
			want := srv.Contacts("alice@example.com")
			if v < 11 {
				want["erin@example.com"] &^= pl // no pending list before MSNP11
			}
			got := c.Contacts()
			if len(got) != len(want) {
				t.Fatalf("got %d contacts %+v, server has %v", len(got), got, want)
			}
			for _, ct := range got {
				if uint8(ct.Lists) != want[ct.Email] {
					t.Errorf("%s: lists %d, server %d", ct.Email, ct.Lists, want[ct.Email])
				}
			}
			if bob, _ := c.Contact("bob@example.com"); bob.FriendlyName != "bob" {
				t.Errorf("bob's name %q", bob.FriendlyName)
			}
			req := waitFrom(t, c.rec, 0, "request from erin", func(r *msnclient.ContactRequest) bool { return true })
			if req.Email != "erin@example.com" {
				t.Errorf("request from %s", req.Email)
			}
		})
	}
}

func TestContactOperationsChangeServer(t *testing.T) {
	for _, v := range listMechanismVersions {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, msntest.Options{})
			for _, e := range []string{"alice@example.com", "bob@example.com", "carol@example.com"} {
				addAccount(t, srv, e, e[:3])
			}
			c := nsConnect(t, config(srv, "alice@example.com", v))
			ctx := ctxT(t)
			const me, bob, carol = "alice@example.com", "bob@example.com", "carol@example.com"
			check := func(step, who string, want uint8) {
				t.Helper()
				if got := srv.ContactLists(me, who) & (fl | al | bl | pl); got != want {
					t.Errorf("after %s: server lists of %s = %d, want %d", step, who, got, want)
				}
				if got, _ := c.Contact(who); uint8(got.Lists)&(fl|al|bl|pl) != want {
					t.Errorf("after %s: local lists of %s = %d, want %d", step, who, got.Lists, want)
				}
			}

			if err := c.AddContact(ctx, "Bob@Example.com"); err != nil {
				t.Fatal(err)
			}
			check("add", bob, fl|al)
			if err := c.BlockContact(ctx, bob); err != nil {
				t.Fatal(err)
			}
			check("block", bob, fl|bl)
			checkMembers(t, srv, v, "block", "AddMember Block "+bob, "DeleteMember Allow "+bob)
			if err := c.BlockContact(ctx, bob); err != nil { // not on Allow any more: tolerated
				t.Fatalf("blocking twice: %v", err)
			}
			check("second block", bob, fl|bl)
			if err := c.UnblockContact(ctx, bob); err != nil {
				t.Fatal(err)
			}
			check("unblock", bob, fl|al)
			checkMembers(t, srv, v, "unblock", "AddMember Allow "+bob, "DeleteMember Block "+bob)
			if err := c.RemoveContact(ctx, bob); err != nil {
				t.Fatal(err)
			}
			check("remove", bob, al)

			// carol adds alice while alice is online: a request arrives.
			mark := c.rec.mark()
			addContact(t, srv, carol, me, fl|al)
			waitFrom(t, c.rec, mark, "request from carol", func(r *msnclient.ContactRequest) bool { return r.Email == carol })
			if err := c.AcceptContact(ctx, carol); err != nil {
				t.Fatal(err)
			}
			check("accept", carol, fl|al)
			if srv.ContactLists(me, carol)&rl == 0 {
				t.Error("carol lost the reverse list bit")
			}

			if err := c.AddContact(ctx, "nobody@example.com"); err == nil {
				t.Error("adding an unknown account succeeded")
			}
			if ct, ok := c.Contact("nobody@example.com"); ok {
				t.Errorf("failed add left a contact: %+v", ct)
			}
			if err := c.AddContact(ctx, "bad\r\nOUT"); err == nil {
				t.Error("invalid email accepted")
			}
		})
	}
}

func TestContactRemovedUsEvent(t *testing.T) {
	for _, v := range []int{11, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, msntest.Options{})
			addAccount(t, srv, "alice@example.com", "Alice")
			addAccount(t, srv, "bob@example.com", "Bob")
			addContact(t, srv, "bob@example.com", "alice@example.com", fl|al)
			addContact(t, srv, "alice@example.com", "bob@example.com", fl|al)
			c := nsConnect(t, config(srv, "alice@example.com", v))
			mark := c.rec.mark()
			addContact(t, srv, "bob@example.com", "alice@example.com", al)
			waitFrom[*msnclient.ContactListChanged](t, c.rec, mark, "list changed", nil)
			deadline := time.Now().Add(testTimeout)
			for {
				ct, _ := c.Contact("bob@example.com")
				if ct.Lists&msnclient.ListReverse == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("bob still on RL: %+v", ct)
				}
				waitFrom[*msnclient.ContactListChanged](t, c.rec, c.rec.mark(), "list changed", nil)
			}
		})
	}
}

// checkMembers asserts that, with the address book (MSNP13+), the last
// sharing-service changes of alice were want.
func checkMembers(t *testing.T, srv *msntest.Server, v int, step string, want ...string) {
	t.Helper()
	got := srv.MembershipChanges("alice@example.com")
	if v < 13 {
		if len(got) != 0 {
			t.Errorf("after %s: MSNP%d used the sharing service: %q", step, v, got)
		}
		return
	}
	if len(got) < len(want) || !slices.Equal(got[len(got)-len(want):], want) {
		t.Errorf("after %s: sharing-service changes %q, want them to end with %q", step, got, want)
	}
}

// TestBlockSharingFaults: Microsoft's "already a member" fault is success;
// any other fault fails the block and leaves the list as it was.
func TestBlockSharingFaults(t *testing.T) {
	for _, v := range []int{15, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, msntest.Options{})
			const me, bob = "alice@example.com", "bob@example.com"
			addAccount(t, srv, me, "Alice")
			addAccount(t, srv, bob, "Bob")
			addContact(t, srv, me, bob, fl|al)
			c := nsConnect(t, config(srv, me, v))
			ctx := ctxT(t)

			srv.FailNextSOAP("AddMember", "InternalError")
			if err := c.BlockContact(ctx, bob); err == nil || !strings.Contains(err.Error(), "InternalError") {
				t.Fatalf("block with a failing AddMember: %v", err)
			}
			if ct, _ := c.Contact(bob); ct.Lists&msnclient.ListBlock != 0 {
				t.Errorf("failed block shows bob blocked locally: %v", ct.Lists)
			}
			if got := srv.ContactLists(me, bob) & (al | bl); got != al {
				t.Errorf("server lists after a failed block: %d, want AL only", got)
			}

			srv.FailNextSOAP("AddMember", "MemberAlreadyExists")
			if err := c.BlockContact(ctx, bob); err != nil {
				t.Fatalf("block with MemberAlreadyExists: %v", err)
			}
			if got := srv.ContactLists(me, bob) & (al | bl); got != bl {
				t.Errorf("server lists after block: %d, want BL only", got)
			}
		})
	}
}
