package bridge

import (
	"context"
	"errors"

	"maunium.net/go/mautrix/bridgev2/commands"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// OwnProfile is what the user set from Matrix about themselves. It is kept
// in the login's metadata and restored at every sign-in, so that a
// reconnect or a bridge restart never forgets it: the status is the first
// one the server sees (an invisible user never shows online, not even for a
// moment), the name and personal message are sent again right after.
type OwnProfile struct {
	Status msnclient.Status `json:"status,omitempty"` // "" never set: online
	// PersonalMessage is nil when never set from Matrix (then the server's
	// is left alone); an empty string clears it.
	PersonalMessage *string `json:"personal_message,omitempty"`
	FriendlyName    string  `json:"friendly_name,omitempty"` // "" never set
}

// initialStatus is the status to sign in with.
func (p OwnProfile) initialStatus() msnclient.Status {
	if p.Status == "" {
		return msnclient.StatusOnline
	}
	return p.Status
}

// ownProfile returns a copy of the stored profile.
func (m *MSNClient) ownProfile() OwnProfile {
	m.profileMu.Lock()
	defer m.profileMu.Unlock()
	p := m.meta.Profile
	if p.PersonalMessage != nil {
		psm := *p.PersonalMessage
		p.PersonalMessage = &psm
	}
	return p
}

// updateProfile changes the stored profile and saves the login, under
// profileMu like setOwnName, so our saves never read it mid-change.
func (m *MSNClient) updateProfile(ctx context.Context, change func(p *OwnProfile)) {
	m.profileMu.Lock()
	defer m.profileMu.Unlock()
	change(&m.meta.Profile)
	if m.connector.Bridge == nil {
		return // not running in a bridge (tests)
	}
	if err := m.login.Save(ctx); err != nil {
		m.log.Err(err).Msg("Failed to save own profile")
	}
}

// setStatus stores status and applies it when connected. Stored first: a
// status chosen while the bridge is reconnecting is the one it signs in
// with.
func (m *MSNClient) setStatus(ctx context.Context, status msnclient.Status) error {
	m.updateProfile(ctx, func(p *OwnProfile) { p.Status = status })
	cl, err := m.client()
	if err != nil {
		return err
	}
	return cl.SetStatus(ctx, status)
}

// setPersonalMessage stores a personal message and applies it when
// connected.
func (m *MSNClient) setPersonalMessage(ctx context.Context, psm string) error {
	m.updateProfile(ctx, func(p *OwnProfile) { p.PersonalMessage = &psm })
	cl, err := m.client()
	if err != nil {
		return err
	}
	return cl.SetPersonalMessage(ctx, psm, "")
}

// setFriendlyName stores a friendly name and applies it when connected.
func (m *MSNClient) setFriendlyName(ctx context.Context, name string) error {
	cl, err := m.client()
	if err == nil {
		if err := cl.SetFriendlyName(ctx, name); err != nil {
			return err // refused (too long...): not stored either
		}
	}
	m.updateProfile(ctx, func(p *OwnProfile) { p.FriendlyName = name })
	return err
}

// restoreProfile sends the stored name and personal message after a
// sign-in (the status was the initial one).
func (m *MSNClient) restoreProfile(ctx context.Context, cl *msnclient.Client) {
	p := m.ownProfile()
	if p.FriendlyName != "" && p.FriendlyName != cl.FriendlyName() {
		if err := cl.SetFriendlyName(ctx, p.FriendlyName); err != nil {
			m.log.Warn().Err(err).Msg("Failed to restore friendly name")
		}
	}
	if p.PersonalMessage != nil {
		err := cl.SetPersonalMessage(ctx, *p.PersonalMessage, "")
		if err != nil && !errors.Is(err, msnclient.ErrNotConnected) {
			m.log.Debug().Err(err).Msg("Failed to restore personal message")
		}
	}
}

// runProfileCommand runs a set-status/set-psm/set-name change with the
// command timeout. When the login is not connected the change is stored
// and applied at the next sign-in, and the user is told so. It reports
// whether the change was applied on MSN.
func runProfileCommand(ce *commands.Event, m *MSNClient, what string, fn func(ctx context.Context) error) bool {
	ctx, cancel := context.WithTimeout(ce.Ctx, commandTimeout)
	defer cancel()
	err := fn(ctx)
	switch {
	case err == nil:
		return true
	case errors.Is(err, msnclient.ErrNotConnected):
		replyPlain(ce, "You are not connected to MSN right now (%s); your %s was saved and will be set when the bridge signs in again.", m.meta.Email, what)
	default:
		replyPlain(ce, "Failed to set your %s: %s", what, describeCommandError(err))
	}
	return false
}
