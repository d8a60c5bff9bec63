package database

import (
	"context"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
)

// Avatar is a display picture already uploaded to Matrix, by MSNObject SHA1D.
type Avatar struct {
	SHA1D     string
	MXC       string
	MimeType  string
	Size      int64
	CreatedAt time.Time
}

// AvatarQuery reads and writes msn_avatar.
type AvatarQuery struct {
	*dbutil.QueryHelper[*Avatar]
}

func newAvatar(_ *dbutil.QueryHelper[*Avatar]) *Avatar { return &Avatar{} }

const (
	getAvatarQuery = "SELECT sha1d, mxc, mime_type, size, created_at FROM msn_avatar WHERE sha1d=$1"
	putAvatarQuery = `
		INSERT INTO msn_avatar (sha1d, mxc, mime_type, size, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (sha1d) DO UPDATE SET mxc=excluded.mxc, mime_type=excluded.mime_type, size=excluded.size
	`
)

// Scan implements dbutil.DataStruct.
func (a *Avatar) Scan(row dbutil.Scannable) (*Avatar, error) {
	var created int64
	if err := row.Scan(&a.SHA1D, &a.MXC, &a.MimeType, &a.Size, &created); err != nil {
		return nil, err
	}
	a.CreatedAt = time.UnixMilli(created)
	return a, nil
}

// Get returns the cached avatar with this SHA1D, nil when none.
func (q *AvatarQuery) Get(ctx context.Context, sha1d string) (*Avatar, error) {
	a, err := q.QueryOne(ctx, getAvatarQuery, sha1d)
	if err != nil {
		return nil, fmt.Errorf("get avatar %s: %w", sha1d, err)
	}
	return a, nil
}

// Put stores or replaces a cached avatar.
func (q *AvatarQuery) Put(ctx context.Context, a *Avatar) error {
	created := a.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	if err := q.Exec(ctx, putAvatarQuery, a.SHA1D, a.MXC, a.MimeType, a.Size, created.UnixMilli()); err != nil {
		return fmt.Errorf("save avatar %s: %w", a.SHA1D, err)
	}
	return nil
}
