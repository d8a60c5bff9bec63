package bridge

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"
)

// CreateGroup refuses what cannot be an MSN group conversation before
// anything is sent: fewer than two other people (yourself does not count),
// addresses that are not MSN addresses, more people than fit.
func TestCreateGroupRefusesBadParticipants(t *testing.T) {
	_, c := testServer(t)
	m, states := testClient(t, c, testPassword)
	m.Connect(context.Background())
	expectState(t, states, status.StateConnected, "")
	many := make([]networkid.UserID, maxSwitchboardInvitees+1)
	for i := range many {
		many[i] = makeUserID(fmt.Sprintf("c%d@example.com", i))
	}
	for _, tc := range []struct {
		name  string
		parts []networkid.UserID
		want  string
	}{
		{"one", []networkid.UserID{"bob@example.com"}, "at least two"},
		{"self does not count", []networkid.UserID{makeUserID(testEmail), "bob@example.com", "BOB@example.com"}, "at least two"},
		{"not an address", []networkid.UserID{"bob@example.com", "not-an-address"}, "not an MSN address"},
		{"injection", []networkid.UserID{"bob@example.com", "carol@example.com\r\nOUT"}, "not an MSN address"},
		{"too many", many, "At most 30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.CreateGroup(context.Background(), &bridgev2.GroupCreateParams{Type: groupTypeSwitchboard, Participants: tc.parts})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// A circle cannot be created below MSNP18: the error says so and names
// the type that works.
func TestCreateCircleNeedsMSNP18(t *testing.T) {
	_, c := testServer(t)
	c.Config.Servers[0].ProtocolVersions = []int{15}
	m, states := testClient(t, c, testPassword)
	m.Connect(context.Background())
	expectState(t, states, status.StateConnected, "")
	_, err := m.CreateGroup(context.Background(), &bridgev2.GroupCreateParams{Type: groupTypeCircle, Participants: []networkid.UserID{"bob@example.com"}})
	if err == nil || !strings.Contains(err.Error(), "need MSNP18") || !strings.Contains(err.Error(), "MSNP15") || !strings.Contains(err.Error(), "type group") {
		t.Errorf("circle on MSNP15: %v", err)
	}
}

// Membership changes other than inviting a contact's ghost change nothing
// on MSN and are accepted.
func TestHandleMatrixMembershipIgnoresOthers(t *testing.T) {
	_, c := testServer(t)
	m, _ := testClient(t, c, testPassword)
	for _, msg := range []*bridgev2.MatrixMembershipChange{
		{Type: bridgev2.Leave, Target: &bridgev2.Ghost{}},
		{Type: bridgev2.Kick, Target: &bridgev2.Ghost{}},
		{Type: bridgev2.Invite, Target: &bridgev2.UserLogin{}},
	} {
		if res, err := m.HandleMatrixMembership(context.Background(), msg); res != nil || err != nil {
			t.Errorf("%+v: %v %v", msg.Type, res, err)
		}
	}
	// Inviting our own ghost is refused.
	_, err := m.HandleMatrixMembership(context.Background(), &bridgev2.MatrixMembershipChange{Type: bridgev2.Invite, Target: ghostOf(testEmail)})
	if err == nil {
		t.Error("inviting yourself was accepted")
	}
}

func ghostOf(email string) *bridgev2.Ghost {
	return &bridgev2.Ghost{Ghost: &database.Ghost{ID: makeUserID(email)}}
}

// TestInviteWorkEndsWithSession: the work an invite starts (calling the
// person in, up to 90 s) runs on the session's context, tracked as the
// login's background work, so it stops when the session ends and a logout
// never finds it writing after the login's rows are gone.
func TestInviteWorkEndsWithSession(t *testing.T) {
	srv, c := testServer(t)
	m, states := testClient(t, c, testPassword)
	if err := m.sessionContext().Err(); err == nil {
		t.Fatal("invite work could start without a session")
	}
	m.Connect(context.Background())
	expectState(t, states, status.StateConnecting, "")
	expectState(t, states, status.StateConnected, "")
	ctx := m.sessionContext()
	if ctx.Err() != nil {
		t.Fatal("the session's context is already done")
	}
	srv.DropConnections(testEmail)
	select {
	case <-ctx.Done():
	case <-time.After(testTimeout):
		t.Fatal("invite work outlives the session it was started in")
	}
}
