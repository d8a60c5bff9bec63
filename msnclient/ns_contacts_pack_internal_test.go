package msnclient

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// TestPackEntriesKeepsTheList: the packed list has every entry with the
// same fields; changing one entry's groups afterwards (a contact added to
// a group) leaves the others' alone, although the entries share one block.
func TestPackEntriesKeepsTheList(t *testing.T) {
	in := map[string]*listEntry{}
	for i := range 5 {
		email := fmt.Sprintf("c%d@example.com", i)
		in[email] = &listEntry{
			Email: email, FriendlyName: email, ContactID: fmt.Sprintf("id-%d", i), Network: NetworkMSN,
			Lists: ListForward | ListAllow, Groups: []string{"g-1", "g-unknown"},
		}
	}
	in["c1@example.com"].FriendlyName = "Carol"
	in["c2@example.com"].Groups = nil
	in["c3@example.com"].Groups = []string{"g-2"}
	want := map[string]listEntry{}
	for email, ct := range in {
		want[email] = *ct
	}
	out := packEntries(in)
	if len(out) != len(want) {
		t.Fatalf("%d entries, want %d", len(out), len(want))
	}
	for email, w := range want {
		if got := out[email]; got == nil || !reflect.DeepEqual(*got, w) {
			t.Errorf("%s: %+v, want %+v", email, got, w)
		}
	}
	c0 := out["c0@example.com"]
	c0.Groups = append(c0.Groups, "g-2")
	c0.Groups = slices.DeleteFunc(c0.Groups, func(id string) bool { return id == "g-1" })
	for email, w := range want {
		if email == "c0@example.com" {
			continue
		}
		if got := out[email].Groups; !slices.Equal(got, w.Groups) {
			t.Errorf("%s: groups %q after another contact's changed, want %q", email, got, w.Groups)
		}
	}
	if !slices.Equal(c0.Groups, []string{"g-unknown", "g-2"}) {
		t.Errorf("changed groups %q", c0.Groups)
	}
}
