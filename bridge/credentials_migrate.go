package bridge

import (
	"context"
	"fmt"
)

// migrateCredentials converts the stored passwords of every login to the
// format bound to the login ID. It runs at startup, before any login
// connects; a password that cannot be converted (the key changed) is left
// alone, and that login asks the user to log in again.
func (c *Connector) migrateCredentials(ctx context.Context) error {
	db := c.Bridge.DB.UserLogin
	users, err := db.GetAllUserIDsWithLogins(ctx)
	if err != nil {
		return fmt.Errorf("list users with logins: %w", err)
	}
	for _, user := range users {
		logins, err := db.GetAllForUser(ctx, user)
		if err != nil {
			return fmt.Errorf("list logins of %s: %w", user, err)
		}
		for _, login := range logins {
			meta, ok := login.Metadata.(*UserLoginMetadata)
			if !ok {
				continue
			}
			migrated, changed, err := migrateStoredPassword(c.Config.credentialsKey, login.ID, meta.EncryptedPassword)
			if err != nil {
				c.Bridge.Log.Warn().Err(err).Str("login_id", string(login.ID)).
					Msg("Could not convert the stored password to the login-bound format")
				continue
			}
			if !changed {
				continue
			}
			meta.EncryptedPassword = migrated
			if err := db.Update(ctx, login); err != nil {
				return fmt.Errorf("save converted password of %s: %w", login.ID, err)
			}
			c.Bridge.Log.Info().Str("login_id", string(login.ID)).Msg("Converted stored password to the login-bound format")
		}
	}
	return nil
}
