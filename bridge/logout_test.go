package bridge

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/mautrix-msn/mautrix-msn/database"
)

// Logging out waits for the login's background work: a contact snapshot
// written late cannot put rows back after the logout deleted them.
func TestLogoutWaitsForBackgroundWork(t *testing.T) {
	_, c := testServer(t)
	c.DB = testFileDB(t)
	m, states := testClient(t, c, testPassword)
	ctx := context.Background()
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")
	loginID := string(m.login.ID)
	started := make(chan struct{})
	m.bg.Go(func() { // a slow snapshot write, as a sync on a busy database
		close(started)
		time.Sleep(300 * time.Millisecond)
		_ = c.DB.Contact.ReplaceAll(ctx, loginID, []*database.Contact{{LoginID: loginID, Email: "late@x.com"}})
	})
	<-started
	m.LogoutRemote(ctx)
	time.Sleep(100 * time.Millisecond)
	rows, err := c.DB.Contact.GetAll(ctx, loginID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 0 {
		t.Errorf("%d contact rows left after logout: background work wrote after the delete", len(rows))
	}
}

// The contact sync of a session that ended does not overwrite the
// snapshot that belongs to the newer session.
func TestStaleSessionSyncDoesNotOverwrite(t *testing.T) {
	srv, c := testServer(t)
	c.DB = testFileDB(t)
	if err := srv.AddAccount("friend@x.com", "pw", "Old Name"); err != nil {
		t.Fatal(err)
	}
	_ = srv.AddContact(testEmail, "friend@x.com", 1|2)
	m, states := testClient(t, c, testPassword)
	ctx := context.Background()
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")
	m.mu.Lock()
	oldSess, oldCtx := m.sess, m.sessCtx
	m.mu.Unlock()

	srv.DropConnections(testEmail)
	expectState(t, states, status.StateTransientDisconnect, "")
	expectState(t, states, status.StateConnected, "")
	// Let the newer session's own syncs finish: nothing else writes now.
	m.Disconnect()
	loginID := string(m.login.ID)
	newer := []*database.Contact{{LoginID: loginID, Email: "friend@x.com", FriendlyName: "Newer", Lists: 1 | 2}}
	if err := c.DB.Contact.ReplaceAll(ctx, loginID, newer); err != nil {
		t.Fatal(err)
	}
	m.syncContacts(context.WithoutCancel(oldCtx), oldSess) // late, from the old session
	rows, err := c.DB.Contact.GetAll(ctx, loginID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].FriendlyName != "Newer" {
		t.Errorf("snapshot after a stale sync: %+v, want the newer session's", rows)
	}
}

// testFileDB is a database in a file: a canceled query may close a pooled
// connection, which would drop an in-memory database with it.
func testFileDB(t *testing.T) *database.Database {
	t.Helper()
	raw, err := dbutil.NewWithDialect("file:"+filepath.Join(t.TempDir(), "bridge.db")+"?_txlock=immediate&_busy_timeout=5000", "sqlite3")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	db := database.New(raw, zerolog.Nop())
	if err := db.Upgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}
