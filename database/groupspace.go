package database

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.mau.fi/util/dbutil"
)

// GroupSpace is the Matrix space of one MSN contact group of a login.
type GroupSpace struct {
	LoginID  string
	GroupID  string
	Name     string
	RoomID   string
	Members  []string // contact emails whose ghosts were put in the space
	Children []string // room IDs of DM portals added as space children
}

// GroupSpaceQuery reads and writes msn_group_space.
type GroupSpaceQuery struct {
	*dbutil.QueryHelper[*GroupSpace]
}

func newGroupSpace(_ *dbutil.QueryHelper[*GroupSpace]) *GroupSpace { return &GroupSpace{} }

const (
	groupSpaceColumns      = "login_id, group_id, name, room_id, members, children"
	getGroupSpacesQuery    = "SELECT " + groupSpaceColumns + " FROM msn_group_space WHERE login_id=$1 ORDER BY name"
	upsertGroupSpaceQuery  = "INSERT INTO msn_group_space (" + groupSpaceColumns + ") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (login_id, group_id) DO UPDATE SET name=excluded.name, room_id=excluded.room_id, members=excluded.members, children=excluded.children"
	deleteGroupSpaceQuery  = "DELETE FROM msn_group_space WHERE login_id=$1 AND group_id=$2"
	deleteGroupSpacesQuery = "DELETE FROM msn_group_space WHERE login_id=$1"
)

// Scan implements dbutil.DataStruct.
func (g *GroupSpace) Scan(row dbutil.Scannable) (*GroupSpace, error) {
	var members, children string
	if err := row.Scan(&g.LoginID, &g.GroupID, &g.Name, &g.RoomID, &members, &children); err != nil {
		return nil, err
	}
	g.Members, g.Children = splitList(members), splitList(children)
	return g, nil
}

// GetAll returns the group spaces of a login, by name.
func (q *GroupSpaceQuery) GetAll(ctx context.Context, loginID string) ([]*GroupSpace, error) {
	spaces, err := q.QueryMany(ctx, getGroupSpacesQuery, loginID)
	if err != nil {
		return nil, fmt.Errorf("get group spaces of %s: %w", loginID, err)
	}
	return spaces, nil
}

// Put stores g, replacing the row of the same group.
func (q *GroupSpaceQuery) Put(ctx context.Context, g *GroupSpace) error {
	members, children := slices.Clone(g.Members), slices.Clone(g.Children)
	slices.Sort(members)
	slices.Sort(children)
	err := q.Exec(ctx, upsertGroupSpaceQuery, g.LoginID, g.GroupID, g.Name, g.RoomID,
		strings.Join(slices.Compact(members), ","), strings.Join(slices.Compact(children), ","))
	if err != nil {
		return fmt.Errorf("save group space %s of %s: %w", g.GroupID, g.LoginID, err)
	}
	return nil
}

// Delete removes the row of one group.
func (q *GroupSpaceQuery) Delete(ctx context.Context, loginID, groupID string) error {
	if err := q.Exec(ctx, deleteGroupSpaceQuery, loginID, groupID); err != nil {
		return fmt.Errorf("delete group space %s of %s: %w", groupID, loginID, err)
	}
	return nil
}

// DeleteAll removes every group space row of a login.
func (q *GroupSpaceQuery) DeleteAll(ctx context.Context, loginID string) error {
	if err := q.Exec(ctx, deleteGroupSpacesQuery, loginID); err != nil {
		return fmt.Errorf("delete group spaces of %s: %w", loginID, err)
	}
	return nil
}
