package msnclient_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// MSN messages carry no id, so a message that was written to a switchboard
// which then closed before the ACK is never sent again (the receiver could
// not drop the duplicate): the send reports "may not have been delivered".
func TestSwitchboardDroppedBeforeAckNotResent(t *testing.T) {
	t.Parallel()
	// The request timeout is far beyond the test's: only the drop can fail
	// the send here.
	srv, alice, bob, ctx := chatPair(t, 18, 18, func(c *msnclient.Config) { c.RequestTimeout = 10 * time.Minute })
	conv := alice.Conversation("bob@example.com")
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "open"}); err != nil {
		t.Fatal(err)
	}
	srv.SetSwitchboardAck(msntest.AckNever)
	errc := make(chan error, 1)
	go func() { errc <- conv.SendText(ctx, msnclient.TextMessage{Text: "in flight"}) }()
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "in flight" })
	srv.SetSwitchboardAck(msntest.AckNormal)
	srv.DropSwitchboards("alice@example.com")
	err := <-errc
	var unconfirmed *msnclient.UnconfirmedError
	if !errors.Is(err, msnclient.ErrDeliveryUnconfirmed) || !errors.As(err, &unconfirmed) || unconfirmed.Late {
		t.Fatalf("send whose switchboard dropped before the ACK gave %v, want an UnconfirmedError without Late", err)
	}
	if errors.Is(err, msnclient.ErrNotDelivered) {
		t.Errorf("%v claims the message was not delivered; it was", err)
	}
	// Later messages go through on a new switchboard, and the one in
	// flight was not sent again.
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "after"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "after" })
	if n := chatCount(bob, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "in flight" }); n != 1 {
		t.Errorf("message arrived %d times, want exactly once", n)
	}
}

func TestSwitchboardDroppedBeforeRelayNotResent(t *testing.T) {
	t.Parallel()
	srv, alice, bob, ctx := chatPair(t, 18, 18, nil)
	conv := alice.Conversation("bob@example.com")
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "one"}); err != nil {
		t.Fatal(err)
	}
	srv.DropSwitchboardAtNextMessage("alice@example.com")
	err := conv.SendText(ctx, msnclient.TextMessage{Text: "two"})
	if !errors.Is(err, msnclient.ErrDeliveryUnconfirmed) {
		t.Fatalf("message written to a switchboard that then dropped gave %v, want ErrDeliveryUnconfirmed", err)
	}
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "three"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "three" })
	if n := chatCount(bob, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "two" }); n != 0 {
		t.Errorf("the message was sent again (%d arrived); the server never relayed the first copy here", n)
	}
}

// A server that hangs and resumes: the send reports a timeout, the next
// message uses a new switchboard, and the acknowledgement that arrives
// later is reported with the same id.
func TestLateAckReported(t *testing.T) {
	t.Parallel()
	srv, alice, bob, ctx := chatPair(t, 18, 18, func(c *msnclient.Config) { c.RequestTimeout = 2 * time.Second })
	conv := alice.Conversation("bob@example.com")
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "open"}); err != nil {
		t.Fatal(err)
	}
	srv.SetSwitchboardAck(msntest.AckLater)
	err := conv.SendText(ctx, msnclient.TextMessage{Text: "slow"})
	var unconfirmed *msnclient.UnconfirmedError
	if !errors.As(err, &unconfirmed) || !unconfirmed.Late || !errors.Is(err, msnclient.ErrTimeout) {
		t.Fatalf("unacknowledged message gave %v, want a late-capable UnconfirmedError wrapping ErrTimeout", err)
	}
	srv.SetSwitchboardAck(msntest.AckNormal)
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "next"}); err != nil {
		t.Fatalf("message after a timeout: %v", err)
	}
	if n := srv.SwitchboardSessions(); n != 2 {
		t.Errorf("%d sessions: the silent switchboard should be kept for its late ACK and a new one used", n)
	}
	if n := chatCount[*msnclient.MessageAcknowledged](alice, nil); n != 0 {
		t.Fatalf("acknowledgement reported before the server sent it")
	}
	if n := srv.ReleaseSwitchboardAcks(); n != 1 {
		t.Fatalf("server held %d acknowledgements, want 1", n)
	}
	ack := chatWait[*msnclient.MessageAcknowledged](t, alice, 1, nil)
	if ack.ID != unconfirmed.ID || !ack.Delivered || fmt.Sprint(ack.Participants) != "[bob@example.com]" {
		t.Errorf("late acknowledgement %+v, want id %d delivered", ack, unconfirmed.ID)
	}
	// Once settled, the retired switchboard is left.
	if err := srv.WaitSwitchboards(ctx, func(s [][]string) bool { return len(s) == 1 }); err != nil {
		t.Errorf("the retired switchboard was not left after its late ACK: %v", err)
	}
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "next" })
	if n := chatCount(bob, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "slow" }); n != 1 {
		t.Errorf("slow message arrived %d times", n)
	}
}

// Typing alone never opens a switchboard: not to an online contact, and
// not to an offline one (an XFR SB and a failing CAL per typing start).
func TestTypingDoesNotOpenSwitchboard(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com", "bob@example.com", "carol@example.com")
	alice := chatConnect(t, srv, "alice@example.com", 18, nil)
	bob := chatConnect(t, srv, "bob@example.com", 18, nil)
	ctx := chatCtx(t)
	for _, who := range []string{"bob@example.com", "carol@example.com"} {
		if err := alice.Conversation(who).SendTyping(ctx); err != nil {
			t.Errorf("typing to %s without a conversation: %v", who, err)
		}
	}
	if n := srv.SwitchboardSessions(); n != 0 {
		t.Errorf("typing opened %d switchboards", n)
	}
	if n := alice.OpenSwitchboards(); n != 0 {
		t.Errorf("alice has %d switchboards after typing only", n)
	}
	// Once a conversation is open, typing goes through.
	if err := alice.Conversation("bob@example.com").SendText(ctx, msnclient.TextMessage{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := alice.Conversation("bob@example.com").SendTyping(ctx); err != nil {
		t.Fatal(err)
	}
	chatWait[*msnclient.Typing](t, bob, 1, nil)
}

// A group conversation with one member offline (CAL 217) goes on with the
// others; the invitee that answers late (as Pidgin does) finds us there,
// and a message it sends is not lost.
func TestGroupSurvivesUnreachableMember(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com", "bob@example.com", "carol@example.com")
	alice := chatConnect(t, srv, "alice@example.com", 18, nil)
	bob := chatConnect(t, srv, "bob@example.com", 15, nil)
	ctx := chatCtx(t)

	release := srv.HoldRings("bob@example.com")
	defer release()
	conv := alice.Conversation("bob@example.com", "carol@example.com")
	errc := make(chan error, 1)
	go func() { errc <- conv.SendText(ctx, msnclient.TextMessage{Text: "hello group"}) }()
	un := chatWait[*msnclient.ParticipantUnreachable](t, alice, 1, nil)
	if un.Email != "carol@example.com" || !errors.Is(un.Err, msnclient.ErrContactOffline) ||
		fmt.Sprint(un.Participants) != "[bob@example.com carol@example.com]" {
		t.Errorf("unreachable event %+v (err %v)", un, un.Err)
	}
	release() // bob's client rings its user, who opens the chat now
	if err := <-errc; err != nil {
		t.Fatalf("group message with one member offline: %v", err)
	}
	got := chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "hello group" })
	if got.From != "alice@example.com" {
		t.Errorf("bob got %+v", got)
	}
	// Bob answers in the switchboard he joined.
	if err := bob.Conversation("alice@example.com").SendText(ctx, msnclient.TextMessage{Text: "bob here"}); err != nil {
		t.Fatal(err)
	}
	reply := chatWait(t, alice, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "bob here" })
	if fmt.Sprint(reply.Participants) != "[bob@example.com carol@example.com]" {
		t.Errorf("bob's reply is in conversation %v, want the group", reply.Participants)
	}
	if n := srv.SwitchboardSessions(); n != 1 {
		t.Errorf("%d sessions, want the one group switchboard", n)
	}
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "second"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "second" })

	// Carol comes online: the next message invites her again.
	carol := chatConnect(t, srv, "carol@example.com", 18, nil)
	waitFrom(t, alice.recorder, 0, "carol online", func(p *msnclient.ContactPresence) bool {
		return p.Email == "carol@example.com" && p.Status != msnclient.StatusOffline
	})
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "carol?"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, alice, 1, func(e *msnclient.ParticipantJoined) bool { return e.Email == "carol@example.com" })
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "all three"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, carol, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "all three" })
	if n := srv.SwitchboardSessions(); n != 1 {
		t.Errorf("%d sessions after carol joined, want 1", n)
	}
}

// Nobody reachable: the send fails and the switchboard is left at once.
func TestGroupAllUnreachable(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com", "bob@example.com", "carol@example.com")
	alice := chatConnect(t, srv, "alice@example.com", 18, nil)
	ctx := chatCtx(t)
	err := alice.Conversation("bob@example.com", "carol@example.com").SendText(ctx, msnclient.TextMessage{Text: "anyone?"})
	if !errors.Is(err, msnclient.ErrContactOffline) {
		t.Fatalf("group of offline contacts gave %v, want ErrContactOffline", err)
	}
	if err := srv.WaitSwitchboards(ctx, func(s [][]string) bool { return len(s) == 0 }); err != nil {
		t.Errorf("the empty switchboard was not closed: %v", err)
	}
}

// Opening a switchboard (XFR, dial, USR, CAL, the wait for the join) holds
// no lock: the conversation answers meanwhile, and a second sender waits
// for the same switchboard instead of opening another.
func TestConversationNotLockedWhileOpening(t *testing.T) {
	t.Parallel()
	srv, alice, bob, ctx := chatPair(t, 18, 18, nil)
	release := srv.HoldRings("bob@example.com")
	defer release()
	conv := alice.Conversation("bob@example.com")
	errc := make(chan error, 2)
	go func() { errc <- conv.SendText(ctx, msnclient.TextMessage{Text: "first"}) }()
	if err := srv.WaitSwitchboards(ctx, func(s [][]string) bool { return len(s) == 1 }); err != nil {
		t.Fatal(err)
	}
	done := make(chan []string, 1)
	go func() { done <- conv.Participants() }()
	select {
	case p := <-done:
		if fmt.Sprint(p) != "[bob@example.com]" {
			t.Errorf("participants %v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Participants blocked while the switchboard was being opened")
	}
	go func() { errc <- conv.SendText(ctx, msnclient.TextMessage{Text: "second"}) }()
	release()
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "second" })
	if n := srv.SwitchboardSessions(); n != 1 {
		t.Errorf("two senders opened %d switchboards", n)
	}
}

// unansweredCall leaves alice's conversation with bob on a switchboard
// whose invitation to bob is still out: bob's rings are held and a first
// message gave up waiting for him. release sends the held rings.
func unansweredCall(ctx context.Context, t *testing.T, srv *msntest.Server, alice *chatPeer) (conv *msnclient.Conversation, release func()) {
	t.Helper()
	msnclient.SetSwitchboardJoinTimeout(alice.Client, 500*time.Millisecond)
	release = srv.HoldRings("bob@example.com")
	conv = alice.Conversation("bob@example.com")
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "are you there?"}); !errors.Is(err, msnclient.ErrTimeout) {
		release()
		t.Fatalf("send while bob does not answer: %v, want ErrTimeout", err)
	}
	return conv, release
}

// An invitee that answers after the opening gave up waiting (Pidgin rings
// its user and joins when the chat window opens) finds us still in the
// switchboard: it is not left while the invitation can be answered, and
// the next message goes there.
func TestLateJoinerFindsSwitchboard(t *testing.T) {
	t.Parallel()
	srv, alice, bob, ctx := chatPair(t, 18, 18, nil)
	conv, release := unansweredCall(ctx, t, srv, alice)
	defer release()
	if n := alice.OpenSwitchboards(); n != 1 {
		t.Fatalf("alice has %d switchboards; the one with the invitation out must stay", n)
	}
	release()
	chatWait(t, alice, 1, func(e *msnclient.ParticipantJoined) bool { return e.Email == "bob@example.com" })
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "there you are"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "there you are" })
	if n := srv.SwitchboardSessions(); n != 1 {
		t.Errorf("%d sessions, want the one bob joined", n)
	}
}

// TestInviteeSignedOutWhileRinging: a contact who signs out while our
// invitation to them is unanswered never answers it (the ring went to the
// session that ended). The switchboard waiting for them is given up when
// their sign-out arrives, and the next message rings their new session on
// a fresh switchboard instead of waiting out the join timeout there.
func TestInviteeSignedOutWhileRinging(t *testing.T) {
	t.Parallel()
	srv, alice, bob, ctx := chatPair(t, 18, 18, nil)
	conv, release := unansweredCall(ctx, t, srv, alice)
	defer release()
	// From now on a switchboard waits for its invitees longer than the
	// test runs: only giving it up lets the next message through.
	msnclient.SetSwitchboardJoinTimeout(alice.Client, 2*chatTimeout)
	_ = bob.Close()
	chatWait(t, alice, 1, func(e *msnclient.ContactPresence) bool {
		return e.Email == "bob@example.com" && e.Status == msnclient.StatusOffline
	})
	release() // the held ring goes to the session that ended
	bob2 := chatConnect(t, srv, "bob@example.com", 18, nil)
	defer bob2.Close()
	chatWait(t, alice, 2, func(e *msnclient.ContactPresence) bool {
		return e.Email == "bob@example.com" && e.Status != msnclient.StatusOffline
	})
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "welcome back"}); err != nil {
		t.Fatalf("send after bob signed in again: %v", err)
	}
	chatWait(t, bob2, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "welcome back" })
}
