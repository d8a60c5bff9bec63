package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
)

// TestBridgePostgres runs the core scenario (login, both directions,
// restart without duplicate rooms) with the bridge on PostgreSQL, in a fresh
// database created next to the one MSN_TEST_POSTGRES points at (its role
// needs CREATEDB). A database rather than a schema: dbutil's table checks
// look at information_schema of the whole database, so tables of other
// tests in another schema would confuse the bridge's upgrades.
func TestBridgePostgres(t *testing.T) {
	base := os.Getenv("MSN_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but MSN_TEST_POSTGRES is not set")
		}
		t.Skip("MSN_TEST_POSTGRES not set")
	}
	needStack(t)
	uri := freshDatabase(t, base)
	w := newWorld(t, stack.Database{Type: "postgres", URI: uri})
	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"Login", w.mustLogin},
		{"IncomingMessage", w.testIncomingMessage},
		{"Reply", w.testReply},
		{"ContactPicture", w.testContactPicture},
		{"Restart", w.testRestart},
		{"OfflineKilledBeforeDelete", w.testOfflineKilledBeforeDelete},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) {
			t.Fatalf("%s failed on PostgreSQL", s.name)
		}
	}
	// The bridge really kept its state in the fresh database.
	db, err := sql.Open("postgres", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var portals int
	if err := db.QueryRowContext(w.ctx, "SELECT count(*) FROM portal").Scan(&portals); err != nil {
		t.Fatalf("read the bridge's portal table: %v", err)
	}
	if portals == 0 {
		t.Error("no portals stored in PostgreSQL")
	}
}

// freshDatabase creates an empty database for this run, dropped at the
// end, and returns its URI.
func freshDatabase(t *testing.T, base string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatalf("open MSN_TEST_POSTGRES: %v", err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	name := fmt.Sprintf("msn_e2e_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database (the MSN_TEST_POSTGRES role needs CREATEDB): %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse MSN_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
