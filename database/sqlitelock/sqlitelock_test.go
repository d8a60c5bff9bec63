package sqlitelock

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"go.mau.fi/util/dbutil"
	_ "go.mau.fi/util/dbutil/litestream" // registers sqlite3-fk-wal
)

// connector opens connections of one driver, so that tests need not
// register drivers globally.
type connector struct {
	d   driver.Driver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.d }

// openDB opens a WAL database in which SQLite itself does not wait for a
// busy write lock (busy timeout 0), so any writer that is not kept in turn
// by the lock fails with "database is locked".
func openDB(t testing.TB, wait time.Duration, locked bool) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "t.db") + "?_journal_mode=WAL&_busy_timeout=0&_txlock=immediate"
	var d driver.Driver = &sqlite3.SQLiteDriver{}
	if locked {
		d = NewDriver(&sqlite3.SQLiteDriver{}, wait)
	}
	db := sql.OpenDB(connector{d: d, dsn: dsn})
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec("CREATE TABLE item (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	return db
}

// writeConcurrently makes 8 writers insert at once, as bridgev2's portals do
// under a burst: plain inserts, INSERT … RETURNING and short transactions.
func writeConcurrently(db *sql.DB, perWriter int) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				v := fmt.Sprintf("%d-%d", w, i)
				var err error
				switch i % 3 {
				case 0:
					_, err = db.Exec("INSERT INTO item (v) VALUES (?)", v)
				case 1:
					var id int64
					err = db.QueryRow("INSERT INTO item (v) VALUES (?) RETURNING id", v).Scan(&id)
				case 2:
					err = inTx(db, func(tx *sql.Tx) error {
						_, err := tx.Exec("INSERT INTO item (v) VALUES (?)", v)
						return err
					})
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

func inTx(db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func count(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM item").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// heldBack starts write on its own goroutine, checks that it is still
// waiting 200 ms later, and returns where its result will arrive.
func heldBack(t *testing.T, what string, write func() error) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- write() }()
	select {
	case err := <-done:
		t.Fatalf("%s went ahead (err %v)", what, err)
	case <-time.After(200 * time.Millisecond):
	}
	return done
}

func exec(db *sql.DB, query string) func() error {
	return func() error {
		_, err := db.Exec(query)
		return err
	}
}

func TestConcurrentWritersTakeTurns(t *testing.T) {
	// Without the lock the same load fails: SQLite refuses writers that
	// find the write lock taken.
	plain := openDB(t, DefaultWait, false)
	if errs := writeConcurrently(plain, 150); len(errs) == 0 {
		t.Fatal("the unlocked control run had no busy errors; the test would not notice a broken lock")
	} else if !strings.Contains(errs[0].Error(), "locked") && !strings.Contains(errs[0].Error(), "busy") {
		t.Fatalf("control run failed with %v, want database is locked", errs[0])
	}

	db := openDB(t, DefaultWait, true)
	if errs := writeConcurrently(db, 150); len(errs) > 0 {
		t.Fatalf("%d writes failed, first: %v", len(errs), errs[0])
	}
	if n := count(t, db); n != 8*150 {
		t.Fatalf("%d rows, want %d", n, 8*150)
	}
}

func TestTransactionKeepsOtherWritersWaiting(t *testing.T) {
	db := openDB(t, DefaultWait, true)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO item (v) VALUES ('tx')"); err != nil {
		t.Fatal(err)
	}
	done := heldBack(t, "a write during a write transaction", exec(db, "INSERT INTO item (v) VALUES ('after')"))
	// Reads are not held up by the writer.
	readCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRowContext(readCtx, "SELECT count(*) FROM item").Scan(&n); err != nil {
		t.Fatalf("read during a write transaction: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the waiting write failed: %v", err)
	}
	if n := count(t, db); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
}

func TestReturningKeepsLockUntilRowsClosed(t *testing.T) {
	db := openDB(t, DefaultWait, true)
	rows, err := db.Query("INSERT INTO item (v) VALUES ('r') RETURNING id")
	if err != nil {
		t.Fatal(err)
	}
	done := heldBack(t, "a write during an open INSERT … RETURNING", exec(db, "INSERT INTO item (v) VALUES ('after')"))
	for rows.Next() {
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the waiting write failed: %v", err)
	}
}

// TestCheckpointRunsAfterTheWrite: SQLite's automatic checkpoint of a
// commit made by INSERT … RETURNING read with QueryRow runs right after the
// write, not in whatever statement the connection runs next. The checkpoint
// copies the new pages into the database file, so the file's size tells
// whether it has run. The control run with the plain driver shows SQLite
// leaving it to the next statement.
func TestCheckpointRunsAfterTheWrite(t *testing.T) {
	for _, locked := range []bool{true, false} {
		t.Run(fmt.Sprintf("locked=%v", locked), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.db")
			dsn := "file:" + path + "?_journal_mode=WAL&_txlock=immediate"
			var d driver.Driver = &sqlite3.SQLiteDriver{}
			if locked {
				d = NewDriver(&sqlite3.SQLiteDriver{}, DefaultWait)
			}
			db := sql.OpenDB(connector{d: d, dsn: dsn})
			db.SetMaxOpenConns(1) // the pragma below is per connection
			defer db.Close()
			for _, q := range []string{
				"CREATE TABLE item (id INTEGER PRIMARY KEY, v BLOB)",
				"PRAGMA wal_autocheckpoint=1", // every commit owes a checkpoint
				"SELECT 1 WHERE 0",            // the CREATE's checkpoint, on the plain driver
			} {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			before := fileSize(t, path)
			var id int64
			blob := make([]byte, 256<<10)
			if err := db.QueryRow("INSERT INTO item (v) VALUES (?) RETURNING id", blob).Scan(&id); err != nil {
				t.Fatal(err)
			}
			grew := fileSize(t, path) - before
			if locked && grew < int64(len(blob)) {
				t.Fatalf("the database file grew by %d bytes after the write: its checkpoint has not run", grew)
			}
			if !locked && grew != 0 {
				t.Fatalf("control: the plain driver checkpointed in the write (grew %d bytes); the test no longer shows SQLite deferring it", grew)
			}
		})
	}
}

// BenchmarkMessageWrites is the database work of a message as bridgev2
// does it, on a WAL database: a lookup read to its end, then an
// INSERT … RETURNING read with QueryRow. With the lock (locked=true) the
// empty step after the write runs the WAL hook; on the plain driver the
// next lookup runs it. Both run SQLite's automatic checkpoint every 1,000
// WAL pages, so the difference is the cost of the empty step.
func BenchmarkMessageWrites(b *testing.B) {
	for _, locked := range []bool{true, false} {
		b.Run(fmt.Sprintf("locked=%v", locked), func(b *testing.B) {
			db := openDB(b, DefaultWait, locked)
			b.ReportAllocs()
			var id int64
			for b.Loop() {
				rows, err := db.Query("SELECT id FROM item WHERE id = ?", id)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
				}
				if err := rows.Close(); err != nil {
					b.Fatal(err)
				}
				if err := db.QueryRow("INSERT INTO item (v) VALUES ('message') RETURNING id").Scan(&id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestWaitIsBounded(t *testing.T) {
	db := openDB(t, 100*time.Millisecond, true)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	start := time.Now()
	_, err = db.Exec("INSERT INTO item (v) VALUES ('late')")
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("write past the wait limit: err %v, want SQLite's database is locked", err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Fatalf("gave up after %v, before the wait limit", waited)
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	db := openDB(t, DefaultWait, true)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = db.ExecContext(ctx, "INSERT INTO item (v) VALUES ('x')")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline", err)
	}
}

func TestPreparedStatements(t *testing.T) {
	db := openDB(t, DefaultWait, true)
	ins, err := db.Prepare("INSERT INTO item (v) VALUES (?)")
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	done := heldBack(t, "a prepared write during a write transaction", func() error {
		_, err := ins.Exec("prepared")
		return err
	})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sel, err := db.Prepare("SELECT v FROM item")
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	var v string
	if err := sel.QueryRow().Scan(&v); err != nil || v != "prepared" {
		t.Fatalf("read %q, %v", v, err)
	}
}

func TestIsWrite(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                           false,
		"  select * from x":                  false,
		"\n\t(SELECT 1)":                     false,
		"-- comment\nSELECT 1":               false,
		"EXPLAIN QUERY PLAN SELECT 1":        false,
		"SELECT\n1":                          false,
		"INSERT INTO x VALUES (1) RETURNING": true,
		"UPDATE x SET a=1":                   true,
		"DELETE FROM x":                      true,
		"WITH a AS (SELECT 1) INSERT INTO x": true,
		"PRAGMA journal_mode=WAL":            true,
		"SELECTED":                           true,
		"":                                   true,
	} {
		if got := IsWrite(q); got != want {
			t.Errorf("IsWrite(%q) = %v, want %v", q, got, want)
		}
	}
}

func TestRegister(t *testing.T) {
	name, err := Register("sqlite3-fk-wal")
	if err != nil {
		t.Fatal(err)
	}
	if name != "sqlite3-fk-wal"+Suffix {
		t.Fatalf("name %q", name)
	}
	if again, err := Register("sqlite3-fk-wal"); err != nil || again != name {
		t.Fatalf("second Register: %q, %v", again, err)
	}
	if d, err := dbutil.ParseDialect(name); err != nil || d != dbutil.SQLite {
		t.Fatalf("dialect of %q: %v, %v", name, d, err)
	}
	// The wrapped driver keeps the base driver's settings (WAL, foreign keys).
	db, err := sql.Open(name, "file:"+filepath.Join(t.TempDir(), "r.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v", mode, err)
	}
	var fk int
	if err := db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign keys %d, %v", fk, err)
	}
	if _, err := Register("no-such-driver"); err == nil {
		t.Fatal("Register of an unknown driver succeeded")
	}
}
