package msnclient_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// circleSetup creates alice, bob and carol, a circle administered by alice
// with bob as a member and carol invited by alice.
func circleSetup(t *testing.T, name string) (*msntest.Server, msnclient.CircleID) {
	t.Helper()
	srv := startServer(t, msntest.Options{})
	addAccount(t, srv, "alice@example.com", "Alice")
	addAccount(t, srv, "bob@example.com", "Bob")
	addAccount(t, srv, "carol@example.com", "Carol")
	raw, err := srv.CreateCircle(name, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddCircleMember(raw, "bob@example.com", msntest.CircleMember); err != nil {
		t.Fatal(err)
	}
	if err := srv.InviteToCircle(raw, "alice@example.com", "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	id, err := msnclient.ParseCircleID(raw)
	if err != nil {
		t.Fatal(err)
	}
	return srv, id
}

// aliceAndBobJoined logs alice and bob in and waits until both joined id.
func aliceAndBobJoined(t *testing.T, srv *msntest.Server, id msnclient.CircleID) (alice, bob *testClient) {
	t.Helper()
	alice = nsConnect(t, config(srv, "alice@example.com", 18))
	bob = nsConnect(t, config(srv, "bob@example.com", 18))
	waitFrom(t, alice.rec, 0, "alice joins", circleJoined(id))
	waitFrom(t, bob.rec, 0, "bob joins", circleJoined(id))
	return alice, bob
}

func circleJoined(id msnclient.CircleID) func(*msnclient.CircleJoined) bool {
	return func(e *msnclient.CircleJoined) bool { return e.Circle.ID == id }
}

func TestCirclesDiscoverJoinAndMessage(t *testing.T) {
	srv, id := circleSetup(t, "Book club")
	alice := nsConnect(t, config(srv, "alice@example.com", 18))
	bob := nsConnect(t, config(srv, "bob@example.com", 18))
	carol := nsConnect(t, config(srv, "carol@example.com", 18))

	joined := waitFrom(t, alice.rec, 0, "alice joins the circle", circleJoined(id))
	if joined.Circle.Name != "Book club" || joined.Circle.Role != msnclient.CircleRoleAdmin || joined.Circle.State != msnclient.CircleAccepted {
		t.Errorf("alice's circle = %+v", joined.Circle)
	}
	var states []string
	for _, m := range joined.Members {
		states = append(states, m.Email+"="+string(m.State)+"/"+string(m.Role))
	}
	if got := strings.Join(states, " "); got != "bob@example.com=Accepted/Member carol@example.com=WaitingResponse/Member" {
		t.Errorf("members at join = %s", got)
	}
	waitFrom(t, bob.rec, 0, "bob joins the circle", circleJoined(id))
	inv := waitFrom[*msnclient.CircleInvitation](t, carol.rec, 0, "carol's invitation", nil)
	if inv.Circle.ID != id || inv.Inviter != "alice@example.com" || !inv.Circle.Pending() {
		t.Errorf("carol's invitation = %+v", inv)
	}
	if got := alice.Circles(); len(got) != 1 || got[0].ID != id {
		t.Errorf("alice's Circles() = %+v", got)
	}
	for _, who := range []string{"alice@example.com", "bob@example.com"} {
		if !srv.CircleJoined(string(id), who) {
			t.Errorf("server: %s did not join the circle", who)
		}
	}
	if srv.CircleJoined(string(id), "carol@example.com") {
		t.Error("server: carol joined a circle she was only invited to")
	}

	// Presence inside the circle (via=).
	waitFrom(t, alice.rec, 0, "bob online in the circle", func(e *msnclient.CircleMemberPresence) bool {
		return e.ID == id && e.Email == "bob@example.com" && e.Status == msnclient.StatusOnline && e.Name == "Bob"
	})
	mark := alice.rec.mark()
	if err := bob.SetStatus(ctxT(t), msnclient.StatusBusy); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, alice.rec, mark, "bob busy in the circle", func(e *msnclient.CircleMemberPresence) bool {
		return e.ID == id && e.Email == "bob@example.com" && e.Status == msnclient.StatusBusy
	})
	mark = alice.rec.mark()
	if err := bob.SetPersonalMessage(ctxT(t), "reading <b>Dune</b>", ""); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, alice.rec, mark, "bob's personal message in the circle", func(e *msnclient.CircleMemberPresence) bool {
		return e.ID == id && e.Email == "bob@example.com" && e.PSM == "reading <b>Dune</b>" && e.Status == msnclient.StatusBusy
	})
	if members, err := alice.CircleMembers(ctxT(t), id); err != nil || len(members) != 2 || members[0].Status != msnclient.StatusBusy {
		t.Errorf("CircleMembers with presence: %+v, %v", members, err)
	}

	// Text with formatting and line breaks, both ways.
	mark = bob.rec.mark()
	msg := msnclient.TextMessage{Text: "hello\nsecond line", Format: msnclient.Format{Font: "Comic Sans MS", Bold: true, Color: 0xff0000}}
	if err := alice.SendCircleMessage(ctxT(t), id, msg); err != nil {
		t.Fatal(err)
	}
	got := waitFrom[*msnclient.CircleMessage](t, bob.rec, mark, "alice's circle message", nil)
	if got.ID != id || got.From != "alice@example.com" || got.FromName != "Alice" || got.FromSelf ||
		got.Message.Text != msg.Text || !got.Message.Format.Bold || got.Message.Format.Color != 0xff0000 || got.Message.Format.Font != "Comic Sans MS" {
		t.Errorf("bob got %+v", got)
	}
	mark = alice.rec.mark()
	if err := bob.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: "hi all"}); err != nil {
		t.Fatal(err)
	}
	back := waitFrom[*msnclient.CircleMessage](t, alice.rec, mark, "bob's circle message", nil)
	if back.From != "bob@example.com" || back.Message.Text != "hi all" {
		t.Errorf("alice got %+v", back)
	}

	// Typing and nudge.
	mark = alice.rec.mark()
	if err := bob.SendCircleTyping(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, alice.rec, mark, "bob typing", func(e *msnclient.CircleTyping) bool { return e.ID == id && e.From == "bob@example.com" })
	mark = bob.rec.mark()
	if err := alice.SendCircleNudge(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, bob.rec, mark, "alice's nudge", func(e *msnclient.CircleNudge) bool { return e.ID == id && e.From == "alice@example.com" })

	// The invitee is not in the circle: nothing reached her, and she
	// cannot send.
	if n := countEvents[*msnclient.CircleMessage](carol.rec); n != 0 {
		t.Errorf("carol got %d circle messages", n)
	}
	if err := carol.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: "x"}); err == nil {
		t.Error("an invitee could send to the circle")
	}

	// Bob signs out: alice sees him offline in the circle.
	mark = alice.rec.mark()
	_ = bob.Close()
	waitFrom(t, alice.rec, mark, "bob offline in the circle", func(e *msnclient.CircleMemberPresence) bool {
		return e.ID == id && e.Email == "bob@example.com" && e.Status == msnclient.StatusOffline
	})
}

// countEvents counts the events of type T.
func countEvents[T any](r *recorder) int {
	_, n := nth[T](r, 0, -1, nil)
	return n
}

func TestCircleCreateInviteAcceptDeclineLeave(t *testing.T) {
	srv := startServer(t, msntest.Options{})
	for _, who := range []string{"alice", "bob", "carol"} {
		addAccount(t, srv, who+"@example.com", strings.ToUpper(who[:1])+who[1:])
	}
	alice := nsConnect(t, config(srv, "alice@example.com", 18))
	bob := nsConnect(t, config(srv, "bob@example.com", 18))
	carol := nsConnect(t, config(srv, "carol@example.com", 18))

	circle, err := alice.CreateCircle(ctxT(t), "Weekend\r\nOUT", []string{"bob@example.com", "Carol@Example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if circle.Name != "Weekend OUT" || circle.Role != msnclient.CircleRoleAdmin || circle.State != msnclient.CircleAccepted {
		t.Errorf("created %+v", circle)
	}
	id := circle.ID
	waitFrom(t, alice.rec, 0, "alice joins her new circle", circleJoined(id))
	if !srv.CircleJoined(string(id), "alice@example.com") {
		t.Error("server: alice did not join her new circle")
	}
	if got := srv.CircleMembers(string(id)); got["bob@example.com"] != "WaitingResponse" || got["carol@example.com"] != "WaitingResponse" {
		t.Errorf("server members after invitations: %v", got)
	}
	inv := waitFrom[*msnclient.CircleInvitation](t, bob.rec, 0, "bob's invitation", nil)
	if inv.Circle.ID != id || inv.Inviter != "alice@example.com" || inv.Circle.Name != "Weekend OUT" {
		t.Errorf("bob's invitation = %+v", inv)
	}
	waitFrom[*msnclient.CircleInvitation](t, carol.rec, 0, "carol's invitation", nil)

	// A plain member may not invite.
	markA := alice.rec.mark()
	if err := bob.AcceptCircleInvitation(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	bj := waitFrom(t, bob.rec, 0, "bob joins after accepting", circleJoined(id))
	if bj.Circle.Role != msnclient.CircleRoleMember {
		t.Errorf("bob's role = %s", bj.Circle.Role)
	}
	waitFrom(t, alice.rec, markA, "alice sees bob join", func(e *msnclient.CircleMemberJoined) bool {
		return e.ID == id && e.Email == "bob@example.com"
	})
	if err := bob.InviteToCircle(ctxT(t), id, "carol@example.com", ""); !errors.Is(err, msnclient.ErrCircleNotAllowed) {
		t.Errorf("a member's invitation: %v, want ErrCircleNotAllowed", err)
	}

	markC := carol.rec.mark()
	if err := carol.DeclineCircleInvitation(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, carol.rec, markC, "carol's circle removed", func(e *msnclient.CircleRemoved) bool { return e.ID == id })
	if _, ok := srv.CircleMembers(string(id))["carol@example.com"]; ok {
		t.Error("server: carol still in the circle after declining")
	}
	if len(carol.Circles()) != 0 {
		t.Errorf("carol's circles after declining: %+v", carol.Circles())
	}

	// Messages flow to the new member.
	markB := bob.rec.mark()
	if err := alice.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: "welcome"}); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, bob.rec, markB, "welcome message", func(e *msnclient.CircleMessage) bool { return e.Message.Text == "welcome" })

	// Bob leaves.
	markA, markB = alice.rec.mark(), bob.rec.mark()
	if err := bob.LeaveCircle(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, bob.rec, markB, "bob's circle removed", func(e *msnclient.CircleRemoved) bool { return e.ID == id })
	waitFrom(t, alice.rec, markA, "alice sees bob leave", func(e *msnclient.CircleMemberLeft) bool {
		return e.ID == id && e.Email == "bob@example.com"
	})
	if _, ok := srv.CircleMembers(string(id))["bob@example.com"]; ok {
		t.Error("server: bob still in the circle after leaving")
	}
	if err := bob.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: "still here?"}); !errors.Is(err, msnclient.ErrUnknownCircle) {
		t.Errorf("sending to a left circle: %v, want ErrUnknownCircle", err)
	}
}

func TestCircleTicketRejected(t *testing.T) {
	t.Run("fresh ticket accepted", func(t *testing.T) {
		srv, id := circleSetup(t, "Retry")
		srv.RejectCircleTickets(1)
		alice := nsConnect(t, config(srv, "alice@example.com", 18))
		waitFrom(t, alice.rec, 0, "join after one 911", circleJoined(id))
		if !srv.CircleJoined(string(id), "alice@example.com") {
			t.Error("server: not joined after the retry")
		}
		if n := countEvents[*msnclient.CircleJoinFailed](alice.rec); n != 0 {
			t.Errorf("%d CircleJoinFailed events after a successful retry", n)
		}
	})
	t.Run("rejected twice", func(t *testing.T) {
		srv, id := circleSetup(t, "Retry")
		srv.RejectCircleTickets(2)
		alice := nsConnect(t, config(srv, "alice@example.com", 18))
		failed := waitFrom[*msnclient.CircleJoinFailed](t, alice.rec, 0, "circle failure", nil)
		if !errors.Is(failed.Err, msnclient.ErrCircleTicketRejected) {
			t.Errorf("failure = %v, want ErrCircleTicketRejected", failed.Err)
		}
		if srv.CircleJoined(string(id), "alice@example.com") {
			t.Error("server: joined without authentication")
		}
		// The session itself is fine: contacts work, the circle is listed
		// but cannot be used.
		if got := alice.Circles(); len(got) != 1 || got[0].ID != id {
			t.Errorf("Circles() = %+v", got)
		}
		if err := alice.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: "x"}); err == nil {
			t.Error("sent to a circle that was never joined")
		}
		if err := alice.SetStatus(ctxT(t), msnclient.StatusAway); err != nil {
			t.Errorf("session unusable after the circle failure: %v", err)
		}
		// The next address book read brings a fresh ticket and the circle
		// is joined then; the failure was reported once.
		srv.RejectCircleTickets(2)
		if err := alice.RefreshContacts(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if n := countEvents[*msnclient.CircleJoinFailed](alice.rec); n != 1 {
			t.Errorf("%d CircleJoinFailed events after a second failure, want 1", n)
		}
		if err := alice.RefreshContacts(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		waitFrom(t, alice.rec, 0, "joined on a later read", circleJoined(id))
		if err := alice.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: "finally"}); err != nil {
			t.Errorf("send after the late join: %v", err)
		}
	})
}

func TestCircleHundredsOfMembers(t *testing.T) {
	srv, id := circleSetup(t, "Big")
	const n = 300
	for i := range n {
		email := fmt.Sprintf("m%03d@example.com", i)
		addAccount(t, srv, email, fmt.Sprintf("Member %d", i))
		if err := srv.AddCircleMember(string(id), email, msntest.CircleMember); err != nil {
			t.Fatal(err)
		}
	}
	alice := nsConnect(t, config(srv, "alice@example.com", 18))
	joined := waitFrom(t, alice.rec, 0, "join the big circle", circleJoined(id))
	if len(joined.Members) != n+2 { // bob, carol and the n others
		t.Fatalf("%d members at join, want %d", len(joined.Members), n+2)
	}
	members, err := alice.CircleMembers(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != n+2 || members[2].Email != "m000@example.com" || members[2].Name != "Member 0" {
		t.Errorf("CircleMembers: %d, third %+v", len(members), members[2])
	}
	// One of them talks.
	m := nsConnect(t, config(srv, "m123@example.com", 18))
	waitFrom(t, m.rec, 0, "member joins", circleJoined(id))
	mark := alice.rec.mark()
	if err := m.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: "hi from 123"}); err != nil {
		t.Fatal(err)
	}
	got := waitFrom[*msnclient.CircleMessage](t, alice.rec, mark, "message from a member", nil)
	if got.FromName != "Member 123" {
		t.Errorf("from name %q", got.FromName)
	}
}

func TestCircleNamesAndMessagesCannotInject(t *testing.T) {
	srv := startServer(t, msntest.Options{})
	addAccount(t, srv, "alice@example.com", "Alice")
	addAccount(t, srv, "bob@example.com", "Bob")
	raw, err := srv.CreateCircle("evil\r\nOUT\r\n<b>&amp;", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddCircleMember(raw, "bob@example.com", msntest.CircleAdmin); err != nil {
		t.Fatal(err)
	}
	id, _ := msnclient.ParseCircleID(raw)
	alice := nsConnect(t, config(srv, "alice@example.com", 18))
	bob := nsConnect(t, config(srv, "bob@example.com", 18))
	j := waitFrom(t, alice.rec, 0, "join", circleJoined(id))
	if strings.ContainsAny(j.Circle.Name, "\r\n") || !strings.Contains(j.Circle.Name, "<b>&amp;") {
		t.Errorf("circle name %q", j.Circle.Name)
	}
	waitFrom(t, bob.rec, 0, "bob joins", circleJoined(id))
	evil := "line\r\nSDG 0 5\r\n\r\nhello\r\nOUT\r\n"
	mark := bob.rec.mark()
	if err := alice.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: evil, Format: msnclient.Format{Font: "Arial\r\nX-Evil: 1"}}); err != nil {
		t.Fatal(err)
	}
	got := waitFrom[*msnclient.CircleMessage](t, bob.rec, mark, "the message", nil)
	if got.Message.Text != strings.ReplaceAll(evil, "\r\n", "\n") {
		t.Errorf("text %q", got.Message.Text)
	}
	if strings.ContainsAny(got.Message.Format.Font, "\r\n") {
		t.Errorf("font %q", got.Message.Format.Font)
	}
	// Both sessions survived.
	if err := alice.SetStatus(ctxT(t), msnclient.StatusAway); err != nil {
		t.Fatal(err)
	}
	if err := bob.InviteToCircle(ctxT(t), id, "alice@example.com\r\nOUT", "hi"); err == nil {
		t.Error("an email with CR/LF was accepted")
	}
}

func TestCirclesUnsupportedBelow18(t *testing.T) {
	for _, v := range []int{8, 11, 15} {
		t.Run(fmt.Sprint("MSNP", v), func(t *testing.T) {
			srv, id := circleSetup(t, "Old")
			alice := nsConnect(t, config(srv, "alice@example.com", v))
			if alice.SupportsCircles() || alice.Circles() != nil {
				t.Errorf("SupportsCircles %v, Circles %v", alice.SupportsCircles(), alice.Circles())
			}
			ctx := ctxT(t)
			calls := map[string]error{
				"members": func() error { _, err := alice.CircleMembers(ctx, id); return err }(),
				"message": alice.SendCircleMessage(ctx, id, msnclient.TextMessage{Text: "x"}),
				"typing":  alice.SendCircleTyping(ctx, id),
				"nudge":   alice.SendCircleNudge(ctx, id),
				"create":  func() error { _, err := alice.CreateCircle(ctx, "x", nil); return err }(),
				"invite":  alice.InviteToCircle(ctx, id, "bob@example.com", ""),
				"accept":  alice.AcceptCircleInvitation(ctx, id),
				"decline": alice.DeclineCircleInvitation(ctx, id),
				"leave":   alice.LeaveCircle(ctx, id),
				"psm":     alice.SetCirclePersonalMessage(ctx, id, "x"),
			}
			for name, err := range calls {
				if !errors.Is(err, msnclient.ErrCirclesUnsupported) {
					t.Errorf("%s: %v, want ErrCirclesUnsupported", name, err)
				}
			}
			if srv.CircleJoined(string(id), "alice@example.com") {
				t.Error("joined a circle below MSNP18")
			}
		})
	}
}

func TestCircleChangesWhileOnline(t *testing.T) {
	srv, id := circleSetup(t, "Live")
	alice := nsConnect(t, config(srv, "alice@example.com", 18))
	bob := nsConnect(t, config(srv, "bob@example.com", 18))
	carol := nsConnect(t, config(srv, "carol@example.com", 18))
	waitFrom(t, alice.rec, 0, "alice joins", circleJoined(id))
	waitFrom(t, bob.rec, 0, "bob joins", circleJoined(id))
	waitFrom[*msnclient.CircleInvitation](t, carol.rec, 0, "carol's invitation", nil)

	// A new circle made elsewhere (another client, the web) is joined.
	mark := alice.rec.mark()
	other, err := srv.CreateCircle("Made elsewhere", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	otherID, _ := msnclient.ParseCircleID(other)
	waitFrom(t, alice.rec, mark, "the new circle joined", circleJoined(otherID))

	// An invitation arriving while online (address book NOT).
	markB := bob.rec.mark()
	if err := srv.InviteToCircle(other, "alice@example.com", "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	inv := waitFrom[*msnclient.CircleInvitation](t, bob.rec, markB, "bob's new invitation", nil)
	if inv.Circle.ID != otherID || inv.Inviter != "alice@example.com" {
		t.Errorf("invitation %+v", inv)
	}

	// A rename.
	mark = alice.rec.mark()
	if err := srv.RenameCircle(string(id), "Renamed"); err != nil {
		t.Fatal(err)
	}
	up := waitFrom(t, alice.rec, mark, "rename", func(e *msnclient.CircleUpdated) bool { return e.Circle.ID == id })
	if up.Circle.Name != "Renamed" {
		t.Errorf("renamed to %q", up.Circle.Name)
	}

	// Carol accepts from another client: alice sees her join.
	mark = alice.rec.mark()
	if err := srv.AddCircleMember(string(id), "carol@example.com", msntest.CircleMember); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, alice.rec, mark, "carol joins", func(e *msnclient.CircleMemberJoined) bool { return e.ID == id && e.Email == "carol@example.com" })
	waitFrom(t, carol.rec, 0, "carol's circle joined", circleJoined(id))

	// Bob is removed by an administrator.
	mark, markB = alice.rec.mark(), bob.rec.mark()
	if err := srv.RemoveCircleMember(string(id), "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, bob.rec, markB, "bob's circle removed", func(e *msnclient.CircleRemoved) bool { return e.ID == id })
	waitFrom(t, alice.rec, mark, "bob left", func(e *msnclient.CircleMemberLeft) bool { return e.ID == id && e.Email == "bob@example.com" })
	if err := bob.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: "x"}); !errors.Is(err, msnclient.ErrUnknownCircle) {
		t.Errorf("removed member sends: %v", err)
	}
}

func TestCircleRejoinAfterReconnect(t *testing.T) {
	srv, id := circleSetup(t, "Again")
	alice, bob := aliceAndBobJoined(t, srv, id)

	mark := alice.rec.mark()
	srv.DropConnections("alice@example.com")
	waitFrom[*msnclient.Disconnected](t, alice.rec, mark, "alice disconnected", nil)
	if err := alice.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, alice.rec, mark, "alice joins again", circleJoined(id))
	if !srv.CircleJoined(string(id), "alice@example.com") {
		t.Error("server: not joined after reconnecting")
	}
	mark = alice.rec.mark()
	if err := bob.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: "welcome back"}); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, alice.rec, mark, "message after reconnecting", func(e *msnclient.CircleMessage) bool { return e.Message.Text == "welcome back" })
	if err := alice.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: "thanks"}); err != nil {
		t.Fatal(err)
	}
}

func TestCircleMessageRefusedIsReported(t *testing.T) {
	srv, id := circleSetup(t, "Refused")
	alice := nsConnect(t, config(srv, "alice@example.com", 18))
	waitFrom(t, alice.rec, 0, "alice joins", circleJoined(id))
	// The server answers the SDG with 201 (as for a From or To it does not
	// accept): the send fails instead of passing for delivered.
	srv.FailNext("SDG", 201)
	err := alice.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: "lost?"})
	if !errors.Is(err, msnclient.ErrNotDelivered) {
		t.Fatalf("refused SDG: %v, want ErrNotDelivered", err)
	}
	// The next one goes through.
	if err := alice.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: "again"}); err != nil {
		t.Fatal(err)
	}
}

func TestCircleLongMessageIsSplit(t *testing.T) {
	srv, id := circleSetup(t, "Long")
	alice, bob := aliceAndBobJoined(t, srv, id)
	long := strings.Repeat("ünïcödé words ", 400) // 6,400 bytes
	mark := bob.rec.mark()
	if err := alice.SendCircleMessage(ctxT(t), id, msnclient.TextMessage{Text: long}); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for n := 1; got.Len() < len(long); n++ {
		m := waitNth[*msnclient.CircleMessage](t, bob.rec, mark, n, testTimeout, fmt.Sprintf("part %d", n), nil)
		if len(m.Message.Text) > 1400 {
			t.Errorf("part %d has %d bytes", n, len(m.Message.Text))
		}
		got.WriteString(m.Message.Text)
	}
	if got.String() != long {
		t.Errorf("parts do not add up to the message (%d of %d bytes)", got.Len(), len(long))
	}
}

func TestCirclePersonalMessage(t *testing.T) {
	srv, id := circleSetup(t, "Status")
	alice, bob := aliceAndBobJoined(t, srv, id)
	mark := bob.rec.mark()
	if err := alice.SetCirclePersonalMessage(ctxT(t), id, "meeting\r\nOUT at <8>"); err != nil {
		t.Fatal(err)
	}
	up := waitFrom(t, bob.rec, mark, "the circle's message", func(e *msnclient.CircleUpdated) bool { return e.Circle.ID == id && e.Circle.PSM != "" })
	if up.Circle.PSM != "meeting OUT at <8>" || up.Circle.Name != "Status" {
		t.Errorf("bob sees %+v", up.Circle)
	}
	if c, _ := alice.Circle(id); c.PSM != "meeting OUT at <8>" {
		t.Errorf("alice's own view %+v", c)
	}
	// It survives an address book re-read, and a later member gets it.
	if err := bob.RefreshContacts(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if c, _ := bob.Circle(id); c.PSM != "meeting OUT at <8>" {
		t.Errorf("after a re-read %+v", c)
	}
	carol := nsConnect(t, config(srv, "carol@example.com", 18))
	waitFrom[*msnclient.CircleInvitation](t, carol.rec, 0, "carol's invitation", nil)
	if err := carol.AcceptCircleInvitation(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, carol.rec, 0, "carol sees the message", func(e *msnclient.CircleUpdated) bool { return e.Circle.PSM == "meeting OUT at <8>" })
	if err := alice.SetCirclePersonalMessage(ctxT(t), id, strings.Repeat("x", 130)); err == nil {
		t.Error("a 130-character circle message was accepted")
	}
}
