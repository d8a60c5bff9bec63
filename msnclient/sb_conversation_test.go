package msnclient_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

func TestChatDialectPairs(t *testing.T) {
	pairs := [][2]int{{8, 18}, {11, 15}, {18, 18}}
	for _, pair := range pairs {
		t.Run(fmt.Sprintf("MSNP%d_with_MSNP%d", pair[0], pair[1]), func(t *testing.T) {
			t.Parallel()
			srv, alice, bob, ctx := chatPair(t, pair[0], pair[1], nil)

			sent := msnclient.TextMessage{
				Text: "Hello Bob\nsecond line: ünïcødé ☃",
				Format: msnclient.Format{Font: "Comic Sans MS", Bold: true, Italic: true, Underline: true, Strike: true,
					Color: 0x0000ff, Charset: 0x86, PitchFamily: 34, RightToLeft: true},
			}
			if err := alice.Conversation("bob@example.com").SendText(ctx, sent); err != nil {
				t.Fatalf("alice to bob: %v", err)
			}
			got := chatWait[*msnclient.MessageReceived](t, bob, 1, nil)
			if got.From != "alice@example.com" || got.FromSelf || got.Message != sent {
				t.Errorf("bob received %+v, want %+v from alice", got, sent)
			}
			if len(got.Participants) != 1 || got.Participants[0] != "alice@example.com" {
				t.Errorf("bob's participants %v", got.Participants)
			}

			reply := msnclient.TextMessage{Text: "Hi Alice", Format: msnclient.Format{Font: "Segoe UI", Color: 0xff0000, Charset: 1}}
			if err := bob.Conversation("Alice@Example.com").SendText(ctx, reply); err != nil {
				t.Fatalf("bob to alice: %v", err)
			}
			back := chatWait[*msnclient.MessageReceived](t, alice, 1, nil)
			if back.From != "bob@example.com" || back.Message != reply {
				t.Errorf("alice received %+v, want %+v from bob", back, reply)
			}
			if n := srv.SwitchboardSessions(); n != 1 {
				t.Errorf("bob's reply should reuse the switchboard alice opened; %d sessions", n)
			}
		})
	}
}

func TestMultiPartyChat(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com", "bob@example.com", "carol@example.com")
	alice := chatConnect(t, srv, "alice@example.com", 18, nil)
	bob := chatConnect(t, srv, "bob@example.com", 15, nil)
	carol := chatConnect(t, srv, "carol@example.com", 8, nil)
	ctx := chatCtx(t)

	conv := alice.Conversation("bob@example.com")
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "just us"}); err != nil {
		t.Fatal(err)
	}
	if err := conv.Invite(ctx, "carol@example.com"); err != nil {
		t.Fatalf("invite carol: %v", err)
	}
	if got := conv.Participants(); fmt.Sprint(got) != "[bob@example.com carol@example.com]" {
		t.Errorf("participants after invite: %v", got)
	}
	joined := chatWait(t, bob, 1, func(e *msnclient.ParticipantJoined) bool { return e.Email == "carol@example.com" })
	if fmt.Sprint(joined.Participants) != "[alice@example.com carol@example.com]" {
		t.Errorf("bob sees participants %v", joined.Participants)
	}
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "all three"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*chatPeer{bob, carol} {
		m := chatWait(t, p, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "all three" })
		if m.From != "alice@example.com" || len(m.Participants) != 2 {
			t.Errorf("%s got %+v", p.email, m)
		}
	}
	if err := carol.Conversation("alice@example.com", "bob@example.com").SendText(ctx, msnclient.TextMessage{Text: "from carol"}); err != nil {
		t.Fatalf("carol answers in the same conversation: %v", err)
	}
	chatWait(t, alice, 1, func(m *msnclient.MessageReceived) bool {
		return m.Message.Text == "from carol" && m.From == "carol@example.com"
	})
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "from carol" })

	if err := bob.Conversation("alice@example.com", "carol@example.com").Leave(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*chatPeer{alice, carol} {
		left := chatWait(t, p, 1, func(e *msnclient.ParticipantLeft) bool { return e.Email == "bob@example.com" })
		if len(left.Participants) != 1 {
			t.Errorf("%s: participants after bob left: %v", p.email, left.Participants)
		}
	}
	if err := alice.Conversation("carol@example.com").SendText(ctx, msnclient.TextMessage{Text: "bob left"}); err != nil {
		t.Fatal(err)
	}
	m := chatWait(t, carol, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "bob left" })
	if fmt.Sprint(m.Participants) != "[alice@example.com]" {
		t.Errorf("carol's participants %v", m.Participants)
	}
	if n := chatCount(bob, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "bob left" }); n != 0 {
		t.Errorf("bob got a message after leaving")
	}
	if n := srv.SwitchboardSessions(); n != 1 {
		t.Errorf("the conversation without bob should reuse the session; %d sessions", n)
	}
}

func TestSendAfterSwitchboardTimeout(t *testing.T) {
	t.Parallel()
	srv, alice, bob, ctx := chatPair(t, 18, 11, nil)
	conv := alice.Conversation("bob@example.com")
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "first"}); err != nil {
		t.Fatal(err)
	}
	// A short server idle timeout, armed by the next message.
	srv.SetSwitchboardIdleTimeout(300 * time.Millisecond)
	if err := conv.SendTyping(ctx); err != nil {
		t.Fatal(err)
	}
	chatWait[*msnclient.ConversationClosed](t, alice, 1, nil)
	chatWait[*msnclient.ConversationClosed](t, bob, 1, nil)
	if err := srv.WaitSwitchboards(ctx, func(s [][]string) bool { return len(s) == 0 }); err != nil {
		t.Fatal(err)
	}
	srv.SetSwitchboardIdleTimeout(time.Hour)
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "second"}); err != nil {
		t.Fatalf("send after the switchboard timed out: %v", err)
	}
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "second" })
	if err := bob.Conversation("alice@example.com").SendText(ctx, msnclient.TextMessage{Text: "sync"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, alice, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "sync" })
	for _, text := range []string{"first", "second"} {
		if n := chatCount(bob, func(m *msnclient.MessageReceived) bool { return m.Message.Text == text }); n != 1 {
			t.Errorf("%q arrived %d times", text, n)
		}
	}
}

func TestClientIdleTimeoutClosesSwitchboard(t *testing.T) {
	t.Parallel()
	srv, alice, bob, ctx := chatPair(t, 15, 15, func(c *msnclient.Config) { c.SwitchboardIdleTimeout = time.Second })
	if err := alice.Conversation("bob@example.com").SendText(ctx, msnclient.TextMessage{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, bob, 1, func(e *msnclient.ParticipantLeft) bool { return e.Email == "alice@example.com" })
	chatWait[*msnclient.ConversationClosed](t, alice, 1, nil)
	if err := srv.WaitSwitchboards(ctx, func(s [][]string) bool { return len(s) == 0 }); err != nil {
		t.Fatal(err)
	}
}

func TestNAKReportsFailure(t *testing.T) {
	t.Parallel()
	srv, alice, bob, ctx := chatPair(t, 11, 11, nil)
	conv := alice.Conversation("bob@example.com")
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "ok"}); err != nil {
		t.Fatal(err)
	}
	srv.SetSwitchboardAck(msntest.AckNAK)
	err := conv.SendText(ctx, msnclient.TextMessage{Text: "refused"})
	if !errors.Is(err, msnclient.ErrNotDelivered) {
		t.Fatalf("NAK gave %v, want ErrNotDelivered", err)
	}
	srv.SetSwitchboardAck(msntest.AckNormal)
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "after"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "after" })
	if n := chatCount(bob, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "refused" }); n != 0 {
		t.Errorf("NAKed message arrived")
	}
}

func TestLongMessageSplit(t *testing.T) {
	t.Parallel()
	srv, alice, bob, ctx := chatPair(t, 18, 8, nil)
	var b strings.Builder
	words := []string{"héllo", "wörld", "日本語", "😀emoji", "plain", "ascii"}
	for i := 0; utf8.RuneCountInString(b.String()) < 5000; i++ {
		b.WriteString(words[i%len(words)])
		b.WriteByte(' ')
	}
	text := string([]rune(b.String())[:5000])
	before := srv.SwitchboardMessages()
	if err := alice.Conversation("bob@example.com").SendText(ctx, msnclient.TextMessage{Text: text, Format: msnclient.Format{Font: "Arial"}}); err != nil {
		t.Fatal(err)
	}
	parts := srv.SwitchboardMessages() - before
	if parts < 5 {
		t.Errorf("%d bytes sent in %d messages; each must stay under 1664 bytes", len(text), parts)
	}
	var got strings.Builder
	for i := 1; i <= parts; i++ {
		m := chatWait[*msnclient.MessageReceived](t, bob, i, nil)
		if !utf8.ValidString(m.Message.Text) || strings.ContainsRune(m.Message.Text, utf8.RuneError) {
			t.Errorf("part %d is not clean UTF-8", i)
		}
		if m.Message.Format.Font != "Arial" {
			t.Errorf("part %d lost its format", i)
		}
		got.WriteString(m.Message.Text)
	}
	if got.String() != text {
		t.Errorf("the parts do not add up to the message")
	}
}

func TestTypingAndNudge(t *testing.T) {
	t.Parallel()
	_, alice, bob, ctx := chatPair(t, 18, 9, nil)
	conv := alice.Conversation("bob@example.com")
	if err := conv.SendNudge(ctx); err != nil {
		t.Fatal(err)
	}
	if nudge := chatWait[*msnclient.Nudge](t, bob, 1, nil); nudge.From != "alice@example.com" || nudge.FromSelf {
		t.Errorf("nudge %+v", nudge)
	}
	if err := conv.SendTyping(ctx); err != nil {
		t.Fatal(err)
	}
	typing := chatWait[*msnclient.Typing](t, bob, 1, nil)
	if typing.From != "alice@example.com" || fmt.Sprint(typing.Participants) != "[alice@example.com]" {
		t.Errorf("typing %+v", typing)
	}
	back := bob.Conversation("alice@example.com")
	if err := back.SendTyping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := back.SendNudge(ctx); err != nil {
		t.Fatal(err)
	}
	chatWait(t, alice, 1, func(e *msnclient.Typing) bool { return e.From == "bob@example.com" })
	chatWait(t, alice, 1, func(e *msnclient.Nudge) bool { return e.From == "bob@example.com" })
}

func TestInviteOfflineContact(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com", "bob@example.com")
	alice := chatConnect(t, srv, "alice@example.com", 18, nil)
	err := alice.Conversation("bob@example.com").SendText(chatCtx(t), msnclient.TextMessage{Text: "anyone?"})
	if !errors.Is(err, msnclient.ErrContactOffline) {
		t.Fatalf("message to an offline contact gave %v, want ErrContactOffline", err)
	}
	if err := srv.WaitSwitchboards(chatCtx(t), func(s [][]string) bool { return len(s) == 0 }); err != nil {
		t.Errorf("the empty switchboard was not closed: %v", err)
	}
}

func TestMPOPEcho(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com", "bob@example.com")
	alice1 := chatConnect(t, srv, "alice@example.com", 18, nil)
	alice2 := chatConnect(t, srv, "alice@example.com", 18, nil)
	bob := chatConnect(t, srv, "bob@example.com", 18, nil)
	ctx := chatCtx(t)
	// Both endpoints of alice are rung; wait until both joined (a message
	// sent before an endpoint joins does not reach it, as on a real server).
	if err := bob.Conversation("alice@example.com").SendNudge(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitSwitchboards(ctx, func(s [][]string) bool { return len(s) == 1 && len(s[0]) == 3 }); err != nil {
		t.Fatal(err)
	}
	if err := bob.Conversation("alice@example.com").SendText(ctx, msnclient.TextMessage{Text: "to both"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*chatPeer{alice1, alice2} {
		m := chatWait(t, a, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "to both" })
		if fmt.Sprint(m.Participants) != "[bob@example.com]" {
			t.Errorf("participants with our second endpoint in the session: %v", m.Participants)
		}
	}
	if err := alice1.Conversation("bob@example.com").SendText(ctx, msnclient.TextMessage{Text: "from one"}); err != nil {
		t.Fatal(err)
	}
	echo := chatWait(t, alice2, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "from one" })
	if !echo.FromSelf || echo.From != "alice@example.com" {
		t.Errorf("echo %+v", echo)
	}
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "from one" })
	if n := chatCount(bob, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "from one" }); n != 1 {
		t.Errorf("bob got the message %d times", n)
	}
	if n := chatCount[*msnclient.ParticipantJoined](bob, func(e *msnclient.ParticipantJoined) bool { return e.Email == "alice@example.com" }); n != 1 {
		t.Errorf("bob saw alice join %d times (one per endpoint?)", n)
	}

	// One endpoint of alice leaving is not alice leaving.
	if err := alice2.Conversation("bob@example.com").Leave(); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitSwitchboards(ctx, func(s [][]string) bool { return len(s) == 1 && len(s[0]) == 2 }); err != nil {
		t.Fatal(err)
	}
	if err := bob.Conversation("alice@example.com").SendText(ctx, msnclient.TextMessage{Text: "still there?"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, alice1, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "still there?" })
	if n := chatCount(bob, func(e *msnclient.ParticipantLeft) bool { return e.Email == "alice@example.com" }); n != 0 {
		t.Errorf("bob saw alice leave when only one endpoint left")
	}
	if n := srv.SwitchboardSessions(); n != 1 {
		t.Errorf("%d sessions; the conversation should have continued", n)
	}
}

func TestBadAddresses(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com")
	alice := chatConnect(t, srv, "alice@example.com", 18, nil)
	ctx := chatCtx(t)
	for _, addr := range []string{"nobody", "a b@example.com", "x@y.z\r\nOUT"} {
		if err := alice.Conversation(addr).SendText(ctx, msnclient.TextMessage{Text: "hi"}); err == nil {
			t.Errorf("message to %q accepted", addr)
		}
	}
	if err := alice.Conversation().SendText(ctx, msnclient.TextMessage{Text: "hi"}); err == nil {
		t.Errorf("message to nobody accepted")
	}
	if err := alice.Conversation("ghost@example.com").SendText(ctx, msnclient.TextMessage{Text: "hi"}); !errors.Is(err, msnclient.ErrContactOffline) {
		t.Errorf("message to an unknown account gave %v, want ErrContactOffline", err)
	}
	if n := srv.SwitchboardMessages(); n != 0 {
		t.Errorf("%d messages relayed", n)
	}
}

func TestTextCannotInjectCommands(t *testing.T) {
	t.Parallel()
	srv, alice, bob, ctx := chatPair(t, 18, 18, nil)
	evil := msnclient.TextMessage{
		Text:   "hi\r\nMSG 9 A 3\r\n\r\nOUT\r\nBYE bob@example.com\n\nContent-Type: text/x-msmsgscontrol",
		Format: msnclient.Format{Font: "Arial\r\nTypingUser: bob@example.com\r\n\r\nOUT"},
	}
	if err := alice.Conversation("bob@example.com").SendText(ctx, evil); err != nil {
		t.Fatal(err)
	}
	m := chatWait[*msnclient.MessageReceived](t, bob, 1, nil)
	if want := strings.ReplaceAll(evil.Text, "\r\n", "\n"); m.Message.Text != want {
		t.Errorf("text arrived as %q, want %q", m.Message.Text, want)
	}
	if strings.ContainsAny(m.Message.Format.Font, "\r\n") || !strings.HasPrefix(m.Message.Format.Font, "Arial") {
		t.Errorf("font arrived as %q", m.Message.Format.Font)
	}
	if err := alice.Conversation("bob@example.com").SendText(ctx, msnclient.TextMessage{Text: "still connected"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, bob, 1, func(m *msnclient.MessageReceived) bool { return m.Message.Text == "still connected" })
	if n := srv.SwitchboardSessions(); n != 1 {
		t.Errorf("%d sessions: the first message broke the switchboard", n)
	}
	if n := chatCount[*msnclient.Typing](bob, nil) + chatCount[*msnclient.ParticipantLeft](bob, nil); n != 0 {
		t.Errorf("injected lines produced %d events", n)
	}
}
