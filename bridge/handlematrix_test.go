package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Send failures become failed message statuses whose message tells the
// user why, and the original error stays reachable.
func TestSendFailureStatus(t *testing.T) {
	m := &MSNClient{}
	tests := []struct {
		err    error
		want   string
		status event.MessageStatus
	}{
		{fmt.Errorf("send: %w", msnclient.ErrContactOffline), "contact is offline", event.MessageStatusFail},
		{msnclient.ErrNotConnected, "Not connected to MSN", event.MessageStatusRetriable},
		{msnclient.ErrNotDelivered, "did not deliver", event.MessageStatusFail},
		{fmt.Errorf("x: %w", msnclient.ErrTimeout), "did not answer in time", event.MessageStatusRetriable},
		{&msnp.ServerError{Code: 217}, "contact is not online (error 217)", event.MessageStatusFail},
		{errors.New("boom"), "Sending to MSN failed: boom", event.MessageStatusFail},
	}
	for _, tt := range tests {
		err := m.sendFailure(tt.err)
		var st bridgev2.MessageStatus
		if !errors.As(err, &st) {
			t.Fatalf("%v: not a message status", tt.err)
		}
		if !strings.Contains(st.Message, tt.want) || st.Status != tt.status || !st.SendNotice || !st.IsCertain {
			t.Errorf("%v: status %+v, want message with %q and %s", tt.err, st, tt.want, tt.status)
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("%v: original error lost", tt.err)
		}
	}
}

func TestUnsupportedAndTooLongMessages(t *testing.T) {
	m := &MSNClient{connector: &Connector{Config: Config{MaxMessageLength: 10}}}
	msg := func(msgtype event.MessageType, body string) *bridgev2.MatrixMessage {
		return &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
			Content: &event.MessageEventContent{MsgType: msgtype, Body: body},
			Portal:  testPortal(portalKeyOf("a@x.com", "me")),
		}}
	}
	ctx := context.Background()
	if _, err := m.HandleMatrixMessage(ctx, msg(event.MsgLocation, "geo:1,2")); !errors.Is(err, bridgev2.ErrUnsupportedMessageType) {
		t.Errorf("location: %v", err)
	}
	_, err := m.HandleMatrixMessage(ctx, msg(event.MsgText, "01234567890"))
	var st bridgev2.MessageStatus
	if !errors.As(err, &st) || !strings.Contains(st.Message, "too long for MSN (11 characters, the limit is 10)") {
		t.Errorf("too long: %v", err)
	}
	if _, err := m.HandleMatrixMessage(ctx, msg(event.MsgText, " \n ")); err == nil {
		t.Error("empty message accepted")
	}
	// Within the limit but not connected: a clear failure, not silence.
	m.connector.Config.MaxMessageLength = 100
	m.typing = newTypingSender(typingRepeatInterval, nil)
	_, err = m.HandleMatrixMessage(ctx, msg(event.MsgText, "hello"))
	if !errors.As(err, &st) || !errors.Is(err, msnclient.ErrNotConnected) || !strings.Contains(st.Message, "Not connected") {
		t.Errorf("offline send: %v", err)
	}
}

// A contact's friendly name and message are remote text: the bridge bot's
// notice shows them literally and never turns them into links or markup.
func TestContactRequestNoticeEscapesRemoteText(t *testing.T) {
	n := contactRequestNotice("evil@x.com", "[Verify](https://evil.example) <b>x</b>", "**hi** <a href=x>", "Me@x.com")
	if strings.Contains(n.FormattedBody, "<a") || strings.Contains(n.FormattedBody, "<b>") || strings.Contains(n.FormattedBody, "<strong>") {
		t.Errorf("remote text rendered as markup: %s", n.FormattedBody)
	}
	for _, want := range []string{"[Verify](https://evil.example) &lt;b&gt;x&lt;/b&gt; (evil@x.com)", "**hi** &lt;a href=x&gt;", "<code>accept evil@x.com</code>"} {
		if !strings.Contains(n.FormattedBody, want) {
			t.Errorf("formatted body lacks %q: %s", want, n.FormattedBody)
		}
	}
	if !strings.HasPrefix(n.Body, "[Verify](https://evil.example) <b>x</b> (evil@x.com) added you") || n.MsgType != event.MsgNotice {
		t.Errorf("body = %q (%s)", n.Body, n.MsgType)
	}
}

// A chunked message that could not be reassembled is not lost silently:
// the portal shows that the contact sent something that did not arrive.
func TestUnknownMessageNotice(t *testing.T) {
	incomplete := &msnclient.UnknownMessage{
		From: "bob@x.com", ContentType: "text/plain; charset=UTF-8",
		Err: fmt.Errorf("message abc: %w", msnclient.ErrIncompleteMessage),
	}
	if what, ok := unknownMessageNotice(incomplete); !ok || what != "sent a message that arrived incomplete and could not be shown" {
		t.Errorf("incomplete message notice = %q %v", what, ok)
	}
	if what, ok := unknownMessageNotice(&msnclient.UnknownMessage{ContentType: "text/x-msmsgsinvite; charset=UTF-8"}); !ok || !strings.Contains(what, "invitation") {
		t.Errorf("invitation notice = %q %v", what, ok)
	}
	if what, ok := unknownMessageNotice(&msnclient.UnknownMessage{ContentType: "application/x-msnmsgrp2p"}); ok {
		t.Errorf("P2P data shown as %q", what)
	}
}
