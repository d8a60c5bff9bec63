package database

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"
	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
)

var dbCounter atomic.Int64

// testDatabases returns the databases to run a test against: SQLite always,
// PostgreSQL when MSN_TEST_POSTGRES holds a DSN.
func testDatabases(t *testing.T) map[string]*Database {
	t.Helper()
	out := map[string]*Database{}
	uri := fmt.Sprintf("file:msntest%d?mode=memory&cache=shared&_txlock=immediate&_foreign_keys=on", dbCounter.Add(1))
	out["sqlite"] = openTestDB(t, uri, "sqlite3")
	if dsn := os.Getenv("MSN_TEST_POSTGRES"); dsn != "" {
		out["postgres"] = openPostgres(t, dsn)
	}
	return out
}

// openPostgres opens the tables in a fresh database next to the DSN's one,
// dropped when the test ends. A separate database (not only a schema)
// matters: dbutil checks whether its version table exists through
// information_schema without looking at the schema, so msn_* tables in any
// schema of a shared database would confuse a bridge using it at the same
// time. Without the right to create databases, a fresh schema is used.
func openPostgres(t *testing.T, dsn string) *Database {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	name := fmt.Sprintf("msn_dbtest_%d_%d", time.Now().UnixNano(), dbCounter.Add(1))
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse MSN_TEST_POSTGRES: %v", err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err == nil {
		u.Path = "/" + name
		db := openTestDB(t, u.String(), "postgres") // closed (cleanup) before the drop below runs
		t.Cleanup(func() {
			_ = db.Close()
			if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+name); err != nil {
				t.Errorf("drop database %s: %v", name, err)
			}
		})
		return db
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return openTestDB(t, u.String(), "postgres")
}

func openTestDB(t *testing.T, uri, dialect string) *Database {
	t.Helper()
	raw, err := dbutil.NewWithDialect(uri, dialect)
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	db := New(raw, zerolog.Nop())
	if err := db.Upgrade(context.Background()); err != nil {
		t.Fatalf("upgrade %s: %v", dialect, err)
	}
	return db
}

func TestContacts(t *testing.T) {
	for name, db := range testDatabases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := &Contact{LoginID: "me@x.com", Email: "Alice@X.com", FriendlyName: "Alice", Lists: 11,
				Groups: []string{"g1", "g2"}, Status: "NLN", PSM: "hi, there", UpdatedAt: time.UnixMilli(1700000000000)}
			if err := db.Contact.Upsert(ctx, c); err != nil {
				t.Fatal(err)
			}
			got, err := db.Contact.Get(ctx, "me@x.com", "alice@x.com")
			if err != nil || got == nil {
				t.Fatalf("get: %v %v", got, err)
			}
			if got.Email != "alice@x.com" || got.FriendlyName != "Alice" || got.Lists != 11 ||
				strings.Join(got.Groups, "|") != "g1|g2" || got.Status != "NLN" || got.PSM != "hi, there" ||
				!got.UpdatedAt.Equal(c.UpdatedAt) {
				t.Errorf("stored contact = %+v", got)
			}
			c.FriendlyName, c.Groups = "Alice 2", nil
			if err := db.Contact.Upsert(ctx, c); err != nil {
				t.Fatal(err)
			}
			got, _ = db.Contact.Get(ctx, "me@x.com", "alice@x.com")
			if got.FriendlyName != "Alice 2" || got.Groups != nil {
				t.Errorf("updated contact = %+v", got)
			}
			if missing, err := db.Contact.Get(ctx, "me@x.com", "nobody@x.com"); err != nil || missing != nil {
				t.Errorf("missing contact = %v, %v", missing, err)
			}

			if err := db.Contact.UpdateStatus(ctx, "me@x.com", "ALICE@x.com", "AWY"); err != nil {
				t.Fatal(err)
			}
			if err := db.Contact.UpdatePSM(ctx, "me@x.com", "alice@x.com", "away now"); err != nil {
				t.Fatal(err)
			}
			if err := db.Contact.UpdateStatus(ctx, "me@x.com", "unknown@x.com", "NLN"); err != nil {
				t.Fatal(err)
			}
			got, _ = db.Contact.Get(ctx, "me@x.com", "alice@x.com")
			if got.Status != "AWY" || got.PSM != "away now" || got.FriendlyName != "Alice 2" {
				t.Errorf("after presence update = %+v", got)
			}
			if u, _ := db.Contact.Get(ctx, "me@x.com", "unknown@x.com"); u != nil {
				t.Error("status update created a contact")
			}

			err = db.Contact.ReplaceAll(ctx, "me@x.com", []*Contact{{Email: "b@x.com"}, {Email: "c@x.com", Lists: 1}})
			if err != nil {
				t.Fatal(err)
			}
			_ = db.Contact.Upsert(ctx, &Contact{LoginID: "other@x.com", Email: "z@x.com"})
			all, err := db.Contact.GetAll(ctx, "me@x.com")
			if err != nil || len(all) != 2 || all[0].Email != "b@x.com" || all[1].Email != "c@x.com" {
				t.Fatalf("after replace: %+v %v", all, err)
			}
			if err := db.Contact.Delete(ctx, "me@x.com", "B@x.com"); err != nil {
				t.Fatal(err)
			}
			if all, _ := db.Contact.GetAll(ctx, "me@x.com"); len(all) != 1 {
				t.Errorf("after delete: %d contacts", len(all))
			}
			if err := db.Contact.DeleteAll(ctx, "me@x.com"); err != nil {
				t.Fatal(err)
			}
			if all, _ := db.Contact.GetAll(ctx, "me@x.com"); len(all) != 0 {
				t.Errorf("after delete all: %d contacts", len(all))
			}
			if other, _ := db.Contact.GetAll(ctx, "other@x.com"); len(other) != 1 {
				t.Error("delete all touched another login")
			}
		})
	}
}

func TestGroupPortals(t *testing.T) {
	for name, db := range testDatabases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			first, err := db.GroupPortal.GetOrInsert(ctx, &GroupPortal{LoginID: "me", Participants: []string{"b@x.com", "A@x.com"}, PortalID: "group:1"})
			if err != nil || first.PortalID != "group:1" {
				t.Fatalf("insert: %+v %v", first, err)
			}
			// The same people in another order find the same portal; the
			// proposed new ID is ignored.
			again, err := db.GroupPortal.GetOrInsert(ctx, &GroupPortal{LoginID: "me", Participants: []string{"a@x.com", "b@x.com"}, PortalID: "group:2"})
			if err != nil || again.PortalID != "group:1" {
				t.Fatalf("reuse: %+v %v", again, err)
			}
			if strings.Join(again.Participants, ",") != "a@x.com,b@x.com" {
				t.Errorf("participants = %v", again.Participants)
			}
			other, _ := db.GroupPortal.GetOrInsert(ctx, &GroupPortal{LoginID: "me", Participants: []string{"a@x.com", "c@x.com"}, PortalID: "group:3"})
			if other.PortalID != "group:3" {
				t.Errorf("different set reused portal %s", other.PortalID)
			}
			byID, err := db.GroupPortal.GetByPortalID(ctx, "me", "group:1")
			if err != nil || byID == nil || len(byID.Participants) != 2 {
				t.Fatalf("by id: %+v %v", byID, err)
			}
			if g, _ := db.GroupPortal.Get(ctx, "someone-else", []string{"a@x.com", "b@x.com"}); g != nil {
				t.Error("mapping leaked to another login")
			}
			if err := db.GroupPortal.DeleteAll(ctx, "me"); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"group:1", "group:3"} {
				if g, _ := db.GroupPortal.GetByPortalID(ctx, "me", id); g != nil {
					t.Errorf("delete all left mapping %s", id)
				}
			}
		})
	}
}

func TestAvatars(t *testing.T) {
	for name, db := range testDatabases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if a, err := db.Avatar.Get(ctx, "sha"); err != nil || a != nil {
				t.Fatalf("empty cache: %v %v", a, err)
			}
			if err := db.Avatar.Put(ctx, &Avatar{SHA1D: "sha", MXC: "mxc://a/b", MimeType: "image/png", Size: 10}); err != nil {
				t.Fatal(err)
			}
			if err := db.Avatar.Put(ctx, &Avatar{SHA1D: "sha", MXC: "mxc://a/c", MimeType: "image/png", Size: 11}); err != nil {
				t.Fatal(err)
			}
			a, err := db.Avatar.Get(ctx, "sha")
			if err != nil || a == nil || a.MXC != "mxc://a/c" || a.Size != 11 {
				t.Errorf("avatar = %+v %v", a, err)
			}
		})
	}
}

func TestParticipantKey(t *testing.T) {
	if got := ParticipantKey([]string{" B@x.com", "a@x.com", "b@x.com"}); got != "a@x.com,b@x.com" {
		t.Errorf("ParticipantKey = %q", got)
	}
}

func TestOfflineMessages(t *testing.T) {
	for name, db := range testDatabases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			const login = "me@x.com"
			if ok, err := db.Offline.IsBridged(ctx, login, "8f0a-1"); err != nil || ok {
				t.Fatalf("unknown id bridged=%v err=%v", ok, err)
			}
			for i := 0; i < 2; i++ { // twice: a second record is not an error
				if err := db.Offline.MarkBridged(ctx, login, "8f0a-1", "Bob@X.com"); err != nil {
					t.Fatal(err)
				}
			}
			if ok, err := db.Offline.IsBridged(ctx, login, "8F0A-1"); err != nil || !ok {
				t.Fatalf("recorded id (other case) bridged=%v err=%v", ok, err)
			}
			if ok, _ := db.Offline.IsBridged(ctx, "other@x.com", "8f0a-1"); ok {
				t.Fatal("a record of one login counts for another")
			}
			if err := db.Offline.MarkBridged(ctx, login, "8f0a-2", "bob@x.com"); err != nil {
				t.Fatal(err)
			}
			if err := db.Offline.Forget(ctx, login, []string{"8f0a-1"}); err != nil {
				t.Fatal(err)
			}
			if n, err := db.Offline.Count(ctx, login); err != nil || n != 1 {
				t.Fatalf("count after forget = %d, %v", n, err)
			}
			if err := db.Offline.DeleteAll(ctx, login); err != nil {
				t.Fatal(err)
			}
			if n, _ := db.Offline.Count(ctx, login); n != 0 {
				t.Fatalf("count after DeleteAll = %d", n)
			}
		})
	}
}
