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

	_, err = send("away@example.com", &event.MessageEventContent{MsgType: event.MsgText, Body: "anyone?"})
	var st bridgev2.MessageStatus
	if !errors.As(err, &st) || st.Status != event.MessageStatusFail || !strings.Contains(st.Message, "offline") {
		t.Errorf("message to offline contact: %v (%+v)", err, st)
	}
}
