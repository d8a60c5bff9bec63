// Package database holds the bridge's own tables (contact list snapshots,
// group portal participant sets, avatar cache, contact group spaces, ids of
// bridged offline messages), next to bridgev2's tables in the same database.
// Every query takes a context; SQLite and PostgreSQL work.
package database

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"

	"github.com/mautrix-msn/mautrix-msn/database/upgrades"
)

// Database is the bridge's own section of the database.
type Database struct {
	*dbutil.Database

	Contact     *ContactQuery
	GroupPortal *GroupPortalQuery
	Avatar      *AvatarQuery
	GroupSpace  *GroupSpaceQuery
	Offline     *OfflineMessageQuery
}

// New wraps db with the msn_* tables; call Upgrade before use.
func New(db *dbutil.Database, log zerolog.Logger) *Database {
	db = db.Child("msn_version", upgrades.Table, dbutil.ZeroLogger(log))
	return &Database{
		Database:    db,
		Contact:     &ContactQuery{dbutil.MakeQueryHelper(db, newContact)},
		GroupPortal: &GroupPortalQuery{dbutil.MakeQueryHelper(db, newGroupPortal)},
		Avatar:      &AvatarQuery{dbutil.MakeQueryHelper(db, newAvatar)},
		GroupSpace:  &GroupSpaceQuery{dbutil.MakeQueryHelper(db, newGroupSpace)},
		Offline:     &OfflineMessageQuery{db},
	}
}

// Upgrade creates or upgrades the msn_* tables.
func (db *Database) Upgrade(ctx context.Context) error {
	if err := db.Database.Upgrade(ctx); err != nil {
		return fmt.Errorf("upgrade msn tables: %w", err)
	}
	return nil
}
