package bridge

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// peerServer is what peerClient needs of the fake server.
type peerServer interface {
	AddAccount(email, password, name string) error
	AddContact(owner, contact string, lists uint8) error
}

// peerClient signs in email (a mutual contact of the test account) as an
// MSN client of its own that records what it receives.
func peerClient(t *testing.T, srv peerServer, c *Connector, email string) (*msnclient.Client, *inbox) {
	t.Helper()
	if err := srv.AddAccount(email, "pw", "Friend"); err != nil {
		t.Fatal(err)
	}
	_ = srv.AddContact(testEmail, email, 1|2|8)
	_ = srv.AddContact(email, testEmail, 1|2|8)
	box := &inbox{ch: make(chan struct{}, 1)}
	peer := msnclient.NewClient(c.Config.Servers[0].clientConfig(email, "pw", msnp.NewGUID()), box.handle)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := peer.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	return peer, box
}

// remoteRecorder collects the remote events a client queues for bridgev2.
type remoteRecorder chan bridgev2.RemoteEvent

// waitMessage waits for a message event from sender and returns its portal.
func (r remoteRecorder) waitMessage(t *testing.T, sender string) networkid.PortalKey {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case evt := <-r:
			if evt.GetType() == bridgev2.RemoteEventMessage && evt.GetSender().Sender == makeUserID(sender) {
				return evt.GetPortalKey()
			}
		case <-deadline:
			t.Fatalf("no message from %s", sender)
		}
	}
}

// waitJoin waits for the member change that shows who joining and returns
// its portal.
func (r remoteRecorder) waitJoin(t *testing.T, who string) networkid.PortalKey {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case evt := <-r:
			change, ok := evt.(bridgev2.RemoteChatInfoChange)
			if !ok || evt.GetSender().Sender != makeUserID(who) {
				continue
			}
			info, err := change.GetChatInfoChange(context.Background(), nil)
			if err == nil && info.MemberChanges != nil {
				if mem, ok := info.MemberChanges.MemberMap[makeUserID(who)]; ok && mem.Membership == "join" {
					return evt.GetPortalKey()
				}
			}
		case <-deadline:
			t.Fatalf("no join of %s", who)
		}
	}
}

// While a group chat started from Matrix is being set up (bob is in the
// new switchboard, carol has not answered yet), a one-to-one message from
// bob belongs to bob's DM, not to the group room being set up; carol's
// join then shows in the group portal.
func TestGroupSetupKeepsDMMessagesInDM(t *testing.T) {
	srv, c := testServer(t)
	c.DB = testFileDB(t) // a live session writes concurrently
	bob, _ := peerClient(t, srv, c, "bob@example.com")
	peerClient(t, srv, c, "carol@example.com")
	release := srv.HoldRings("carol@example.com")
	defer release()

	m, states := testClient(t, c, testPassword)
	events := make(remoteRecorder, 100)
	m.queueRemote = func(evt bridgev2.RemoteEvent) { events <- evt }
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")
	cl, err := m.client()
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{"bob@example.com", "carol@example.com"}
	pk, err := m.groupPortalKey(ctx, parts)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		joined []string
		failed map[string]error
	}
	done := make(chan result, 1)
	go func() {
		j, f := m.startGroupConversation(ctx, cl, parts, pk)
		done <- result{j, f}
	}()
	// bob is in; carol's invitation is held back.
	err = srv.WaitSwitchboards(ctx, func(sessions [][]string) bool {
		for _, s := range sessions {
			if len(s) == 2 && s[1] == "bob@example.com" {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.Conversation(testEmail).SendText(ctx, msnclient.TextMessage{Text: "just between us"}); err != nil {
		t.Fatal(err)
	}
	if got, want := events.waitMessage(t, "bob@example.com"), makeDMPortalKey("bob@example.com", m.login.ID); got != want {
		t.Errorf("bob's one-to-one message went to %v, want his DM %v", got, want)
	}
	release()
	if got := events.waitJoin(t, "carol@example.com"); got != pk {
		t.Errorf("carol's join went to %v, want the group portal %v", got, pk)
	}
	res := <-done
	if len(res.joined) != 2 || len(res.failed) != 0 {
		t.Errorf("joined %v, failed %v", res.joined, res.failed)
	}
	if got, _ := m.portalFor(ctx, parts); got != pk {
		t.Errorf("the group's messages go to %v, want %v", got, pk)
	}
}
