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
// schema of the database MSN_TEST_POSTGRES points at.
func TestBridgePostgres(t *testing.T) {
	base := os.Getenv("MSN_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but MSN_TEST_POSTGRES is not set")
		}
		t.Skip("MSN_TEST_POSTGRES not set")
	}
	needStack(t)
	db, schema := freshSchema(t, base)
	w := newWorld(t, stack.Database{Type: "postgres", URI: schemaURI(t, base, schema)})
	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"Login", w.mustLogin},
		{"IncomingMessage", w.testIncomingMessage},
		{"Reply", w.testReply},
		{"Restart", w.testRestart},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) {
			t.Fatalf("%s failed on PostgreSQL", s.name)
		}
	}
	// The bridge really kept its state in the fresh schema.
	var portals int
	err := db.QueryRowContext(w.ctx, "SELECT count(*) FROM "+schema+".portal").Scan(&portals)
	if err != nil {
		t.Fatalf("read the bridge's portal table in schema %s: %v", schema, err)
	}
	if portals == 0 {
		t.Errorf("no portals stored in schema %s", schema)
	}
}

// freshSchema creates an empty schema for this run, dropped at the end.
func freshSchema(t *testing.T, base string) (*sql.DB, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatalf("open MSN_TEST_POSTGRES: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	schema := fmt.Sprintf("msn_e2e_%d", time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return db, schema
}

// schemaURI is base with the schema as search_path.
func schemaURI(t *testing.T, base, schema string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse MSN_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
