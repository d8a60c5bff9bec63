package msnclient_test

import (
	"errors"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// Open calls everyone into one switchboard before anything is said (a group
// chat started from Matrix) and returns only once all who could be called
// joined, so that the first message reaches each of them: a message
// reaches only those in the switchboard when it is sent. Someone offline
// is reported and not waited for; concurrent opens share one switchboard.
func TestConversationOpenWaitsForEveryone(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com")
	alice := chatConnect(t, srv, "alice@example.com", 18, nil)
	bob := chatConnect(t, srv, "bob@example.com", 15, nil)
	carol := chatConnect(t, srv, "carol@example.com", 18, nil)
	ctx := chatCtx(t)

	release := srv.HoldRings("carol@example.com") // carol answers late
	defer release()
	conv := alice.Conversation("bob@example.com", "carol@example.com", "dave@example.com")
	opened := make(chan error, 2)
	for range 2 {
		go func() { opened <- conv.Open(ctx) }()
	}
	un := chatWait[*msnclient.ParticipantUnreachable](t, alice, 1, nil)
	if un.Email != "dave@example.com" || !errors.Is(un.Err, msnclient.ErrContactOffline) {
		t.Errorf("unreachable event %+v (err %v)", un, un.Err)
	}
	select {
	case err := <-opened:
		t.Fatalf("Open returned (%v) before carol joined", err)
	case <-time.After(200 * time.Millisecond):
	}
	release()
	for range 2 {
		if err := <-opened; err != nil {
			t.Fatalf("open: %v", err)
		}
	}
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "hello both"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*chatPeer{bob, carol} {
		got := chatWait(t, p, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "hello both" })
		if got.From != "alice@example.com" || len(got.Participants) != 2 {
			t.Errorf("%s got %+v, want alice's message in a three-way conversation", p.email, got)
		}
	}
	if n := srv.SwitchboardSessions(); n != 1 {
		t.Errorf("%d switchboards, want the one group switchboard", n)
	}
	// Opening again uses the switchboard that is up.
	if err := conv.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if n := srv.SwitchboardSessions(); n != 1 {
		t.Errorf("%d switchboards after opening again, want 1", n)
	}
}

// TestConversationOpenWaitsForLateJoiner: Open on a switchboard that is
// already up but still has an invitation out (an earlier message gave up
// waiting for carol and went to bob alone) waits for carol to join, so the
// next message reaches both.
func TestConversationOpenWaitsForLateJoiner(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com", "bob@example.com", "carol@example.com")
	alice := chatConnect(t, srv, "alice@example.com", 18, nil)
	chatConnect(t, srv, "bob@example.com", 18, nil)
	carol := chatConnect(t, srv, "carol@example.com", 18, nil)
	ctx := chatCtx(t)

	msnclient.SetSwitchboardJoinTimeout(alice.Client, 300*time.Millisecond)
	release := srv.HoldRings("carol@example.com")
	defer release()
	conv := alice.Conversation("bob@example.com", "carol@example.com")
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "bob first"}); err != nil {
		t.Fatal(err)
	}
	msnclient.SetSwitchboardJoinTimeout(alice.Client, chatTimeout)
	opened := make(chan error, 1)
	go func() { opened <- conv.Open(ctx) }()
	select {
	case err := <-opened:
		t.Fatalf("Open returned (%v) while carol's invitation is unanswered", err)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	if err := <-opened; err != nil {
		t.Fatalf("open: %v", err)
	}
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "both of you now"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, carol, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "both of you now" })
}
