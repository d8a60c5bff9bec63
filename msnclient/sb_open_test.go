package msnclient_test

import (
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// Open calls everyone into one switchboard before anything is said (a group
// chat started from Matrix), and a message sent while it opens shares that
// switchboard: each contact gets it once, in the three-way conversation.
func TestConversationOpenSharedWithFirstMessage(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com", "bob@example.com", "carol@example.com")
	alice := chatConnect(t, srv, "alice@example.com", 18, nil)
	bob := chatConnect(t, srv, "bob@example.com", 15, nil)
	carol := chatConnect(t, srv, "carol@example.com", 18, nil)
	ctx := chatCtx(t)

	conv := alice.Conversation("bob@example.com", "carol@example.com")
	opened := make(chan error, 1)
	go func() { opened <- conv.Open(ctx) }()
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "hello both"}); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Fatalf("open: %v", err)
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
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "again"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, carol, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "again" })
	for _, p := range []*chatPeer{bob, carol} {
		if n := chatCount(p, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "hello both" }); n != 1 {
			t.Errorf("%s got the first message %d times, want once", p.email, n)
		}
	}
	if n := srv.SwitchboardSessions(); n != 1 {
		t.Errorf("%d switchboards after opening again, want 1", n)
	}
}
