package bridge

import (
	"net/url"
	"strconv"
	"strings"

	"go.mau.fi/util/dbutil"

	"github.com/mautrix-msn/mautrix-msn/database/sqlitelock"
)

// SQLiteStatementCache is how many prepared statements each SQLite
// connection keeps (go-sqlite3's _stmt_cache_size). bridgev2 runs the same
// few queries for every message; without the cache each one is parsed,
// planned and finalized again, which was a quarter of the bridge's CPU per
// message (docs/performance.md).
const SQLiteStatementCache = 64

// TuneDatabaseURI returns the database URI with the bridge's SQLite
// tuning: a prepared statement cache per connection, unless the URI sets
// _stmt_cache_size itself. URIs of other database types are returned
// unchanged.
func TuneDatabaseURI(dbType, uri string) string {
	if !isBridgeSQLite(dbType) {
		return uri
	}
	if _, query, ok := strings.Cut(uri, "?"); ok {
		if params, err := url.ParseQuery(query); err == nil && params.Has("_stmt_cache_size") {
			return uri
		}
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + "_stmt_cache_size=" + strconv.Itoa(SQLiteStatementCache)
}

// SerializeSQLiteWrites returns the database type to open instead of
// dbType: for bridgev2's SQLite drivers, the same driver with writers taking
// turns through a lock in Go (package sqlitelock), so that a burst of
// messages does not leave writers sleeping in SQLite's busy handler, and
// the automatic checkpoint a write owes runs right after it instead of in
// the lookup of a later message. Other types are returned unchanged.
func SerializeSQLiteWrites(dbType string) (string, error) {
	if !isBridgeSQLite(dbType) {
		return dbType, nil
	}
	return sqlitelock.Register(dbType)
}

// KeepSQLiteConnections makes the pool of a SQLite database keep every
// connection it opens (max_idle_conns raised to max_open_conns; bridgev2's
// default keeps one). A SQLite connection holds no server resource, but a
// new one parses the schema again and starts with an empty statement
// cache and page cache: with one kept, a steady load of 1,800 messages/s
// opened and closed connections all the time, and 61–86% of the messages
// were bridged within 1 ms instead of 95–98% (docs/performance.md). Other
// types, and pools without a limit, are left as they are.
func KeepSQLiteConnections(cfg *dbutil.Config) {
	if !isBridgeSQLite(strings.TrimSuffix(cfg.Type, sqlitelock.Suffix)) || cfg.MaxOpenConns <= 0 {
		return
	}
	cfg.MaxIdleConns = max(cfg.MaxIdleConns, cfg.MaxOpenConns)
}

// isBridgeSQLite reports whether dbType is one of the go-sqlite3 drivers
// bridgev2's dbutil registers.
func isBridgeSQLite(dbType string) bool {
	switch dbType {
	case "sqlite3-fk-wal", "sqlite3-fk-wal-fullsync", "litestream":
		return true
	}
	return false
}
