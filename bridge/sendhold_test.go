package bridge

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"
)

// connectedPeer signs in an MSN contact of the test account that records
// what it receives.
func connectedPeer(t *testing.T, srv peerServer, c *Connector, email string) *inbox {
	t.Helper()
	_, box := peerClient(t, srv, c, email)
	return box
}

func textTo(m *MSNClient, to, body string) *bridgev2.MatrixMessage {
	return &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: body},
		Portal:  testPortal(makeDMPortalKey(to, m.login.ID)),
	}}
}

// While the bridge reconnects, the login still counts as logged in (its
// credentials are fine), and a Matrix message waits for the session and is
// delivered instead of being rejected.
func TestMessageDuringReconnectIsHeld(t *testing.T) {
	srv, c := testServer(t)
	const friend = "friend@example.com"
	box := connectedPeer(t, srv, c, friend)
	m, states := testClient(t, c, testPassword)
	m.backoff = func(int) time.Duration { return 500 * time.Millisecond }
	ctx := context.Background()
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")

	srv.DropConnections(testEmail)
	expectState(t, states, status.StateTransientDisconnect, ErrCodeDisconnected)
	if !m.IsLoggedIn() {
		t.Fatal("IsLoggedIn is false while reconnecting: bridgev2 would reject messages as not logged in")
	}
	if _, err := m.HandleMatrixMessage(ctx, textTo(m, friend, "sent while reconnecting")); err != nil {
		t.Fatalf("message sent while reconnecting failed: %v", err)
	}
	box.wait(t, "sent while reconnecting")
}

// A message that waited too long for the session gets a retriable status
// that says why, never silence.
func TestMessageDuringLongReconnectIsRetriable(t *testing.T) {
	srv, c := testServer(t)
	m, states := testClient(t, c, testPassword)
	m.backoff = func(int) time.Duration { return time.Hour }
	m.sendHold = 100 * time.Millisecond
	ctx := context.Background()
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")
	srv.DropConnections(testEmail)
	expectState(t, states, status.StateTransientDisconnect, ErrCodeDisconnected)

	_, err := m.HandleMatrixMessage(ctx, textTo(m, "friend@example.com", "hello"))
	var st bridgev2.MessageStatus
	if !errors.As(err, &st) {
		t.Fatalf("error %v is not a message status", err)
	}
	if st.Status != event.MessageStatusRetriable || st.ErrorReason != event.MessageStatusNetworkError {
		t.Errorf("status %s/%s, want retriable network error", st.Status, st.ErrorReason)
	}
	if !strings.Contains(st.Message, "reconnecting") {
		t.Errorf("status message %q does not say the bridge is reconnecting", st.Message)
	}
}

// Rejected credentials and signing in elsewhere make IsLoggedIn false
// (bridgev2 then tells the user why); reconnecting makes it true again.
func TestIsLoggedInFollowsCredentials(t *testing.T) {
	srv, c := testServer(t)
	m, states := testClient(t, c, "wrong password")
	if !m.IsLoggedIn() {
		t.Error("a login with stored credentials is logged in before it connects")
	}
	m.Connect(context.Background())
	expectState(t, states, status.StateBadCredentials, ErrCodeBadCredentials)
	if m.IsLoggedIn() {
		t.Error("logged in with rejected credentials")
	}
	m.Disconnect()

	good, goodStates := testClient(t, c, testPassword)
	good.Connect(context.Background())
	expectState(t, goodStates, status.StateConnected, "")
	srv.SendOUT(testEmail, "OTH")
	expectState(t, goodStates, status.StateBadCredentials, ErrCodeSignedInElsewhere)
	if good.IsLoggedIn() {
		t.Error("logged in after being signed in elsewhere")
	}
	good.Disconnect()
	good.Connect(context.Background()) // the reconnect command
	if !good.IsLoggedIn() {
		t.Error("not logged in after reconnect")
	}
	expectState(t, goodStates, status.StateConnected, "")
}
