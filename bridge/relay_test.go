package bridge

import (
	"context"
	"testing"

	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/bridgeconfig"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// In relay mode an emote reaches MSN as bridgev2's relay format made it,
// with the Matrix sender's name, not with the relay login's name in front.
func TestRelayedEmoteUsesOrigSender(t *testing.T) {
	srv, c := testServer(t)
	const friend = "friend@example.com"
	box := connectedPeer(t, srv, c, friend)
	m, states := testClient(t, c, testPassword)
	m.login.RemoteProfile.Name = "Me Myself" // as known from the last session
	ctx := context.Background()
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")

	var relay bridgeconfig.RelayConfig
	err := yaml.Unmarshal([]byte(`message_formats:
    m.emote: "* <b>{{ .Sender.DisambiguatedName }}</b> {{ .Message }}"
`), &relay)
	if err != nil {
		t.Fatal(err)
	}
	sender := &bridgev2.OrigSender{UserID: "@sender:hs", DisambiguatedName: "Sender"}
	content, err := relay.FormatMessage(&event.MessageEventContent{MsgType: event.MsgEmote, Body: "waves"}, sender)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content:    content,
		OrigSender: sender,
		Portal:     testPortal(makeDMPortalKey(friend, m.login.ID)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	box.wait(t, "* Sender waves")

	// Not relayed: the emote is the user's own, under their MSN name.
	if _, err := m.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgEmote, Body: "waves back"},
		Portal:  testPortal(makeDMPortalKey(friend, m.login.ID)),
	}}); err != nil {
		t.Fatal(err)
	}
	box.wait(t, "* Me Myself waves back")
}

// A reply quotes the replied-to message from the bridge's message
// database, so it works in encrypted rooms too (the homeserver's copy of
// the event is unreadable there); bridged messages keep that snippet.
func TestReplyQuoteFromMessageDatabase(t *testing.T) {
	srv, c := testServer(t)
	const friend = "friend@example.com"
	box := connectedPeer(t, srv, c, friend)
	m, states := testClient(t, c, testPassword)
	m.login.RemoteProfile.Name = "Me Myself" // as known from the last session
	ctx := context.Background()
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")

	resp, err := m.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{
		MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
			Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "sure, see you there"},
			Portal:  testPortal(makeDMPortalKey(friend, m.login.ID)),
		},
		ReplyTo: &database.Message{
			SenderID: makeUserID(testEmail),
			Metadata: &MessageMetadata{Snippet: "shall we meet at noon?"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	box.wait(t, "> Me Myself: shall we meet at noon?\nsure, see you there")
	if meta, ok := resp.DB.Metadata.(*MessageMetadata); !ok || meta.Snippet != "sure, see you there" {
		t.Errorf("sent message metadata %+v, want its snippet for later replies", resp.DB.Metadata)
	}
	// Incoming messages keep their snippet too.
	conv, err := m.convertMessage(ctx, nil, nil, &msnMessageForTest)
	if err != nil {
		t.Fatal(err)
	}
	if meta, ok := conv.Parts[0].DBMetadata.(*MessageMetadata); !ok || meta.Snippet != "hello there" {
		t.Errorf("incoming message metadata %+v", conv.Parts[0].DBMetadata)
	}
}

var msnMessageForTest = msnclient.MessageReceived{From: "friend@example.com", Message: msnclient.TextMessage{Text: "hello\nthere"}}
