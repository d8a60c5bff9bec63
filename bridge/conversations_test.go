package bridge

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	_ "github.com/mattn/go-sqlite3"
	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/bridgev2"
	bdb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/mautrix-msn/mautrix-msn/database"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

var testDBCounter atomic.Int64

func testDB(t *testing.T) *database.Database {
	t.Helper()
	uri := fmt.Sprintf("file:bridgetest%d?mode=memory&cache=shared&_txlock=immediate", testDBCounter.Add(1))
	raw, err := dbutil.NewWithDialect(uri, "sqlite3")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	db := database.New(raw, zerolog.Nop())
	if err := db.Upgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func testLoginClient(t *testing.T) *MSNClient {
	t.Helper()
	c := &Connector{DB: testDB(t)}
	login := &bridgev2.UserLogin{UserLogin: &bdb.UserLogin{ID: "me@x.com"}, Log: zerolog.Nop()}
	return newMSNClient(c, login, &UserLoginMetadata{Email: "me@x.com"})
}

// One contact is a DM; several are a group portal that the same people
// find again, in any order, after the conversation closed.
func TestPortalFor(t *testing.T) {
	m := testLoginClient(t)
	ctx := context.Background()

	dm, err := m.portalFor(ctx, []string{"alice@x.com"})
	if err != nil || dm != makeDMPortalKey("alice@x.com", "me@x.com") {
		t.Fatalf("DM portal = %+v, %v", dm, err)
	}
	if _, err := m.portalFor(ctx, nil); err == nil {
		t.Error("conversation without participants got a portal")
	}

	group, err := m.portalFor(ctx, []string{"bob@x.com", "alice@x.com"})
	if err != nil || !isGroupPortalID(group.ID) || group.Receiver != "me@x.com" {
		t.Fatalf("group portal = %+v, %v", group, err)
	}
	m.convs.remove([]string{"alice@x.com", "bob@x.com"}) // switchboard closed
	again, err := m.portalFor(ctx, []string{"alice@x.com", "bob@x.com"})
	if err != nil || again != group {
		t.Errorf("same people got %+v, want %+v", again, group)
	}
	other, _ := m.portalFor(ctx, []string{"alice@x.com", "carol@x.com"})
	if other == group {
		t.Error("different people share a group portal")
	}

	// A fresh client (bridge restart) finds the stored mapping.
	m2 := newMSNClient(m.connector, m.login, m.meta)
	restarted, _ := m2.portalFor(ctx, []string{"bob@x.com", "alice@x.com"})
	if restarted != group {
		t.Errorf("after restart got %+v, want %+v", restarted, group)
	}
	parts, err := m2.groupParticipants(ctx, group)
	if err != nil || participantKey(parts) != "alice@x.com,bob@x.com" {
		t.Errorf("participants = %v, %v", parts, err)
	}
}

// A live group conversation keeps its portal while people join and leave.
func TestConversationTrackerMoves(t *testing.T) {
	tr := newConversationTracker()
	pk := portalKeyOf("group:1", "me")
	tr.set([]string{"a@x.com", "b@x.com"}, pk)
	if got, ok := tr.move([]string{"b@x.com", "a@x.com"}, []string{"a@x.com", "b@x.com", "c@x.com"}); !ok || got != pk {
		t.Fatalf("join move = %v %v", got, ok)
	}
	if _, ok := tr.lookup([]string{"a@x.com", "b@x.com"}); ok {
		t.Error("old participant set still mapped")
	}
	if got, ok := tr.lookup([]string{"c@x.com", "b@x.com", "a@x.com"}); !ok || got != pk {
		t.Error("new participant set not mapped")
	}
	if got, ok := tr.move([]string{"a@x.com", "b@x.com", "c@x.com"}, []string{"a@x.com", "c@x.com"}); !ok || got != pk {
		t.Fatalf("leave move = %v %v", got, ok)
	}
	if parts, ok := tr.participantsOf(pk); !ok || len(parts) != 2 {
		t.Errorf("participantsOf = %v %v", parts, ok)
	}
	// Down to one person: the leave still belongs to the group portal, but
	// a set of one person is that person's DM from now on.
	if got, ok := tr.move([]string{"a@x.com", "c@x.com"}, []string{"a@x.com"}); !ok || got != pk {
		t.Errorf("last leave = %v %v", got, ok)
	}
	if got, ok := tr.lookup([]string{"a@x.com"}); ok {
		t.Errorf("one person still mapped to group portal %v", got)
	}
	if _, ok := tr.participantsOf(pk); ok {
		t.Error("conversation of one person still tracked as the group")
	}
	if _, ok := tr.move([]string{"x@x.com"}, []string{"x@x.com", "y@x.com"}); ok {
		t.Error("untracked conversation moved")
	}
}

func joined(email string, participants ...string) *msnclient.ParticipantJoined {
	return &msnclient.ParticipantJoined{ConversationEvent: msnclient.ConversationEvent{Participants: participants}, Email: email}
}

func left(email string, participants ...string) *msnclient.ParticipantLeft {
	return &msnclient.ParticipantLeft{ConversationEvent: msnclient.ConversationEvent{Participants: participants}, Email: email}
}

// A DM that someone joins becomes a group portal with everyone as members;
// later joins and leaves are changes of that same portal; after the
// conversation closes, the same people come back to it.
func TestJoinLeaveMembership(t *testing.T) {
	m := testLoginClient(t)
	ctx := context.Background()

	if _, _, ok := m.joinChange(ctx, joined("alice@x.com", "alice@x.com")); ok {
		t.Error("first participant of a one-to-one conversation shown as a join")
	}
	pk, members, ok := m.joinChange(ctx, joined("bob@x.com", "alice@x.com", "bob@x.com"))
	if !ok || !isGroupPortalID(pk.ID) {
		t.Fatalf("second participant: %v %v", pk, ok)
	}
	for _, who := range []string{"alice@x.com", "bob@x.com", "me@x.com"} {
		if mem, ok := members.MemberMap[makeUserID(who)]; !ok || mem.Membership != "join" {
			t.Errorf("%s not a joined member: %+v", who, members.MemberMap)
		}
	}
	if !members.MemberMap[makeUserID("me@x.com")].IsFromMe {
		t.Error("the user is not marked as from me")
	}
	// Messages of the conversation now go to the group portal.
	if got, _ := m.portalFor(ctx, []string{"bob@x.com", "alice@x.com"}); got != pk {
		t.Errorf("messages go to %v, want %v", got, pk)
	}

	pk2, _, ok := m.joinChange(ctx, joined("carol@x.com", "alice@x.com", "bob@x.com", "carol@x.com"))
	if !ok || pk2 != pk {
		t.Errorf("third participant went to %v, want %v", pk2, pk)
	}
	pk3, change, ok := m.leaveChange(left("alice@x.com", "bob@x.com", "carol@x.com"))
	if !ok || pk3 != pk || change.MemberMap[makeUserID("alice@x.com")].Membership != "leave" {
		t.Errorf("leave = %v %+v %v", pk3, change, ok)
	}
	if _, _, ok := m.leaveChange(left("zed@x.com", "zed2@x.com")); ok {
		t.Error("leave of an unknown conversation shown")
	}

	// The switchboard closes; alice and bob talk again later: same portal.
	m.convs.remove([]string{"bob@x.com", "carol@x.com"})
	again, _, ok := m.joinChange(ctx, joined("bob@x.com", "bob@x.com", "alice@x.com"))
	if !ok || again != pk {
		t.Errorf("same people got %v, want %v", again, pk)
	}
}

// A group conversation that shrinks to one person must not capture that
// person's one-to-one traffic: messages from a switchboard with only bob go
// to bob's DM, and a DM that someone joins becomes a group of its own
// without dragging the old group portal along.
func TestShrunkGroupDoesNotCaptureDM(t *testing.T) {
	m := testLoginClient(t)
	ctx := context.Background()
	dm := makeDMPortalKey("bob@x.com", "me@x.com")

	group, _, ok := m.joinChange(ctx, joined("alice@x.com", "bob@x.com", "alice@x.com"))
	if !ok || !isGroupPortalID(group.ID) {
		t.Fatalf("group join = %v %v", group, ok)
	}
	if got, _, ok := m.leaveChange(left("alice@x.com", "bob@x.com")); !ok || got != group {
		t.Errorf("alice leaving shown in %v (%v), want %v", got, ok, group)
	}
	if got, err := m.portalFor(ctx, []string{"bob@x.com"}); err != nil || got != dm {
		t.Errorf("bob's message goes to %v (%v), want his DM %v", got, err, dm)
	}

	// carol joins a fresh DM with bob: a new group, not the old one.
	other, _, ok := m.joinChange(ctx, joined("carol@x.com", "bob@x.com", "carol@x.com"))
	if !ok || other == group || !isGroupPortalID(other.ID) {
		t.Errorf("carol joining bob's DM went to %v (%v); old group %v", other, ok, group)
	}
	// The first group is still found by its people.
	if got, _ := m.portalFor(ctx, []string{"alice@x.com", "bob@x.com"}); got != group {
		t.Errorf("alice and bob again got %v, want %v", got, group)
	}
}

// A tracker makes its maps on first use (most logins never have a group
// conversation): every operation works on a fresh one.
func TestConversationTrackerLazyMaps(t *testing.T) {
	pk := networkid.PortalKey{ID: "g1", Receiver: "login"}
	tr := newConversationTracker()
	if _, ok := tr.lookup([]string{"a@x.com", "b@x.com"}); ok {
		t.Fatal("a fresh tracker found a conversation")
	}
	tr.remove([]string{"a@x.com", "b@x.com"})
	tr.removePortal(pk)
	done := tr.settingUp([]string{"a@x.com"}, pk)
	if got, ok := tr.move([]string{"a@x.com"}, []string{"a@x.com", "b@x.com"}); !ok || got != pk {
		t.Fatalf("move during setup = %v, %v", got, ok)
	}
	done()
	if got, ok := tr.lookup([]string{"a@x.com", "b@x.com"}); !ok || got != pk {
		t.Fatalf("lookup after move = %v, %v", got, ok)
	}
}
