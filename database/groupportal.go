package database

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mau.fi/util/dbutil"
)

// GroupPortal maps the participant set of a multi-party conversation to its
// group portal.
type GroupPortal struct {
	LoginID      string
	Participants []string // lower-cased, sorted, without the user
	PortalID     string
	CreatedAt    time.Time
}

// GroupPortalQuery reads and writes msn_group_portal.
type GroupPortalQuery struct {
	*dbutil.QueryHelper[*GroupPortal]
}

func newGroupPortal(_ *dbutil.QueryHelper[*GroupPortal]) *GroupPortal { return &GroupPortal{} }

const (
	groupPortalColumns      = "login_id, participants, portal_id, created_at"
	getGroupPortalQuery     = "SELECT " + groupPortalColumns + " FROM msn_group_portal WHERE login_id=$1 AND participants=$2"
	getGroupPortalByIDQuery = "SELECT " + groupPortalColumns + " FROM msn_group_portal WHERE login_id=$1 AND portal_id=$2"
	insertGroupPortalQuery  = "INSERT INTO msn_group_portal (" + groupPortalColumns + ") VALUES ($1, $2, $3, $4) ON CONFLICT (login_id, participants) DO NOTHING"
	deleteGroupPortalsQuery = "DELETE FROM msn_group_portal WHERE login_id=$1"
)

// ParticipantKey is the canonical form of a participant set: lower-cased,
// de-duplicated, sorted, comma-joined.
func ParticipantKey(participants []string) string {
	set := make([]string, 0, len(participants))
	for _, p := range participants {
		set = append(set, strings.ToLower(strings.TrimSpace(p)))
	}
	slices.Sort(set)
	return strings.Join(slices.Compact(set), ",")
}

// Scan implements dbutil.DataStruct.
func (g *GroupPortal) Scan(row dbutil.Scannable) (*GroupPortal, error) {
	var key string
	var created int64
	if err := row.Scan(&g.LoginID, &key, &g.PortalID, &created); err != nil {
		return nil, err
	}
	g.Participants = splitList(key)
	g.CreatedAt = time.UnixMilli(created)
	return g, nil
}

// Get returns the group portal of a participant set, nil when none.
func (q *GroupPortalQuery) Get(ctx context.Context, loginID string, participants []string) (*GroupPortal, error) {
	g, err := q.QueryOne(ctx, getGroupPortalQuery, loginID, ParticipantKey(participants))
	if err != nil {
		return nil, fmt.Errorf("get group portal of %s: %w", loginID, err)
	}
	return g, nil
}

// GetByPortalID returns the participant set of a group portal, nil when none.
func (q *GroupPortalQuery) GetByPortalID(ctx context.Context, loginID, portalID string) (*GroupPortal, error) {
	g, err := q.QueryOne(ctx, getGroupPortalByIDQuery, loginID, portalID)
	if err != nil {
		return nil, fmt.Errorf("get group portal %s of %s: %w", portalID, loginID, err)
	}
	return g, nil
}

// GetOrInsert returns the stored mapping of the participant set, or stores
// g and returns it when none exists yet. Concurrent callers get the same row.
func (q *GroupPortalQuery) GetOrInsert(ctx context.Context, g *GroupPortal) (*GroupPortal, error) {
	key := ParticipantKey(g.Participants)
	created := g.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	if err := q.Exec(ctx, insertGroupPortalQuery, g.LoginID, key, g.PortalID, created.UnixMilli()); err != nil {
		return nil, fmt.Errorf("save group portal %s of %s: %w", g.PortalID, g.LoginID, err)
	}
	return q.Get(ctx, g.LoginID, g.Participants)
}

// DeleteAll removes every mapping of a login.
func (q *GroupPortalQuery) DeleteAll(ctx context.Context, loginID string) error {
	if err := q.Exec(ctx, deleteGroupPortalsQuery, loginID); err != nil {
		return fmt.Errorf("delete group portals of %s: %w", loginID, err)
	}
	return nil
}
