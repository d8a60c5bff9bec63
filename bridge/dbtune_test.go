package bridge

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"go.mau.fi/util/dbutil"
	_ "go.mau.fi/util/dbutil/litestream" // registers sqlite3-fk-wal

	"github.com/mautrix-msn/mautrix-msn/database/sqlitelock"
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

// A SQLite pool keeps the connections a burst opened, so the next burst
// does not open (and warm) them again; other pools keep their settings.
func TestKeepSQLiteConnections(t *testing.T) {
	cfg := dbutil.Config{PoolConfig: dbutil.PoolConfig{
		Type:         "sqlite3-fk-wal",
		URI:          TuneDatabaseURI("sqlite3-fk-wal", "file:"+filepath.Join(t.TempDir(), "k.db")+"?_txlock=immediate"),
		MaxOpenConns: 5, MaxIdleConns: 1, // bridgev2's defaults
	}}
	KeepSQLiteConnections(&cfg)
	db, err := dbutil.NewFromConfig("test", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	// Five readers at once, each holding its connection until all have one.
	ctx := context.Background()
	var wg sync.WaitGroup
	all := make(chan struct{})
	var started atomic.Int32
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := db.RawDB.Conn(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			if started.Add(1) == 5 {
				close(all)
			}
			<-all
		}()
	}
	wg.Wait()
	if st := db.RawDB.Stats(); st.Idle != 5 || st.MaxIdleClosed != 0 {
		t.Fatalf("after a burst of 5: %d idle connections, %d closed as surplus; want all 5 kept", st.Idle, st.MaxIdleClosed)
	}

	for _, other := range []dbutil.Config{
		{PoolConfig: dbutil.PoolConfig{Type: "postgres", MaxOpenConns: 5, MaxIdleConns: 1}},
		{PoolConfig: dbutil.PoolConfig{Type: "sqlite3-fk-wal", MaxOpenConns: 0, MaxIdleConns: 2}}, // no limit
	} {
		want := other
		KeepSQLiteConnections(&other)
		if other != want {
			t.Errorf("%s with %d open: idle %d, want %d", other.Type, other.MaxOpenConns, other.MaxIdleConns, want.MaxIdleConns)
		}
	}
	wrapped := dbutil.Config{PoolConfig: dbutil.PoolConfig{Type: "sqlite3-fk-wal" + sqlitelock.Suffix, MaxOpenConns: 8, MaxIdleConns: 1}}
	if KeepSQLiteConnections(&wrapped); wrapped.MaxIdleConns != 8 {
		t.Errorf("the lock-wrapped SQLite type keeps %d idle of 8", wrapped.MaxIdleConns)
	}
}
