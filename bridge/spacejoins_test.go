package bridge

import (
	"slices"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/database"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// A reconnect does not check every contact's ghost in the login's space
// again once a sync put them all there: only contacts new on the forward
// list are joined. Until then (first sync of the process, or a join that
// failed), all are.
func TestSpaceJoinsNeeded(t *testing.T) {
	current := map[string]bool{"a@x.com": true, "b@x.com": true, "new@x.com": true}
	previous := map[string]*database.Contact{
		"a@x.com":   {Email: "a@x.com", Lists: uint8(msnclient.ListForward | msnclient.ListAllow)},
		"b@x.com":   {Email: "b@x.com", Lists: uint8(msnclient.ListForward)},
		"new@x.com": {Email: "new@x.com", Lists: uint8(msnclient.ListPending)}, // was only a request
	}
	if got := spaceJoinsNeeded(current, previous, false); !slices.Equal(got, []string{"a@x.com", "b@x.com", "new@x.com"}) {
		t.Errorf("before a complete sync: %v, want every contact", got)
	}
	if got := spaceJoinsNeeded(current, previous, true); !slices.Equal(got, []string{"new@x.com"}) {
		t.Errorf("after a complete sync: %v, want only the contact new on the list", got)
	}
}
