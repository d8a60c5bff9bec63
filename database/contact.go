package database

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/util/dbutil"
)

// Contact is one entry of a login's last known MSN contact list.
type Contact struct {
	LoginID      string
	Email        string
	FriendlyName string
	Lists        uint8 // msnclient.Lists bits
	Groups       []string
	Status       string // msnclient.Status code
	PSM          string
	UpdatedAt    time.Time
}

// ContactQuery reads and writes msn_contact.
type ContactQuery struct {
	*dbutil.QueryHelper[*Contact]
}

func newContact(_ *dbutil.QueryHelper[*Contact]) *Contact { return &Contact{} }

const (
	contactColumns        = "login_id, email, friendly_name, lists, group_ids, status, psm, updated_at"
	getContactQuery       = "SELECT " + contactColumns + " FROM msn_contact WHERE login_id=$1 AND email=$2"
	getAllContactsQuery   = "SELECT " + contactColumns + " FROM msn_contact WHERE login_id=$1 ORDER BY email"
	updateStatusQuery     = "UPDATE msn_contact SET status=$3, updated_at=$4 WHERE login_id=$1 AND email=$2"
	updatePSMQuery        = "UPDATE msn_contact SET psm=$3, updated_at=$4 WHERE login_id=$1 AND email=$2"
	deleteContactQuery    = "DELETE FROM msn_contact WHERE login_id=$1 AND email=$2"
	deleteAllContactQuery = "DELETE FROM msn_contact WHERE login_id=$1"
	upsertContactQuery    = `
		INSERT INTO msn_contact (` + contactColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (login_id, email) DO UPDATE
			SET friendly_name=excluded.friendly_name, lists=excluded.lists, group_ids=excluded.group_ids,
			    status=excluded.status, psm=excluded.psm, updated_at=excluded.updated_at
	`
)

// Scan implements dbutil.DataStruct.
func (c *Contact) Scan(row dbutil.Scannable) (*Contact, error) {
	var groups string
	var lists int
	var updated int64
	err := row.Scan(&c.LoginID, &c.Email, &c.FriendlyName, &lists, &groups, &c.Status, &c.PSM, &updated)
	if err != nil {
		return nil, err
	}
	c.Lists = uint8(lists)
	c.Groups = splitList(groups)
	c.UpdatedAt = time.UnixMilli(updated)
	return c, nil
}

func (c *Contact) sqlVariables() []any {
	updated := c.UpdatedAt
	if updated.IsZero() {
		updated = time.Now()
	}
	return []any{c.LoginID, strings.ToLower(c.Email), c.FriendlyName, int(c.Lists),
		strings.Join(c.Groups, ","), c.Status, c.PSM, updated.UnixMilli()}
}

// Get returns one contact of a login, nil when unknown.
func (q *ContactQuery) Get(ctx context.Context, loginID, email string) (*Contact, error) {
	c, err := q.QueryOne(ctx, getContactQuery, loginID, strings.ToLower(email))
	if err != nil {
		return nil, fmt.Errorf("get contact %s of %s: %w", email, loginID, err)
	}
	return c, nil
}

// GetAll returns every stored contact of a login, sorted by email.
func (q *ContactQuery) GetAll(ctx context.Context, loginID string) ([]*Contact, error) {
	list, err := q.QueryMany(ctx, getAllContactsQuery, loginID)
	if err != nil {
		return nil, fmt.Errorf("get contacts of %s: %w", loginID, err)
	}
	return list, nil
}

// Upsert inserts or replaces one contact.
func (q *ContactQuery) Upsert(ctx context.Context, c *Contact) error {
	if err := q.Exec(ctx, upsertContactQuery, c.sqlVariables()...); err != nil {
		return fmt.Errorf("save contact %s of %s: %w", c.Email, c.LoginID, err)
	}
	return nil
}

// UpdateStatus stores a contact's last status; unknown contacts are ignored.
func (q *ContactQuery) UpdateStatus(ctx context.Context, loginID, email, status string) error {
	if err := q.Exec(ctx, updateStatusQuery, loginID, strings.ToLower(email), status, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("save status of %s for %s: %w", email, loginID, err)
	}
	return nil
}

// UpdatePSM stores a contact's last personal message; unknown contacts are ignored.
func (q *ContactQuery) UpdatePSM(ctx context.Context, loginID, email, psm string) error {
	if err := q.Exec(ctx, updatePSMQuery, loginID, strings.ToLower(email), psm, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("save personal message of %s for %s: %w", email, loginID, err)
	}
	return nil
}

// Delete removes one contact.
func (q *ContactQuery) Delete(ctx context.Context, loginID, email string) error {
	if err := q.Exec(ctx, deleteContactQuery, loginID, strings.ToLower(email)); err != nil {
		return fmt.Errorf("delete contact %s of %s: %w", email, loginID, err)
	}
	return nil
}

// DeleteAll removes every contact of a login (on logout).
func (q *ContactQuery) DeleteAll(ctx context.Context, loginID string) error {
	if err := q.Exec(ctx, deleteAllContactQuery, loginID); err != nil {
		return fmt.Errorf("delete contacts of %s: %w", loginID, err)
	}
	return nil
}

// ReplaceAll replaces the stored list of a login with contacts, atomically.
func (q *ContactQuery) ReplaceAll(ctx context.Context, loginID string, contacts []*Contact) error {
	db := q.GetDB()
	err := db.DoTxn(ctx, nil, func(ctx context.Context) error {
		if err := q.Exec(ctx, deleteAllContactQuery, loginID); err != nil {
			return err
		}
		for _, c := range contacts {
			c.LoginID = loginID
			if err := q.Exec(ctx, upsertContactQuery, c.sqlVariables()...); err != nil {
				return fmt.Errorf("contact %s: %w", c.Email, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replace contacts of %s: %w", loginID, err)
	}
	return nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
