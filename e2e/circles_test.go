package e2e

import (
	"fmt"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// zoeEmail is a member of bob's circle who is not on my contact list.
const zoeEmail = "zoe@msn.test"

// testCircleRoom: bob's MSN group "Book club" (carol and zoe, who is not
// my contact, are in it) invites me; the invitation reaches the management
// room with the command to accept; accepting makes the group a room named
// after it with every member; messages cross both ways.
func (w *world) testCircleRoom(t *testing.T) {
	if err := w.srv.AddAccount(zoeEmail, peerPass, "Zoe Stranger"); err != nil {
		t.Fatal(err)
	}
	raw, err := w.srv.CreateCircle("Book club", bobEmail)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{carolEmail, zoeEmail} {
		if err := w.srv.AddCircleMember(raw, who, "Member"); err != nil {
			t.Fatal(err)
		}
	}
	cursor := w.user.Cursor()
	if err := w.srv.InviteToCircle(raw, bobEmail, meEmail); err != nil {
		t.Fatal(err)
	}
	notice, err := w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == w.mgmt && evt.Sender == w.bot && evt.Type == event.EventMessage &&
			strings.Contains(evt.Content.AsMessage().Body, "Book club")
	})
	if err != nil {
		t.Fatalf("no invitation notice in the management room: %v", err)
	}
	if body := notice.Content.AsMessage().Body; !strings.Contains(body, bobEmail) || !strings.Contains(body, "accept-circle "+raw) {
		t.Errorf("invitation notice %q lacks the inviter or the accept command", body)
	}
	answer, err := w.command("accept-circle Book club")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer, "Joined the MSN group \"Book club\"") {
		t.Fatalf("accept-circle answered %q", answer)
	}
	room := w.waitRoomNamed(t, "Book club")
	w.bookClub = room
	w.waitMembers(t, room, w.br.GhostMXID(bobEmail), w.br.GhostMXID(carolEmail), w.br.GhostMXID(zoeEmail), w.user.UserID)
	w.waitInSpace(t, room)
	// zoe is no contact: her ghost is named after her name in the circle.
	err = eventually(w.ctx, msgTimeout, func() error {
		resp, err := w.user.GetDisplayName(w.ctx, w.br.GhostMXID(zoeEmail))
		if err != nil {
			return err
		}
		if !strings.Contains(resp.DisplayName, "Zoe Stranger") {
			return fmt.Errorf("zoe's ghost is named %q", resp.DisplayName)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}

	id, _ := msnclient.ParseCircleID(raw)
	cursor = w.user.Cursor()
	if err := w.bob.SendCircleMessage(w.ctx, id, msnclient.TextMessage{Text: "welcome to the club"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), room, "welcome to the club"); err != nil {
		t.Fatal(err)
	}
	w.circleReply(t, room, id, "thanks, happy to be here", w.bob, w.carol)
}

// testCircleCreateGroup: on MSNP18 create-group with a name and addresses
// makes an MSN group (circle) and invites the people; once bob and carol
// accept, both get the message sent in its room.
func (w *world) testCircleCreateGroup(t *testing.T) {
	bobCursor, carolCursor := w.bob.cursor(), w.carol.cursor()
	answer, err := w.command(fmt.Sprintf(`create-group "Team MSN" %s %s`, bobEmail, carolEmail))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer, `Created the MSN group "Team MSN" (a circle)`) {
		t.Fatalf("create-group answered %q", answer)
	}
	room := w.waitRoomNamed(t, "Team MSN")
	var id msnclient.CircleID
	for _, p := range []struct {
		peer   *peer
		cursor int
	}{{w.bob, bobCursor}, {w.carol, carolCursor}} {
		evt, err := p.peer.waitAfter(w.ctx, p.cursor, msgTimeout, "the invitation to Team MSN", func(evt any) bool {
			inv, ok := evt.(*msnclient.CircleInvitation)
			return ok && inv.Circle.Name == "Team MSN"
		})
		if err != nil {
			t.Fatal(err)
		}
		inv := evt.(*msnclient.CircleInvitation)
		if inv.Inviter != "" && inv.Inviter != meEmail {
			t.Errorf("%s was invited by %q, want %s", p.peer.Email, inv.Inviter, meEmail)
		}
		id = inv.Circle.ID
		cursor := p.peer.cursor()
		if err := p.peer.AcceptCircleInvitation(w.ctx, id); err != nil {
			t.Fatalf("%s accepting: %v", p.peer.Email, err)
		}
		if _, err := p.peer.waitAfter(w.ctx, cursor, msgTimeout, "joining Team MSN", func(evt any) bool {
			j, ok := evt.(*msnclient.CircleJoined)
			return ok && j.Circle.ID == id
		}); err != nil {
			t.Fatal(err)
		}
	}
	w.waitMembers(t, room, w.br.GhostMXID(bobEmail), w.br.GhostMXID(carolEmail), w.user.UserID)
	w.circleReply(t, room, id, "first meeting on friday", w.bob, w.carol)

	// I created it, so I may invite: inviting dave's ghost into the room
	// invites dave to the group.
	cursor := w.user.Cursor()
	if _, err := w.user.InviteUser(w.ctx, room, &mautrix.ReqInviteUser{UserID: w.br.GhostMXID(daveEmail)}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == room && evt.Sender == w.bot && strings.Contains(evt.Content.AsMessage().Body, "Invited "+daveEmail)
	}); err != nil {
		t.Fatalf("no notice after inviting dave: %v", err)
	}
	if state := w.srv.CircleMembers(string(id))[daveEmail]; state != "WaitingResponse" {
		t.Errorf("dave's membership in the group is %q, want an invitation", state)
	}
}

// testCircleLeave: leaving a group's room asks in the management room to
// confirm with leave-circle, and the group is left only then.
func (w *world) testCircleLeave(t *testing.T) {
	if w.bookClub == "" {
		t.Fatal("no Book club room: run it after TestBridge/CircleRoom")
	}
	raw := ""
	for _, c := range w.srv.CirclesOf(meEmail) {
		if _, ok := w.srv.CircleMembers(c)[bobEmail]; ok && w.srv.CircleMembers(c)[zoeEmail] != "" {
			raw = c
		}
	}
	cursor := w.user.Cursor()
	if _, err := w.user.LeaveRoom(w.ctx, w.bookClub); err != nil {
		t.Fatal(err)
	}
	notice, err := w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == w.mgmt && evt.Sender == w.bot && strings.Contains(evt.Content.AsMessage().Body, "leave-circle")
	})
	if err != nil {
		t.Fatalf("no confirmation request after leaving the room: %v", err)
	}
	if body := notice.Content.AsMessage().Body; !strings.Contains(body, "still in the group") || !strings.Contains(body, "leave-circle "+raw) {
		t.Errorf("confirmation request is %q", body)
	}
	if state := w.srv.CircleMembers(raw)[meEmail]; state != "Accepted" {
		t.Fatalf("leaving the room alone changed my membership to %q", state)
	}
	answer, err := w.command("leave-circle " + raw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer, "Left the MSN group \"Book club\"") {
		t.Fatalf("leave-circle answered %q", answer)
	}
	if state, ok := w.srv.CircleMembers(raw)[meEmail]; ok {
		t.Errorf("still in the group on MSN (%q) after leave-circle", state)
	}
}

// waitInSpace waits until room is a child of the login's space.
func (w *world) waitInSpace(t *testing.T, room id.RoomID) {
	t.Helper()
	err := eventually(w.ctx, msgTimeout, func() error {
		space, err := w.spaceRoom()
		if err != nil {
			return err
		}
		var child event.SpaceChildEventContent
		if err := w.user.StateEvent(w.ctx, space, event.StateSpaceChild, room.String(), &child); err != nil || len(child.Via) == 0 {
			return fmt.Errorf("room %s is not in the MSN space %s (%v)", room, space, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// testCircleFromRoom: `!msn create-group circle` in a room made with the
// ghosts of bob and carol makes that room (not a new one) an MSN group
// named after it; bob and carol are invited and, once they accept, get its
// messages.
func (w *world) testCircleFromRoom(t *testing.T) {
	room := w.roomWithGhosts(t, "Quiz night", bobEmail, carolEmail)
	bobCursor, carolCursor := w.bob.cursor(), w.carol.cursor()
	if body := w.roomCommand(t, room, "!msn create-group circle"); !strings.Contains(body, "circle:") {
		t.Fatalf("create-group circle answered %q, want a circle", body)
	}
	var id msnclient.CircleID
	for _, p := range []struct {
		peer   *peer
		cursor int
	}{{w.bob, bobCursor}, {w.carol, carolCursor}} {
		evt, err := p.peer.waitAfter(w.ctx, p.cursor, msgTimeout, "the invitation to Quiz night", func(evt any) bool {
			inv, ok := evt.(*msnclient.CircleInvitation)
			return ok && inv.Circle.Name == "Quiz night"
		})
		if err != nil {
			t.Fatal(err)
		}
		id = evt.(*msnclient.CircleInvitation).Circle.ID
		cursor := p.peer.cursor()
		if err := p.peer.AcceptCircleInvitation(w.ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := p.peer.waitAfter(w.ctx, cursor, msgTimeout, "joining Quiz night", func(evt any) bool {
			j, ok := evt.(*msnclient.CircleJoined)
			return ok && j.Circle.ID == id
		}); err != nil {
			t.Fatal(err)
		}
	}
	w.circleReply(t, room, id, "first question: who wrote MSNP?", w.bob, w.carol)
	// The circle got this room: no second room was made for it.
	rooms, err := w.joinedRooms()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r := range rooms {
		var content event.RoomNameEventContent
		if err := w.user.StateEvent(w.ctx, r, event.StateRoomName, "", &content); err == nil && content.Name == "Quiz night" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d rooms are named Quiz night, want the one made for it", n)
	}
}

// circleReply sends text into a circle's room and checks that each peer
// gets it in the circle.
func (w *world) circleReply(t *testing.T, room id.RoomID, circle msnclient.CircleID, text string, peers ...*peer) {
	t.Helper()
	cursors := make([]int, len(peers))
	for i, p := range peers {
		cursors[i] = p.cursor()
	}
	if _, err := w.user.SendText(w.ctx, room, text); err != nil {
		t.Fatal(err)
	}
	for i, p := range peers {
		if _, err := p.waitAfter(w.ctx, cursors[i], msgTimeout, fmt.Sprintf("%q in the circle", text), func(evt any) bool {
			msg, ok := evt.(*msnclient.CircleMessage)
			return ok && msg.ID == circle && msg.From == meEmail && msg.Message.Text == text
		}); err != nil {
			t.Error(err)
		}
	}
}

// waitRoomNamed waits until the user is in a room named name and returns it.
func (w *world) waitRoomNamed(t *testing.T, name string) id.RoomID {
	t.Helper()
	var found id.RoomID
	err := eventually(w.ctx, msgTimeout, func() error {
		rooms, err := w.joinedRooms()
		if err != nil {
			return err
		}
		for room := range rooms {
			var content event.RoomNameEventContent
			if err := w.user.StateEvent(w.ctx, room, event.StateRoomName, "", &content); err == nil && content.Name == name {
				found = room
				return nil
			}
		}
		return fmt.Errorf("none of the %d rooms is named %q", len(rooms), name)
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// waitMembers waits until every one of want is joined to room.
func (w *world) waitMembers(t *testing.T, room id.RoomID, want ...id.UserID) {
	t.Helper()
	err := eventually(w.ctx, msgTimeout, func() error {
		members, err := w.user.JoinedMembers(w.ctx, room)
		if err != nil {
			return err
		}
		for _, u := range want {
			if _, ok := members.Joined[u]; !ok {
				return fmt.Errorf("room %s lacks %s (has %d members)", room, u, len(members.Joined))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
