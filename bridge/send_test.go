package bridge

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// inbox collects the messages an MSN peer receives.
type inbox struct {
	mu   sync.Mutex
	msgs []*msnclient.MessageReceived
	ch   chan struct{}
}

func (b *inbox) handle(evt any) {
	if msg, ok := evt.(*msnclient.MessageReceived); ok {
		b.mu.Lock()
		b.msgs = append(b.msgs, msg)
		b.mu.Unlock()
		select {
		case b.ch <- struct{}{}:
		default:
		}
	}
}

func (b *inbox) wait(t *testing.T, text string) *msnclient.MessageReceived {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		b.mu.Lock()
		for _, m := range b.msgs {
			if m.Message.Text == text {
				b.mu.Unlock()
				return m
			}
		}
		b.mu.Unlock()
		select {
		case <-b.ch:
		case <-deadline:
			t.Fatalf("peer never got %q", text)
		}
	}
}

// A Matrix message goes out through the switchboard with its formatting and
// is reported sent only after MSN acknowledged it; a message to an offline
// contact fails with a reason.
func TestHandleMatrixMessageSends(t *testing.T) {
	srv, c := testServer(t)
	for _, email := range []string{"friend@example.com", "away@example.com"} {
		if err := srv.AddAccount(email, "pw", "Friend"); err != nil {
			t.Fatal(err)
		}
		_ = srv.AddContact(testEmail, email, 1|2|8)
		_ = srv.AddContact(email, testEmail, 1|2|8)
	}
	box := &inbox{ch: make(chan struct{}, 1)}
	peerCfg := c.Config.Servers[0].clientConfig("friend@example.com", "pw", msnp.NewGUID())
	peer := msnclient.NewClient(peerCfg, box.handle)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := peer.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	m, states := testClient(t, c, testPassword)
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")

	send := func(to string, content *event.MessageEventContent) (*bridgev2.MatrixMessageResponse, error) {
		return m.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
			Content: content,
			Portal:  testPortal(makeDMPortalKey(to, m.login.ID)),
		}})
	}
	resp, err := send("friend@example.com", &event.MessageEventContent{
		MsgType: event.MsgText, Body: "**hi**", Format: event.FormatHTML, FormattedBody: "<b>hi there</b>",
	})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if resp.DB == nil || resp.DB.ID == "" || resp.DB.SenderID != makeUserID(testEmail) {
		t.Errorf("response = %+v", resp.DB)
	}
	got := box.wait(t, "hi there")
	if !got.Message.Format.Bold || got.From != testEmail {
		t.Errorf("peer got %+v", got)
	}

	if _, err := send("friend@example.com", &event.MessageEventContent{MsgType: event.MsgEmote, Body: "waves"}); err != nil {
		t.Fatalf("emote: %v", err)
	}
	box.wait(t, "* Me Myself waves")

	// MSNP18: a message to an offline contact is stored as an offline
	// message for later delivery.
	resp, err = send("away@example.com", &event.MessageEventContent{MsgType: event.MsgText, Body: "anyone?", Format: event.FormatHTML, FormattedBody: "<b>anyone</b>?"})
	if err != nil || resp == nil || resp.DB == nil {
		t.Fatalf("message to offline contact: %v", err)
	}
	if got := srv.OfflineMessages("away@example.com"); len(got) != 1 || got[0].Text != "anyone?" || got[0].From != testEmail {
		t.Errorf("stored offline messages %+v, want the plain text", got)
	}
}

// offlineSetup connects me (offering versions, nil: all) with contact as
// a mutual contact who is not signed in, and returns a sender of Matrix
// text to that contact's DM.
func offlineSetup(t *testing.T, versions []int, contact string) (*msntest.Server, *Connector, func(text string) (*bridgev2.MatrixMessageResponse, error)) {
	t.Helper()
	srv, c := testServer(t)
	c.Config.Servers[0].ProtocolVersions = versions
	if err := srv.AddAccount(contact, "pw", "Contact"); err != nil {
		t.Fatal(err)
	}
	_ = srv.AddContact(testEmail, contact, 1|2|8)
	_ = srv.AddContact(contact, testEmail, 1|2|8)
	m, states := testClient(t, c, testPassword)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")
	return srv, c, func(text string) (*bridgev2.MatrixMessageResponse, error) {
		return m.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
			Content: &event.MessageEventContent{MsgType: event.MsgText, Body: text},
			Portal:  testPortal(makeDMPortalKey(contact, m.login.ID)),
		}})
	}
}

// TestOfflineContactOldDialect: MSNP8-12 have no offline messages; the
// failure status stays, with that reason.
func TestOfflineContactOldDialect(t *testing.T) {
	srv, _, send := offlineSetup(t, []int{12}, "away@example.com")
	_, err := send("anyone?")
	var st bridgev2.MessageStatus
	if !errors.As(err, &st) || st.Status != event.MessageStatusFail || !strings.Contains(st.Message, "offline") || !strings.Contains(st.Message, "MSNP13") {
		t.Errorf("message to offline contact on MSNP12: %v (%+v)", err, st)
	}
	if len(srv.OfflineMessages("away@example.com")) != 0 {
		t.Error("an offline message was stored on MSNP12")
	}
}

// TestOfflineMessageRefused: when the server refuses to store the offline
// message, the Matrix message fails with that reason.
func TestOfflineMessageRefused(t *testing.T) {
	srv, _, send := offlineSetup(t, nil, "away@example.com")
	srv.FailNextSOAP("Store", "Fault.unavailable")
	_, err := send("anyone?")
	var st bridgev2.MessageStatus
	if !errors.As(err, &st) || st.Status != event.MessageStatusFail || !strings.Contains(st.Message, "did not store") || !strings.Contains(st.Message, "Fault.unavailable") {
		t.Errorf("refused offline message: %v (%+v)", err, st)
	}
	if len(srv.OfflineMessages("away@example.com")) != 0 {
		t.Error("a refused offline message was stored")
	}
}

// TestOfflineMessageToInvisibleContact: a contact who appears offline
// (invisible) cannot be reached through a switchboard; the message is
// stored for them as an offline message.
func TestOfflineMessageToInvisibleContact(t *testing.T) {
	srv, c, send := offlineSetup(t, nil, "hidden@example.com")
	peerCfg := c.Config.Servers[0].clientConfig("hidden@example.com", "pw", msnp.NewGUID())
	peerCfg.InitialStatus = msnclient.StatusInvisible
	peer := msnclient.NewClient(peerCfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := peer.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if resp, err := send("I know you are there"); err != nil || resp == nil {
		t.Fatalf("message to an invisible contact: %v", err)
	}
	if got := srv.OfflineMessages("hidden@example.com"); len(got) != 1 || got[0].Text != "I know you are there" {
		t.Fatalf("stored %+v", got)
	}
}
