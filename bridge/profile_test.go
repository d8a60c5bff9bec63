package bridge

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	bdb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// watcher is a contact's MSN client recording every status it sees of one
// account.
type watcher struct {
	mu   sync.Mutex
	seen []msnclient.Status
}

func (w *watcher) handle(who string) msnclient.EventHandler {
	return func(evt any) {
		if p, ok := evt.(*msnclient.ContactPresence); ok && p.Email == who {
			w.mu.Lock()
			w.seen = append(w.seen, p.Status)
			w.mu.Unlock()
		}
	}
}

func (w *watcher) statuses() []msnclient.Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]msnclient.Status(nil), w.seen...)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProfileKeptAcrossReconnects: set-status invisible, a personal message
// and a name survive a dropped connection and a bridge restart, and a
// contact never sees the user online, not even for a moment.
func TestProfileKeptAcrossReconnects(t *testing.T) {
	for _, v := range []int{9, 13, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv, c := testServer(t)
			c.Config.Servers[0].ProtocolVersions = []int{v}
			if err := srv.AddAccount("bob@example.com", testPassword, "Bob"); err != nil {
				t.Fatal(err)
			}
			for _, pair := range [][2]string{{testEmail, "bob@example.com"}, {"bob@example.com", testEmail}} {
				if err := srv.AddContact(pair[0], pair[1], msntest.ListFL|msntest.ListAL); err != nil {
					t.Fatal(err)
				}
			}
			m, states := testClient(t, c, testPassword)
			m.Connect(context.Background())
			expectState(t, states, status.StateConnected, "")
			ctx := context.Background()
			if err := m.setStatus(ctx, msnclient.StatusInvisible); err != nil {
				t.Fatal(err)
			}
			if err := m.setFriendlyName(ctx, "Matrix Me"); err != nil {
				t.Fatal(err)
			}
			wantPSM := ""
			if v >= 11 {
				wantPSM = "away from MSN"
				if err := m.setPersonalMessage(ctx, wantPSM); err != nil {
					t.Fatal(err)
				}
			}

			// bob signs in now: from here on he must never see me online.
			var w watcher
			bobCfg := msnclient.Config{Email: "bob@example.com", Password: testPassword, Server: srv.NSAddr(), RequestTimeout: testTimeout, AllowPlainHTTP: true}
			bobCfg.UseEscargotURLs(srv.HTTPURL())
			bob := msnclient.NewClient(bobCfg, w.handle(testEmail))
			if err := bob.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = bob.Close() })

			// A dropped connection: the bridge signs in again, invisible.
			srv.DropConnections(testEmail)
			expectState(t, states, status.StateTransientDisconnect, ErrCodeDisconnected)
			expectState(t, states, status.StateConnected, "")
			waitUntil(t, "invisible after the reconnect", func() bool { return srv.ChosenStatus(testEmail) == "HDN" })

			// A bridge restart, while the server forgot the name and message.
			m.Disconnect()
			srv.SetProfile(testEmail, "Server Name", "")
			m2 := newMSNClient(c, m.login, m.meta)
			m2.stateSink = func(s status.BridgeState) { states <- s }
			t.Cleanup(m2.Disconnect)
			m2.Connect(ctx)
			expectState(t, states, status.StateConnected, "")
			waitUntil(t, "profile restored", func() bool {
				return srv.ChosenStatus(testEmail) == "HDN" && srv.FriendlyName(testEmail) == "Matrix Me" && srv.PersonalMessage(testEmail) == wantPSM
			})
			time.Sleep(200 * time.Millisecond) // let any stray presence arrive
			for _, st := range w.statuses() {
				if st != msnclient.StatusOffline {
					t.Fatalf("bob saw me as %s; statuses seen: %v", st, w.statuses())
				}
			}
		})
	}
}

// TestProfileSetWhileDisconnected: a status chosen while the bridge is not
// connected is the one it signs in with.
func TestProfileSetWhileDisconnected(t *testing.T) {
	srv, c := testServer(t)
	m, states := testClient(t, c, testPassword)
	if err := m.setStatus(context.Background(), msnclient.StatusBusy); err == nil {
		t.Fatal("setStatus while disconnected reported success")
	}
	m.Connect(context.Background())
	expectState(t, states, status.StateConnected, "")
	if got := srv.Status(testEmail); got != "BSY" {
		t.Fatalf("signed in as %q, want the stored BSY", got)
	}
}

// TestReloginKeepsProfile: relogin keeps the machine GUID and the profile
// set from Matrix, and signs in with the stored status.
func TestReloginKeepsProfile(t *testing.T) {
	psm := "brb"
	old := &UserLoginMetadata{Email: testEmail, MachineGUID: "{guid}", Profile: OwnProfile{Status: msnclient.StatusInvisible, PersonalMessage: &psm, FriendlyName: "Me"}}
	ul := &bridgev2.UserLogin{UserLogin: &bdb.UserLogin{ID: makeUserLoginID(testEmail), Metadata: old}}
	pl := &PasswordLogin{connector: &Connector{}, override: ul}
	got := pl.existingMeta(context.Background(), makeUserLoginID(testEmail))
	if got.MachineGUID != "{guid}" || got.Profile.FriendlyName != "Me" || *got.Profile.PersonalMessage != "brb" {
		t.Fatalf("existing meta %+v", got)
	}
	if st := got.Profile.initialStatus(); st != msnclient.StatusInvisible {
		t.Errorf("initial status %s, want HDN", st)
	}
	if st := (OwnProfile{}).initialStatus(); st != msnclient.StatusOnline {
		t.Errorf("initial status without a stored one %s, want NLN", st)
	}
	if got := pl.existingMeta(context.Background(), "other@example.com"); got.MachineGUID != "" {
		t.Errorf("another account's meta used: %+v", got)
	}
}
