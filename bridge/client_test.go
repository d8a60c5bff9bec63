package bridge

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// The connect loop signs in, reconnects by itself after a dropped
// connection and a server shutdown, and stops for good when signed in
// elsewhere.
func TestConnectLoop(t *testing.T) {
	srv, c := testServer(t)
	m, states := testClient(t, c, testPassword)

	m.Connect(context.Background())
	expectState(t, states, status.StateConnecting, "")
	expectState(t, states, status.StateConnected, "")
	if !m.IsLoggedIn() {
		t.Fatal("not logged in after CONNECTED")
	}

	srv.DropConnections(testEmail)
	expectState(t, states, status.StateTransientDisconnect, ErrCodeDisconnected)
	expectState(t, states, status.StateConnected, "")

	srv.SendOUT(testEmail, "SSD")
	expectState(t, states, status.StateTransientDisconnect, ErrCodeServerShutdown)
	expectState(t, states, status.StateConnected, "")

	srv.SendOUT(testEmail, "OTH")
	st := expectState(t, states, status.StateBadCredentials, ErrCodeSignedInElsewhere)
	if st.UserAction != status.UserActionRelogin {
		t.Errorf("user action = %q", st.UserAction)
	}
	waitLoopEnd(t, m) // no fighting over the session
	if m.IsLoggedIn() {
		t.Error("still logged in after OUT OTH")
	}

	// reconnect (the bot command) signs in again.
	m.Disconnect()
	m.Connect(context.Background())
	expectState(t, states, status.StateConnected, "")
	m.Disconnect()
	if m.currentSession() != nil {
		t.Error("still connected after Disconnect")
	}
}

func TestConnectBadCredentials(t *testing.T) {
	_, c := testServer(t)
	m, states := testClient(t, c, "wrong password")
	m.Connect(context.Background())
	expectState(t, states, status.StateBadCredentials, ErrCodeBadCredentials)
	waitLoopEnd(t, m) // no reconnect loop on bad credentials
}

func TestConnectUnreadablePassword(t *testing.T) {
	_, c := testServer(t)
	m, states := testClient(t, c, testPassword)
	c.Config.credentialsKey, _ = decodeCredentialsKey(generateCredentialsKey()) // key changed
	m.Connect(context.Background())
	expectState(t, states, status.StateBadCredentials, ErrCodeNoCredentials)
}

func TestConnectRetriesUnreachableServer(t *testing.T) {
	_, c := testServer(t)
	c.Config.Servers[0].NotificationServer = deadAddr(t)
	m, states := testClient(t, c, testPassword)
	m.Connect(context.Background())
	expectState(t, states, status.StateTransientDisconnect, ErrCodeConnectFailed)
	expectState(t, states, status.StateConnecting, "") // retrying
	m.Disconnect()
}

// waitLoopEnd waits for the connect loop to end by itself.
func waitLoopEnd(t *testing.T, m *MSNClient) {
	t.Helper()
	m.mu.Lock()
	done := m.loopDone
	m.mu.Unlock()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("connect loop still running")
	}
}

// The presence refresh runs only while signed in: once the connect loop
// ends for good (here: signed in elsewhere) contacts are shown offline and
// nothing re-sends them as online.
func TestPresenceRefreshStopsWithConnectLoop(t *testing.T) {
	const every = 100 * time.Millisecond
	srv, c := testServer(t)
	c.Config.Presence.Enabled = true
	m, states := testClient(t, c, testPassword)
	rec := newPresenceRecorder()
	m.presence = newPresenceBridge(true, 0, zerolog.Nop(), rec.apply)
	m.refreshEvery = every

	m.Connect(context.Background())
	expectState(t, states, status.StateConnected, "")
	m.presence.update("friend@example.com", func(p *contactPresence) { p.Status = msnclient.StatusOnline })
	if c := rec.next(t); c.p.Status != msnclient.StatusOnline {
		t.Fatalf("first update = %+v", c)
	}
	if c := rec.next(t); c.p.Status != msnclient.StatusOnline { // a refresh
		t.Fatalf("refresh = %+v", c)
	}

	srv.SendOUT(testEmail, "OTH")
	expectState(t, states, status.StateBadCredentials, ErrCodeSignedInElsewhere)
	waitLoopEnd(t, m)
	// Refreshes sent before the loop ended may still be queued; the last
	// update must be offline.
	deadline := time.After(testTimeout)
	for offline := false; !offline; {
		select {
		case c := <-rec.ch:
			offline = c.p.Status == msnclient.StatusOffline
		case <-deadline:
			t.Fatal("contact not shown offline after the connect loop ended")
		}
	}
	rec.none(t, 5*every)
}

// A login without a machine GUID gets one on Connect and saves it; the
// client's lock is not held during that database write, so the bridge
// stopping the login meanwhile (Disconnect) is not held up by it.
func TestConnectSavesMachineGUIDWithoutLock(t *testing.T) {
	_, c := testServer(t)
	m, states := testClient(t, c, testPassword)
	m.meta.MachineGUID = ""
	saving, release := make(chan struct{}), make(chan struct{})
	m.saveLogin = func(context.Context) error {
		close(saving)
		<-release
		return nil
	}
	connected := make(chan struct{})
	go func() {
		m.Connect(context.Background())
		close(connected)
	}()
	select {
	case <-saving:
	case <-time.After(testTimeout):
		t.Fatal("the new machine GUID was never saved")
	}
	if m.meta.MachineGUID == "" {
		t.Fatal("no machine GUID given")
	}
	locked := make(chan struct{})
	go func() {
		m.currentSession() // takes the client's lock
		close(locked)
	}()
	select {
	case <-locked:
	case <-time.After(2 * time.Second):
		t.Error("the client's lock is held while the login is saved")
	}
	close(release)
	<-connected
	expectState(t, states, status.StateConnecting, "")
	expectState(t, states, status.StateConnected, "")
}
