package bridge

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
)

// saveLogin stores a login that signed in and returns bridgev2's login
// object for it.
//
// bridgev2 v0.32.0's User.NewLogin builds a brand-new login without the
// cache of the portals the login is in (UserLogin.inPortalCache stays
// nil), so until the bridge restarts every message of that login
// rewrites its user_portal row and rechecks the user's invite
// (UserLogin.MarkInPortal): a database write per message, about a
// quarter of the time a message takes at idle (docs/performance.md).
// Logins loaded from the database have the cache. So a new login is
// stored first and then loaded the way bridgev2 loads logins at startup;
// an existing one (a re-login, or the account of another Matrix user)
// goes through NewLogin, which reuses or replaces it.
func (pl *PasswordLogin) saveLogin(ctx context.Context, data *database.UserLogin) (*bridgev2.UserLogin, error) {
	params := &bridgev2.NewLoginParams{DeleteOnConflict: true}
	br := pl.connector.Bridge
	existing, err := br.GetExistingUserLoginByID(ctx, data.ID)
	if err != nil {
		return nil, fmt.Errorf("check for an earlier login: %w", err)
	}
	if existing != nil {
		return pl.user.NewLogin(ctx, data, params)
	}
	data.BridgeID = br.ID
	data.UserMXID = pl.user.MXID
	if err := br.DB.UserLogin.Insert(ctx, data); err != nil {
		// Most likely the same account logging in at this moment from
		// elsewhere: NewLogin sorts that out.
		return pl.user.NewLogin(ctx, data, params)
	}
	ul, err := br.GetExistingUserLoginByID(ctx, data.ID)
	if err == nil && ul == nil {
		err = fmt.Errorf("login %s not found after storing it", data.ID)
	}
	if err != nil {
		if delErr := br.DB.UserLogin.Delete(ctx, data.ID); delErr != nil {
			return nil, fmt.Errorf("load the new login: %w (and remove it again: %v)", err, delErr)
		}
		return nil, fmt.Errorf("load the new login: %w", err)
	}
	return ul, nil
}
