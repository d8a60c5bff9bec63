// Package sqlitelock wraps a go-sqlite3 database/sql driver so that the
// connections of one database file take turns to write through a lock in
// Go.
//
// SQLite lets one connection write at a time. A connection that finds the
// write lock taken waits in SQLite's busy handler, which sleeps 1, 2, 5,
// 10, 15, 20, 25 … 100 ms between attempts: under a burst of messages
// (bridgev2 inserts a row for each one, from many portals at once) the
// writers mostly sleep while the lock is free, and one that sleeps past the
// busy timeout fails with "database is locked". With this driver a writer
// waits for the previous one in Go and starts the moment it is done.
//
// Writes are the statements run with Exec, queries that do not start with
// SELECT (INSERT … RETURNING), and transactions; the lock is held until
// the statement's rows are closed or the transaction ends. A writer that cannot get the lock within the wait limit
// goes ahead without it, so a connection that keeps the lock (a
// transaction waiting for another connection) is no worse off than
// before: SQLite's own busy timeout still applies.
//
// A write whose rows are closed before SQLite steps it to the end (the
// usual INSERT … RETURNING read with QueryRow) commits in the statement's
// reset, where SQLite does not call its WAL hook: the automatic checkpoint
// that commit may owe would then run in the next statement of the
// connection, whatever it is (in the bridge, the lookup of a later
// message: 4–7 ms every few hundred messages). The driver lets it run
// right after the write, outside the write lock, as SQLite does after a
// commit.
package sqlitelock

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
)

// Suffix is added to the name of the wrapped driver.
const Suffix = "+writelock"

// DefaultWait is how long a writer waits for the lock before it goes ahead
// without it (the SQLite drivers' busy timeout).
const DefaultWait = 5 * time.Second

var registerMu sync.Mutex

// Register registers, once, a driver named base+Suffix that wraps the
// go-sqlite3 driver registered as base, and returns its name.
func Register(base string) (string, error) {
	name := base + Suffix
	registerMu.Lock()
	defer registerMu.Unlock()
	for _, d := range sql.Drivers() {
		if d == name {
			return name, nil
		}
	}
	db, err := sql.Open(base, ":memory:")
	if err != nil {
		return "", fmt.Errorf("find driver %s: %w", base, err)
	}
	inner, ok := db.Driver().(*sqlite3.SQLiteDriver)
	_ = db.Close()
	if !ok {
		return "", fmt.Errorf("driver %s is %T, not go-sqlite3", base, db.Driver())
	}
	sql.Register(name, NewDriver(inner, DefaultWait))
	return name, nil
}

// Driver is a database/sql driver whose connections to the same data
// source share one write lock.
type Driver struct {
	inner *sqlite3.SQLiteDriver
	wait  time.Duration

	mu    sync.Mutex
	locks map[string]*writeLock
}

// NewDriver wraps inner; a writer waits at most wait for the lock.
func NewDriver(inner *sqlite3.SQLiteDriver, wait time.Duration) *Driver {
	return &Driver{inner: inner, wait: wait, locks: make(map[string]*writeLock)}
}

// Open opens a connection through the wrapped driver.
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.inner.Open(dsn)
	if err != nil {
		return nil, err
	}
	sc, ok := c.(*sqlite3.SQLiteConn)
	if !ok {
		_ = c.Close()
		return nil, fmt.Errorf("sqlitelock: connection is %T, not *sqlite3.SQLiteConn", c)
	}
	return &conn{SQLiteConn: sc, lock: d.lockFor(dsn)}, nil
}

func (d *Driver) lockFor(dsn string) *writeLock {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.locks[dsn]
	if l == nil {
		l = &writeLock{ch: make(chan struct{}, 1), wait: d.wait}
		d.locks[dsn] = l
	}
	return l
}

// writeLock is a lock with a bounded, cancellable wait.
type writeLock struct {
	ch   chan struct{}
	wait time.Duration
}

// acquire takes the lock and returns its release function. After the wait
// limit it returns a release that does nothing (the caller goes ahead
// unlocked); it fails only when ctx ends.
func (l *writeLock) acquire(ctx context.Context) (release func(), err error) {
	select {
	case l.ch <- struct{}{}:
		return l.releaseOnce(), nil
	default:
	}
	timer := time.NewTimer(l.wait)
	defer timer.Stop()
	select {
	case l.ch <- struct{}{}:
		return l.releaseOnce(), nil
	case <-timer.C:
		return func() {}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *writeLock) releaseOnce() func() {
	var once sync.Once
	return func() { once.Do(func() { <-l.ch }) }
}

// conn is a connection that takes the write lock around writes made
// outside a transaction and for the length of each write transaction.
// database/sql uses a connection from one goroutine at a time.
type conn struct {
	*sqlite3.SQLiteConn
	lock *writeLock

	inTx      bool
	releaseTx func()
}

// IsWrite reports whether a query run outside a transaction is treated as
// a write: anything but a SELECT (or EXPLAIN).
func IsWrite(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	for strings.HasPrefix(q, "--") {
		_, rest, _ := strings.Cut(q, "\n")
		q = strings.TrimLeft(rest, " \t\r\n(")
	}
	word := q
	if i := strings.IndexAny(q, " \t\r\n("); i >= 0 {
		word = q[:i]
	}
	return !strings.EqualFold(word, "SELECT") && !strings.EqualFold(word, "EXPLAIN")
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.inTx {
		return c.SQLiteConn.ExecContext(ctx, query, args)
	}
	release, err := c.lock.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return c.SQLiteConn.ExecContext(ctx, query, args)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.inTx || !IsWrite(query) {
		return c.SQLiteConn.QueryContext(ctx, query, args)
	}
	release, err := c.lock.acquire(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.SQLiteConn.QueryContext(ctx, query, args)
	return c.withRelease(rows, err, release)
}

// withRelease ties release to the rows of a write query: it runs now when
// the query failed, else when the rows are closed (SQLite commits the
// statement then).
func (c *conn) withRelease(rows driver.Rows, err error, release func()) (driver.Rows, error) {
	if err != nil {
		release()
		return nil, err
	}
	sr, ok := rows.(*sqlite3.SQLiteRows)
	if !ok {
		release()
		return rows, nil
	}
	return &rowsWithRelease{SQLiteRows: sr, conn: c, release: release}, nil
}

type rowsWithRelease struct {
	*sqlite3.SQLiteRows
	conn    *conn
	release func()
}

// Close ends the write (SQLite commits it in the statement's reset),
// releases the lock and lets SQLite run the commit's WAL hook.
func (r *rowsWithRelease) Close() error {
	err := r.SQLiteRows.Close()
	r.release()
	r.conn.runWALHook()
	return err
}

// walHookStatement is an empty step: SQLite calls the WAL hook (its
// automatic checkpoint) after any statement that steps to its end.
const walHookStatement = "SELECT 1 WHERE 0"

// runWALHook gives SQLite the step after which it runs the WAL hook a
// commit made in a statement reset has left pending on the connection. A
// failure is SQLite's to report on the connection's next statement.
func (c *conn) runWALHook() {
	_, _ = c.SQLiteConn.Exec(walHookStatement, nil)
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	// Read-only ones too: with _txlock=immediate (bridgev2's URIs) every
	// BEGIN takes SQLite's write lock.
	release, err := c.lock.acquire(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := c.SQLiteConn.BeginTx(ctx, opts)
	if err != nil {
		release()
		return nil, err
	}
	c.inTx, c.releaseTx = true, release
	return &txWithRelease{Tx: tx, conn: c}, nil
}

func (c *conn) endTx() {
	if c.inTx {
		c.inTx = false
		c.releaseTx()
		c.releaseTx = nil
	}
}

func (c *conn) Close() error {
	defer c.endTx()
	return c.SQLiteConn.Close()
}

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.SQLiteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	ss, ok := s.(*sqlite3.SQLiteStmt)
	if !ok {
		_ = s.Close()
		return nil, fmt.Errorf("sqlitelock: statement is %T, not *sqlite3.SQLiteStmt", s)
	}
	return &stmt{SQLiteStmt: ss, conn: c}, nil
}

type txWithRelease struct {
	driver.Tx
	conn *conn
}

func (t *txWithRelease) Commit() error {
	defer t.conn.endTx()
	return t.Tx.Commit()
}

func (t *txWithRelease) Rollback() error {
	defer t.conn.endTx()
	return t.Tx.Rollback()
}

// stmt is a prepared statement of a conn; SQLite says whether it writes.
type stmt struct {
	*sqlite3.SQLiteStmt
	conn *conn
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.conn.inTx || s.Readonly() {
		return s.SQLiteStmt.ExecContext(ctx, args)
	}
	release, err := s.conn.lock.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return s.SQLiteStmt.ExecContext(ctx, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.conn.inTx || s.Readonly() {
		return s.SQLiteStmt.QueryContext(ctx, args)
	}
	release, err := s.conn.lock.acquire(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.SQLiteStmt.QueryContext(ctx, args)
	return s.conn.withRelease(rows, err, release)
}
