package bridge

import (
	"context"
	"slices"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/database"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// syncContactsNow syncs the contact list of the current session in the
// background, tied to the session.
func (m *MSNClient) syncContactsNow() {
	m.mu.Lock()
	sess, ctx := m.sess, m.sessCtx
	m.mu.Unlock()
	if sess == nil {
		return
	}
	m.bg.Go(func() { m.syncContacts(ctx, sess) })
}

// syncAfterConnect runs the work that follows a successful sign-in.
func (m *MSNClient) syncAfterConnect(ctx context.Context, sess *session) {
	m.syncContacts(ctx, sess)
	m.startContactRefresh(ctx, sess)
}

// syncContacts stores the contact list snapshot, updates the contacts'
// ghosts, makes every forward-list contact a member of the login's space,
// removes contacts that are gone and announces new contact requests.
func (m *MSNClient) syncContacts(ctx context.Context, sess *session) {
	if m.connector.DB == nil || sess == nil {
		return
	}
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	loginID := string(m.login.ID)
	previous, err := m.connector.DB.Contact.GetAll(ctx, loginID)
	if err != nil {
		m.log.Err(err).Msg("Failed to load contact snapshot")
	}
	prevByEmail := make(map[string]*database.Contact, len(previous))
	for _, c := range previous {
		prevByEmail[c.Email] = c
	}
	// Presence events that arrive while we work on this snapshot are newer
	// than it: presenceSince lets them win.
	presenceSince := m.presence.mark()
	contacts, current, requests := m.storeContactSnapshot(ctx, sess, loginID, prevByEmail)
	for _, c := range requests {
		m.notifyContactRequest(ctx, normalizeEmail(c.Email), c.FriendlyName, "")
	}
	if m.connector.Bridge == nil {
		return
	}
	for _, c := range contacts {
		email := normalizeEmail(c.Email)
		if !current[email] {
			continue
		}
		if c.FriendlyName != "" {
			m.rememberName(email, c.FriendlyName)
		}
		m.updateGhostName(ctx, email, c.FriendlyName)
		m.presence.updateSnapshot(email, presenceSince, func(p *contactPresence) {
			p.Status = c.Status
			p.PSM = c.PersonalMessage
		})
		if ctx.Err() != nil {
			return
		}
	}
	m.syncSpaceMembers(ctx, current, prevByEmail)
	m.syncGroupSpaces(ctx, sess)
}

// storeContactSnapshot reads msnclient's contact list and stores it as the
// login's snapshot under contactDBMu, so presence stored by live events is
// either in the list read or written after it. It returns the list, the
// forward-list contacts and the new contact requests to announce.
func (m *MSNClient) storeContactSnapshot(ctx context.Context, sess *session, loginID string, prevByEmail map[string]*database.Contact) (contacts []msnclient.Contact, current map[string]bool, requests []msnclient.Contact) {
	m.contactDBMu.Lock()
	defer m.contactDBMu.Unlock()
	contacts = sess.client.Contacts()
	if ctx.Err() != nil || m.currentSession() != sess {
		// The session ended: its list is stale, and a newer session (or
		// a logout) owns the stored snapshot now.
		return contacts, map[string]bool{}, nil
	}
	rows := make([]*database.Contact, 0, len(contacts))
	current = make(map[string]bool, len(contacts))
	for _, c := range contacts {
		email := normalizeEmail(c.Email)
		if email == normalizeEmail(m.meta.Email) {
			continue
		}
		rows = append(rows, &database.Contact{
			LoginID:      loginID,
			Email:        email,
			FriendlyName: c.FriendlyName,
			Lists:        uint8(c.Lists),
			Groups:       c.Groups,
			Status:       string(c.Status),
			PSM:          c.PersonalMessage,
			UpdatedAt:    time.Now(),
		})
		if c.Lists&msnclient.ListForward != 0 {
			current[email] = true
		}
		prev := prevByEmail[email]
		if c.Lists&msnclient.ListPending != 0 && c.Lists&(msnclient.ListForward|msnclient.ListBlock) == 0 &&
			(prev == nil || msnclient.Lists(prev.Lists)&msnclient.ListPending == 0) {
			requests = append(requests, c)
		}
	}
	if err := m.connector.DB.Contact.ReplaceAll(ctx, loginID, rows); err != nil {
		m.log.Err(err).Msg("Failed to save contact snapshot")
	}
	return contacts, current, requests
}

// syncSpaceMembers puts forward-list contacts' ghosts in the login's
// personal space and removes the ghosts of contacts no longer on it.
// bridgev2 only adds portals to the space, not contacts.
func (m *MSNClient) syncSpaceMembers(ctx context.Context, current map[string]bool, previous map[string]*database.Contact) {
	br := m.connector.Bridge
	if !br.Config.PersonalFilteringSpaces {
		return
	}
	space, err := m.login.GetSpaceRoom(ctx)
	if err != nil || space == "" {
		m.log.Err(err).Msg("Failed to get personal space")
		return
	}
	emails := spaceJoinsNeeded(current, previous, m.spaceMembersSynced.Load())
	joined := m.joinSpaceAll(ctx, space, "", emails)
	// Once every contact joined, later syncs (each reconnect) only join the
	// contacts new on the list instead of checking every ghost again.
	m.spaceMembersSynced.Store(len(joined) == len(emails))
	for email, prev := range previous {
		if current[email] || msnclient.Lists(prev.Lists)&msnclient.ListForward == 0 {
			continue
		}
		if err := m.leaveSpace(ctx, space, email); err != nil {
			m.log.Warn().Err(err).Str("contact", email).Msg("Failed to remove contact from space")
		}
	}
}

// spaceJoinsNeeded returns the forward-list contacts to put in the login's
// space: all of them until one sync put them all there (synced), then only
// those not on the forward list of the previous snapshot.
func spaceJoinsNeeded(current map[string]bool, previous map[string]*database.Contact, synced bool) []string {
	emails := make([]string, 0, len(current))
	for email := range current {
		if prev := previous[email]; synced && prev != nil && msnclient.Lists(prev.Lists)&msnclient.ListForward != 0 {
			continue
		}
		emails = append(emails, email)
	}
	slices.Sort(emails)
	return emails
}

func (m *MSNClient) joinSpace(ctx context.Context, space id.RoomID, email string) error {
	ghost, err := m.connector.Bridge.GetGhostByID(ctx, makeUserID(email))
	if err != nil {
		return err
	}
	if err := m.connector.Bridge.Bot.EnsureInvited(ctx, space, ghost.Intent.GetMXID()); err != nil {
		return err
	}
	return ghost.Intent.EnsureJoined(ctx, space)
}

func (m *MSNClient) leaveSpace(ctx context.Context, space id.RoomID, email string) error {
	ghost, err := m.connector.Bridge.GetExistingGhostByID(ctx, makeUserID(email))
	if err != nil || ghost == nil {
		return err
	}
	bot, ok := m.connector.Bridge.Bot.(*matrix.ASIntent)
	if !ok {
		return nil
	}
	_, err = bot.Matrix.KickUser(ctx, space, &mautrix.ReqKickUser{
		UserID: ghost.Intent.GetMXID(),
		Reason: "Removed from the MSN contact list",
	})
	return err
}
