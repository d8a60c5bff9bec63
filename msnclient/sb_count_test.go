package msnclient_test

import (
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

func TestOpenSwitchboards(t *testing.T) {
	t.Parallel()
	_, alice, bob, ctx := chatPair(t, 18, 18, nil)
	if n := alice.OpenSwitchboards(); n != 0 {
		t.Fatalf("open switchboards before any conversation = %d, want 0", n)
	}
	conv := alice.Conversation("bob@example.com")
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "hi" })
	if n := alice.OpenSwitchboards(); n != 1 {
		t.Errorf("alice's open switchboards with a conversation = %d, want 1", n)
	}
	if n := bob.OpenSwitchboards(); n != 1 {
		t.Errorf("bob's open switchboards with a conversation = %d, want 1", n)
	}
	if err := conv.Leave(); err != nil {
		t.Fatal(err)
	}
	if n := alice.OpenSwitchboards(); n != 0 {
		t.Errorf("open switchboards after leaving = %d, want 0", n)
	}
}
