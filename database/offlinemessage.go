package database

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/util/dbutil"
)

// OfflineMessageQuery reads and writes msn_offline_message: the ids of
// offline messages already bridged to Matrix, kept until the MSN server
// confirmed their deletion.
type OfflineMessageQuery struct {
	db *dbutil.Database
}

// IsBridged reports whether an offline message was already bridged.
func (q *OfflineMessageQuery) IsBridged(ctx context.Context, loginID, messageID string) (bool, error) {
	var n int
	err := q.db.QueryRow(ctx, "SELECT COUNT(*) FROM msn_offline_message WHERE login_id=$1 AND message_id=$2",
		loginID, strings.ToUpper(messageID)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check offline message %s of %s: %w", messageID, loginID, err)
	}
	return n > 0, nil
}

// MarkBridged records that an offline message reached Matrix.
func (q *OfflineMessageQuery) MarkBridged(ctx context.Context, loginID, messageID, sender string) error {
	_, err := q.db.Exec(ctx, `INSERT INTO msn_offline_message (login_id, message_id, sender, bridged_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (login_id, message_id) DO NOTHING`, loginID, strings.ToUpper(messageID), strings.ToLower(sender), time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("record offline message %s of %s: %w", messageID, loginID, err)
	}
	return nil
}

// Forget drops the records of offline messages the server deleted.
func (q *OfflineMessageQuery) Forget(ctx context.Context, loginID string, messageIDs []string) error {
	for _, id := range messageIDs {
		if _, err := q.db.Exec(ctx, "DELETE FROM msn_offline_message WHERE login_id=$1 AND message_id=$2", loginID, strings.ToUpper(id)); err != nil {
			return fmt.Errorf("forget offline message %s of %s: %w", id, loginID, err)
		}
	}
	return nil
}

// Count returns how many bridged offline messages of a login are recorded.
func (q *OfflineMessageQuery) Count(ctx context.Context, loginID string) (int, error) {
	var n int
	if err := q.db.QueryRow(ctx, "SELECT COUNT(*) FROM msn_offline_message WHERE login_id=$1", loginID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count offline messages of %s: %w", loginID, err)
	}
	return n, nil
}

// DeleteAll forgets every record of a login (logout).
func (q *OfflineMessageQuery) DeleteAll(ctx context.Context, loginID string) error {
	if _, err := q.db.Exec(ctx, "DELETE FROM msn_offline_message WHERE login_id=$1", loginID); err != nil {
		return fmt.Errorf("delete offline message records of %s: %w", loginID, err)
	}
	return nil
}
