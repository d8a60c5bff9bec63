package bridge

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

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
