package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

const (
	gdmUser  = id.UserID("@user:hs")
	gdmOther = id.UserID("@other:hs")
	gdmBot   = id.UserID("@msnbot:hs")
)

// gdmContact stands for the bridge's ghost parsing: @msn_<email>:hs is a
// contact, the user's own ghost is not.
func gdmContact(userID id.UserID) (string, bool) {
	local, _, _ := strings.Cut(strings.TrimPrefix(string(userID), "@"), ":")
	email, ok := strings.CutPrefix(local, "msn_")
	if !ok || email == "me@example.com" {
		return "", false
	}
	return email, true
}

func gdmGhost(email string) id.UserID { return id.UserID("@msn_" + email + ":hs") }

func gdmMember(sender, target id.UserID, membership event.Membership) *event.Event {
	key := target.String()
	return &event.Event{Type: event.StateMember, Sender: sender, StateKey: &key,
		Content: event.Content{Parsed: &event.MemberEventContent{Membership: membership, IsDirect: true}}}
}

func gdmState(creator id.UserID, members ...*event.Event) mautrix.RoomStateMap {
	empty := ""
	state := mautrix.RoomStateMap{
		event.StateCreate: {"": {Type: event.StateCreate, Sender: creator, StateKey: &empty}},
		event.StateMember: {},
	}
	for _, m := range members {
		state[event.StateMember][*m.StateKey] = m
	}
	return state
}

// gdmWithLevels adds the power levels sender sets at creation, with
// power level 100 for each of users (trusted_private_chat's invitees).
func gdmWithLevels(state mautrix.RoomStateMap, sender id.UserID, users ...id.UserID) mautrix.RoomStateMap {
	levels := &event.PowerLevelsEventContent{Users: map[id.UserID]int{}}
	for _, u := range users {
		levels.Users[u] = 100
	}
	empty := ""
	state[event.StatePowerLevels] = map[string]*event.Event{"": {Type: event.StatePowerLevels, Sender: sender,
		StateKey: &empty, Content: event.Content{Parsed: levels}}}
	return state
}

// A room the user created with the ghosts of bob and carol invited (as
// Element's "Start chat" does) is a group DM of bob and carol, with bob's
// ghost already joined by bridgev2; a single ghost, a room someone else
// made, ghosts that left or were invited by someone else, the user's own
// ghost and the bot do not make one. A ghost the user's power levels name
// (trusted_private_chat gives every invitee 100) counts before its invite
// arrives: the homeserver sends the invites one by one after creating the
// room, and bridgev2 may read the room after the first.
func TestGroupDMContacts(t *testing.T) {
	bob, carol, dave := gdmGhost("bob@example.com"), gdmGhost("carol@example.com"), gdmGhost("dave@example.com")
	for _, tc := range []struct {
		name  string
		state mautrix.RoomStateMap
		want  string
	}{
		{"element start chat", gdmState(gdmUser,
			gdmMember(gdmUser, gdmUser, event.MembershipJoin),
			gdmMember(bob, bob, event.MembershipJoin),
			gdmMember(gdmUser, carol, event.MembershipInvite)),
			"bob@example.com carol@example.com"},
		{"both still invited", gdmState(gdmUser,
			gdmMember(gdmUser, carol, event.MembershipInvite),
			gdmMember(gdmUser, bob, event.MembershipInvite),
			gdmMember(gdmUser, dave, event.MembershipInvite)),
			"bob@example.com carol@example.com dave@example.com"},
		{"a DM", gdmState(gdmUser,
			gdmMember(gdmUser, gdmUser, event.MembershipJoin),
			gdmMember(bob, bob, event.MembershipJoin)), ""},
		{"someone else's room", gdmState(gdmOther,
			gdmMember(bob, bob, event.MembershipJoin),
			gdmMember(gdmOther, carol, event.MembershipInvite)), ""},
		{"carol invited by someone else", gdmState(gdmUser,
			gdmMember(bob, bob, event.MembershipJoin),
			gdmMember(gdmOther, carol, event.MembershipInvite)), ""},
		{"carol refused", gdmState(gdmUser,
			gdmMember(bob, bob, event.MembershipJoin),
			gdmMember(carol, carol, event.MembershipLeave)), ""},
		{"own ghost and bot", gdmState(gdmUser,
			gdmMember(bob, bob, event.MembershipJoin),
			gdmMember(gdmUser, gdmGhost("me@example.com"), event.MembershipInvite),
			gdmMember(gdmBot, gdmBot, event.MembershipJoin)), ""},
		{"second invite still to come", gdmWithLevels(gdmState(gdmUser,
			gdmMember(gdmUser, gdmUser, event.MembershipJoin),
			gdmMember(bob, bob, event.MembershipJoin)), gdmUser, gdmUser, bob, carol),
			"bob@example.com carol@example.com"},
		{"a trusted DM", gdmWithLevels(gdmState(gdmUser,
			gdmMember(bob, bob, event.MembershipJoin)), gdmUser, gdmUser, bob), ""},
		{"levels set by someone else", gdmWithLevels(gdmState(gdmUser,
			gdmMember(bob, bob, event.MembershipJoin)), gdmOther, bob, carol), ""},
		{"carol refused, still in the levels", gdmWithLevels(gdmState(gdmUser,
			gdmMember(bob, bob, event.MembershipJoin),
			gdmMember(carol, carol, event.MembershipLeave)), gdmUser, bob, carol), ""},
		{"no create event", mautrix.RoomStateMap{event.StateMember: {
			bob.String():   gdmMember(bob, bob, event.MembershipJoin),
			carol.String(): gdmMember(gdmUser, carol, event.MembershipInvite)}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(groupDMContacts(gdmUser, tc.state, gdmContact), " ")
			if got != tc.want {
				t.Errorf("contacts %q, want %q", got, tc.want)
			}
		})
	}
}

// The room of a ghost's is_direct invite is kept for bridgev2's question
// that follows it: the latest invite counts, only for the user who sent
// it, once, and not after a minute.
func TestDMInvitesNoteAndTake(t *testing.T) {
	var d dmInvites
	bob, carol := gdmGhost("bob@example.com"), gdmGhost("carol@example.com")
	now := time.Now()
	d.note(bob, dmInvite{room: "!old", inviter: gdmUser, at: now})
	d.note(bob, dmInvite{room: "!new", inviter: gdmUser, at: now})
	d.note(carol, dmInvite{room: "!c", inviter: gdmOther, at: now})
	if _, ok := d.take(carol, gdmUser, now); ok {
		t.Error("an invite by another user was handed to this user")
	}
	if room, ok := d.take(bob, gdmUser, now); !ok || room != "!new" {
		t.Errorf("took %q %v, want the latest invite !new", room, ok)
	}
	if _, ok := d.take(bob, gdmUser, now); ok {
		t.Error("an invite was taken twice")
	}
	d.note(bob, dmInvite{room: "!late", inviter: gdmUser, at: now})
	if _, ok := d.take(bob, gdmUser, now.Add(dmInviteTTL+time.Second)); ok {
		t.Error("a stale invite was taken")
	}
	// Old notes are forgotten as new ones come.
	d.note(carol, dmInvite{room: "!c2", inviter: gdmUser, at: now.Add(2 * dmInviteTTL)})
	if len(d.byGhost) != 1 {
		t.Errorf("%d notes kept, want only the fresh one", len(d.byGhost))
	}
}

// Only an is_direct invite of a ghost is noted.
func TestGhostDMInvite(t *testing.T) {
	isGhost := func(u id.UserID) bool { _, ok := gdmContact(u); return ok }
	bob := gdmGhost("bob@example.com")
	if g, ok := ghostDMInvite(gdmMember(gdmUser, bob, event.MembershipInvite), isGhost); !ok || g != bob {
		t.Errorf("bob's DM invite: %q %v", g, ok)
	}
	notDirect := gdmMember(gdmUser, bob, event.MembershipInvite)
	notDirect.Content.Parsed.(*event.MemberEventContent).IsDirect = false
	for name, evt := range map[string]*event.Event{
		"join":       gdmMember(bob, bob, event.MembershipJoin),
		"not direct": notDirect,
		"a user":     gdmMember(gdmUser, gdmOther, event.MembershipInvite),
	} {
		if _, ok := ghostDMInvite(evt, isGhost); ok {
			t.Errorf("%s was taken for a ghost's DM invite", name)
		}
	}
}

// A new group chat's messages wait while its conversation is opened, and
// only its own: other chats are not held, a message gives up with its
// context, and ending twice is harmless.
func TestGroupDMOpensHoldMessages(t *testing.T) {
	var g groupDMOpens
	pk := networkid.PortalKey{ID: "group:1", Receiver: "me@example.com"}
	other := networkid.PortalKey{ID: "bob@example.com", Receiver: "me@example.com"}
	done := g.start(pk)
	if err := g.wait(context.Background(), other); err != nil {
		t.Fatalf("another chat was held: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := g.wait(ctx, pk); err == nil {
		t.Fatal("a message did not wait for the opening")
	}
	waited := make(chan error, 1)
	go func() { waited <- g.wait(context.Background(), pk) }()
	select {
	case err := <-waited:
		t.Fatalf("the message went before the opening ended: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	done()
	done()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the message stayed held after the opening ended")
	}
	if err := g.wait(context.Background(), pk); err != nil {
		t.Fatal(err)
	}
}

// A DM the user made counts as fresh for its own room only, once, and
// not after freshDMWindow.
func TestFreshDMs(t *testing.T) {
	var f freshDMs
	pk := networkid.PortalKey{ID: "bob@example.com", Receiver: "me@example.com"}
	now := time.Now()
	f.note(pk, "!dm", now)
	if f.take(pk, "!other", now) {
		t.Error("another room of the portal counted as the fresh DM")
	}
	if !f.take(pk, "!dm", now.Add(time.Minute)) {
		t.Error("the fresh DM was not recognised")
	}
	if f.take(pk, "!dm", now.Add(time.Minute)) {
		t.Error("a fresh DM was taken twice")
	}
	f.note(pk, "!dm", now)
	if f.take(pk, "!dm", now.Add(freshDMWindow+time.Second)) {
		t.Error("an old DM counted as fresh")
	}
}
