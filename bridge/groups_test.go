package bridge

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

func TestWantedGroupSpaces(t *testing.T) {
	groups := []msnclient.Group{
		{ID: "0", Name: "Other Contacts"}, // MSNP8-9 default group: no space
		{ID: "g2", Name: "Work"},
		{ID: "g1", Name: "Friends"},
		{ID: "g3", Name: "Empty"},
	}
	contacts := []msnclient.Contact{
		{Email: "Bob@Example.com", Lists: msnclient.ListForward | msnclient.ListAllow, Groups: []string{"g1", "g2"}},
		{Email: "carol@example.com", Lists: msnclient.ListForward, Groups: []string{"g2", "g2"}},
		{Email: "dave@example.com", Lists: msnclient.ListForward, Groups: []string{"0"}},
		{Email: "eve@example.com", Lists: msnclient.ListReverse | msnclient.ListPending, Groups: []string{"g1"}}, // not our contact
		{Email: "me@example.com", Lists: msnclient.ListForward, Groups: []string{"g1"}},
		{Email: "frank@example.com", Lists: msnclient.ListForward, Groups: []string{"gone"}},
	}
	got := wantedGroupSpaces(groups, contacts, "me@example.com")
	want := []groupSpaceWant{
		{Group: groups[3], Members: []string{}},
		{Group: groups[2], Members: []string{"bob@example.com"}},
		{Group: groups[1], Members: []string{"bob@example.com", "carol@example.com"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestSetDiff(t *testing.T) {
	added, removed := setDiff([]string{"a", "b", "c"}, []string{"b", "c", "d", "e"})
	if !reflect.DeepEqual(added, []string{"d", "e"}) || !reflect.DeepEqual(removed, []string{"a"}) {
		t.Errorf("added %v removed %v", added, removed)
	}
	if a, r := setDiff(nil, nil); a != nil || r != nil {
		t.Errorf("empty: %v %v", a, r)
	}
}

func TestSplitQuoted(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
		err  bool
	}{
		{[]string{"Work", "Colleagues"}, []string{"Work", "Colleagues"}, false},
		{[]string{`"Best`, `friends"`, `'Old`, `pals'`}, []string{"Best friends", "Old pals"}, false},
		{[]string{`"Best`, `friends`}, nil, true},
		{[]string{`""`, "x"}, []string{"", "x"}, false},
		{nil, nil, false},
	} {
		got, err := splitQuoted(tc.in)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitQuoted(%q) = %q, %v; want %q, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if got := groupArg([]string{"Best", "friends"}); got != "Best friends" {
		t.Errorf("unquoted multi-word group = %q", got)
	}
	if got := groupArg([]string{`"Best`, `friends"`}); got != "Best friends" {
		t.Errorf("quoted group = %q", got)
	}
}

func TestFormatGroups(t *testing.T) {
	if got := formatGroups("me@example.com", nil, nil); !strings.Contains(got, "no MSN contact groups") {
		t.Errorf("no groups: %q", got)
	}
	groups := []msnclient.Group{{ID: "g1", Name: "Friends"}, {ID: "g2", Name: "<b>Work</b>"}}
	contacts := []msnclient.Contact{{Email: "bob@example.com", Lists: msnclient.ListForward, Groups: []string{"g1"}}}
	got := formatGroups("me@example.com", groups, contacts)
	for _, want := range []string{"(2)", "• Friends (1): bob@example.com", "• <b>Work</b> (empty)"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	}
}
