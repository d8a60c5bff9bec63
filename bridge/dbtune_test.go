package bridge

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"go.mau.fi/util/dbutil"
	_ "go.mau.fi/util/dbutil/litestream" // registers sqlite3-fk-wal
)

func TestTuneDatabaseURI(t *testing.T) {
	cases := []struct{ typ, in, want string }{
		{"sqlite3-fk-wal", "file:mautrix-msn.db?_txlock=immediate", "file:mautrix-msn.db?_txlock=immediate&_stmt_cache_size=64"},
		{"sqlite3-fk-wal", "mautrix-msn.db", "mautrix-msn.db?_stmt_cache_size=64"},
		{"litestream", "file:x.db", "file:x.db?_stmt_cache_size=64"},
		{"sqlite3-fk-wal", "file:x.db?_stmt_cache_size=8", "file:x.db?_stmt_cache_size=8"},
		{"sqlite3-fk-wal", "file:x.db?_stmt_cache_size=0&_txlock=immediate", "file:x.db?_stmt_cache_size=0&_txlock=immediate"},
		{"postgres", "postgres://u:p@127.0.0.1/db?sslmode=disable", "postgres://u:p@127.0.0.1/db?sslmode=disable"},
	}
	for _, c := range cases {
		if got := TuneDatabaseURI(c.typ, c.in); got != c.want {
			t.Errorf("TuneDatabaseURI(%q, %q) = %q, want %q", c.typ, c.in, got, c.want)
		}
	}
}

// TestTunedSQLiteURIOpens checks that go-sqlite3 accepts the tuned URI and
// that repeated queries work with the statement cache.
func TestTunedSQLiteURIOpens(t *testing.T) {
	uri := TuneDatabaseURI("sqlite3-fk-wal", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_txlock=immediate")
	db, err := sql.Open("sqlite3-fk-wal", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE m (id INTEGER PRIMARY KEY, body TEXT)"); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := db.ExecContext(ctx, "INSERT INTO m (id, body) VALUES ($1, $2)", i, "x"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM m WHERE id <= $1", i).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != i+1 {
			t.Fatalf("after %d inserts: count %d", i+1, n)
		}
	}
}

func TestSerializeSQLiteWrites(t *testing.T) {
	got, err := SerializeSQLiteWrites("sqlite3-fk-wal")
	if err != nil || got != "sqlite3-fk-wal+writelock" {
		t.Fatalf("sqlite3-fk-wal: %q, %v", got, err)
	}
	if got, err := SerializeSQLiteWrites("postgres"); err != nil || got != "postgres" {
		t.Fatalf("postgres: %q, %v", got, err)
	}
	// bridgev2 opens the tuned type and URI; the database works as SQLite.
	uri := TuneDatabaseURI("sqlite3-fk-wal", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_txlock=immediate")
	db, err := dbutil.NewWithDialect(uri, got)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Dialect != dbutil.SQLite {
		t.Fatalf("dialect %v", db.Dialect)
	}
	ctx := context.Background()
	if _, err := db.Exec(ctx, "CREATE TABLE m (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if err := db.DoTxn(ctx, nil, func(ctx context.Context) error {
		_, err := db.Exec(ctx, "INSERT INTO m (id) VALUES (1)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
