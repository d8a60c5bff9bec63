package msnclient_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// groupVersions cover SYN without GUIDs (8), SYN with GUIDs (11) and the
// address book (15, 18).
var groupVersions = []int{8, 11, 15, 18}

// localGroups returns the client's groups by name with their members'
// emails, sorted, in the same shape as msntest.Server.Groups.
func localGroups(c *msnclient.Client) map[string][]string {
	out := make(map[string][]string)
	byID := make(map[string]string)
	for _, g := range c.Groups() {
		if g.ID == "0" {
			continue // MSNP8-9 "Other Contacts": not stored by the server
		}
		byID[g.ID] = g.Name
		out[g.Name] = []string{}
	}
	for _, ct := range c.Contacts() {
		for _, id := range ct.Groups {
			if name, ok := byID[id]; ok {
				out[name] = append(out[name], ct.Email)
			}
		}
	}
	for _, m := range out {
		slices.Sort(m)
	}
	return out
}

func TestContactGroupsRoundTrip(t *testing.T) {
	for _, v := range groupVersions {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			const me, bob, carol = "alice@example.com", "bob@example.com", "carol@example.com"
			srv := startServer(t, msntest.Options{})
			for _, e := range []string{me, bob, carol} {
				addAccount(t, srv, e, e[:3])
			}
			addContact(t, srv, me, bob, fl|al)
			addContact(t, srv, me, carol, fl|al)
			if _, err := srv.AddGroup(me, "Friends"); err != nil {
				t.Fatal(err)
			}
			if err := srv.SetContactGroups(me, bob, "Friends"); err != nil {
				t.Fatal(err)
			}
			c := nsConnect(t, config(srv, me, v))
			ctx := ctxT(t)
			check := func(step string, want map[string][]string) {
				t.Helper()
				if got := srv.Groups(me); !reflect.DeepEqual(got, want) {
					t.Errorf("after %s: server groups %v, want %v", step, got, want)
				}
				if got := localGroups(c.Client); !reflect.DeepEqual(got, want) {
					t.Errorf("after %s: local groups %v, want %v", step, got, want)
				}
			}
			check("login", map[string][]string{"Friends": {bob}})

			work, err := c.AddGroup(ctx, "Work <b>&amp;</b>")
			if err != nil {
				t.Fatalf("AddGroup: %v", err)
			}
			check("add group", map[string][]string{"Friends": {bob}, "Work <b>&amp;</b>": {}})
			if _, err := c.AddGroup(ctx, "friends"); !errors.Is(err, msnclient.ErrGroupExists) {
				t.Errorf("duplicate group: err %v, want ErrGroupExists", err)
			}
			for _, bad := range []string{"", "   ", "Evil\r\nOUT OTH", "tab\there", strings.Repeat("x", 62), "(No Group)", "bad\xffutf8"} {
				if _, err := c.AddGroup(ctx, bad); !errors.Is(err, msnclient.ErrInvalidGroupName) {
					t.Errorf("AddGroup(%q): err %v, want ErrInvalidGroupName", bad, err)
				}
			}

			if err := c.AddContactToGroup(ctx, carol, work.ID); err != nil {
				t.Fatalf("AddContactToGroup carol: %v", err)
			}
			if err := c.AddContactToGroup(ctx, bob, work.ID); err != nil {
				t.Fatalf("AddContactToGroup bob: %v", err)
			}
			check("copy to group", map[string][]string{"Friends": {bob}, "Work <b>&amp;</b>": {bob, carol}})
			if err := c.AddContactToGroup(ctx, "nobody@example.com", work.ID); !errors.Is(err, msnclient.ErrNotAContact) {
				t.Errorf("stranger into group: err %v, want ErrNotAContact", err)
			}
			if err := c.AddContactToGroup(ctx, bob, "no-such-group"); !errors.Is(err, msnclient.ErrNoSuchGroup) {
				t.Errorf("into unknown group: err %v, want ErrNoSuchGroup", err)
			}

			friends, _ := c.GroupByName("Friends")
			if err := c.MoveContactToGroup(ctx, carol, friends.ID); err != nil {
				t.Fatalf("MoveContactToGroup: %v", err)
			}
			check("move", map[string][]string{"Friends": {bob, carol}, "Work <b>&amp;</b>": {bob}})

			if err := c.RenameGroup(ctx, work.ID, "Colleagues"); err != nil {
				t.Fatalf("RenameGroup: %v", err)
			}
			if err := c.RenameGroup(ctx, work.ID, "FRIENDS"); !errors.Is(err, msnclient.ErrGroupExists) {
				t.Errorf("rename onto another group: err %v, want ErrGroupExists", err)
			}
			check("rename", map[string][]string{"Friends": {bob, carol}, "Colleagues": {bob}})

			if err := c.RemoveContactFromGroup(ctx, bob, work.ID); err != nil {
				t.Fatalf("RemoveContactFromGroup: %v", err)
			}
			check("remove from group", map[string][]string{"Friends": {bob, carol}, "Colleagues": {}})
			if err := c.RemoveGroup(ctx, work.ID); err != nil {
				t.Fatalf("RemoveGroup: %v", err)
			}
			check("remove group", map[string][]string{"Friends": {bob, carol}})
			if got, _ := c.Contact(bob); got.Lists&msnclient.ListForward == 0 {
				t.Errorf("bob left the contact list with the group")
			}

			// Another client of the account renames a group: the next
			// login sees it, whatever the dialect.
			if err := srv.RenameGroup(me, "Friends", "Best friends"); err != nil {
				t.Fatal(err)
			}
			_ = c.Close()
			c = nsConnect(t, config(srv, me, v))
			check("rename elsewhere, new login", map[string][]string{"Best friends": {bob, carol}})
		})
	}
}

// TestContactGroupsFollowOtherEndpoint: with MPOP (MSNP16+) another endpoint
// of the account changes groups while we are signed in; Escargot does not
// notify, and RefreshContacts reports the change.
func TestContactGroupsFollowOtherEndpoint(t *testing.T) {
	const me, bob = "alice@example.com", "bob@example.com"
	srv := startServer(t, msntest.Options{})
	addAccount(t, srv, me, "alice")
	addAccount(t, srv, bob, "bob")
	addContact(t, srv, me, bob, fl|al)
	if _, err := srv.AddGroup(me, "Friends"); err != nil {
		t.Fatal(err)
	}
	cfg := config(srv, me, 18)
	cfg.MachineGUID = "{11111111-1111-1111-1111-111111111111}"
	c := nsConnect(t, cfg)
	cfg2 := cfg
	cfg2.MachineGUID = "{22222222-2222-2222-2222-222222222222}"
	other := nsConnect(t, cfg2)
	ctx := ctxT(t)
	friends, ok := other.GroupByName("Friends")
	if !ok {
		t.Fatal("other endpoint has no Friends group")
	}
	if err := other.RenameGroup(ctx, friends.ID, "Pals"); err != nil {
		t.Fatal(err)
	}
	if err := other.AddContactToGroup(ctx, bob, friends.ID); err != nil {
		t.Fatal(err)
	}
	mark := c.rec.mark()
	if err := c.RefreshContacts(ctx); err != nil {
		t.Fatalf("RefreshContacts: %v", err)
	}
	waitFrom(t, c.rec, mark, "list changed", func(*msnclient.ContactListChanged) bool { return true })
	if got := localGroups(c.Client); !reflect.DeepEqual(got, map[string][]string{"Pals": {bob}}) {
		t.Errorf("groups after refresh: %v", got)
	}
	// Nothing changed since: no event.
	mark = c.rec.mark()
	if err := c.RefreshContacts(ctx); err != nil {
		t.Fatalf("RefreshContacts: %v", err)
	}
	if _, n := nthEvent[*msnclient.ContactListChanged](c.rec, mark); n != 0 {
		t.Errorf("unchanged refresh emitted ContactListChanged")
	}
}

func nthEvent[T any](r *recorder, from int) (T, int) {
	return nth[T](r, from, 1, nil)
}
