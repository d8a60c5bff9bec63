package bridge

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/bridgeconfig"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

// noMatrix stands in for bridgev2's Matrix side where a test never reaches
// it: any method but these two panics.
type noMatrix struct{ bridgev2.MatrixConnector }

func (noMatrix) Init(*bridgev2.Bridge)         {}
func (noMatrix) BotIntent() bridgev2.MatrixAPI { return nil }

// testBridgev2 returns a real bridgev2 bridge with a SQLite database
// around c, without its Matrix side.
func testBridgev2(t *testing.T, c *Connector) *bridgev2.Bridge {
	t.Helper()
	ctx := context.Background()
	raw, err := dbutil.NewWithDialect("file:"+filepath.Join(t.TempDir(), "bridge.db")+"?_txlock=immediate", "sqlite3")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	br := bridgev2.NewBridge("msn", raw, zerolog.Nop(), &bridgeconfig.BridgeConfig{CommandPrefix: "!msn"},
		noMatrix{}, c, func(*bridgev2.Bridge) bridgev2.CommandProcessor { return nil })
	bgCtx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	br.BackgroundCtx = bgCtx // bridgev2's Start sets it
	if err := br.DB.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.DB.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	return br
}

// A login made by signing in remembers the portals it is in, as one
// loaded at startup does: bridgev2 does not write the user_portal row
// again for each message (bridgev2's NewLogin leaves that cache out, so
// the row deleted below came back with every message). A second sign-in
// of the same account reuses the login.
func TestNewLoginRemembersItsPortals(t *testing.T) {
	ctx := context.Background()
	_, c := testServer(t)
	br := testBridgev2(t, c)
	user, err := br.GetUserByMXID(ctx, "@u:hs")
	if err != nil {
		t.Fatal(err)
	}
	pl := &PasswordLogin{connector: c, user: user}
	newData := func() *database.UserLogin {
		return &database.UserLogin{ID: makeUserLoginID(testEmail), RemoteName: testEmail,
			Metadata: &UserLoginMetadata{Email: testEmail}}
	}
	ul, err := pl.saveLogin(ctx, newData())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ul.Client.(*MSNClient); !ok || ul.UserMXID != user.MXID || br.GetCachedUserLoginByID(ul.ID) != ul {
		t.Fatalf("login not set up as bridgev2 would: client %T, user %s, cached %v", ul.Client, ul.UserMXID, br.GetCachedUserLoginByID(ul.ID) == ul)
	}
	if stored, err := br.DB.UserLogin.GetByID(ctx, ul.ID); err != nil || stored == nil || stored.UserMXID != user.MXID {
		t.Fatalf("login row %+v, %v", stored, err)
	}

	key := networkid.PortalKey{ID: "bob@example.com", Receiver: ul.ID}
	portal, err := br.GetPortalByKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	ul.MarkInPortal(ctx, portal) // the first message
	up, err := br.DB.UserPortal.Get(ctx, ul.UserLogin, key)
	if err != nil || up == nil {
		t.Fatalf("user portal row after the first message: %v, %v", up, err)
	}
	if err := br.DB.UserPortal.Delete(ctx, up); err != nil {
		t.Fatal(err)
	}
	ul.MarkInPortal(ctx, portal) // the next message
	if up, err := br.DB.UserPortal.Get(ctx, ul.UserLogin, key); err != nil || up != nil {
		t.Errorf("the next message wrote the user portal row again (%v, %v): the login has no portal cache", up, err)
	}

	again, err := pl.saveLogin(ctx, newData())
	if err != nil {
		t.Fatal(err)
	}
	if again != ul {
		t.Error("signing in again made a second login object instead of reusing the first")
	}
	if logins := user.GetUserLogins(); len(logins) != 1 {
		t.Errorf("user has %d logins, want 1", len(logins))
	}
}
