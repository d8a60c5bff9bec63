package bridge

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/database"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// Contact groups as child spaces: every MSN contact group of a login is a
// Matrix space inside the login's personal space, with the ghosts of the
// group's contacts as members and their DM portals as children. The spaces
// follow the contact list: they are reconciled after every list load or
// change (login, ContactListChanged, the group commands, the periodic
// address-book refresh).

// groupSpaceWant is what the space of one MSN group should hold.
type groupSpaceWant struct {
	Group   msnclient.Group
	Members []string // emails of forward-list contacts in the group, sorted
}

// wantedGroupSpaces lists the groups that get a space, by name, with their
// members. MSNP8-9's group 0 ("Other Contacts", every contact in no other
// group) is not a group in the other dialects and gets none.
func wantedGroupSpaces(groups []msnclient.Group, contacts []msnclient.Contact, self string) []groupSpaceWant {
	byID := make(map[string]*groupSpaceWant, len(groups))
	out := make([]*groupSpaceWant, 0, len(groups))
	for _, g := range groups {
		if g.ID == "0" || byID[g.ID] != nil {
			continue
		}
		w := &groupSpaceWant{Group: g, Members: []string{}}
		byID[g.ID] = w
		out = append(out, w)
	}
	for _, c := range contacts {
		email := normalizeEmail(c.Email)
		if email == self || c.Lists&msnclient.ListForward == 0 {
			continue
		}
		for _, gid := range c.Groups {
			if w := byID[gid]; w != nil && !slices.Contains(w.Members, email) {
				w.Members = append(w.Members, email)
			}
		}
	}
	res := make([]groupSpaceWant, 0, len(out))
	for _, w := range out {
		slices.Sort(w.Members)
		res = append(res, *w)
	}
	slices.SortStableFunc(res, func(a, b groupSpaceWant) int {
		switch {
		case a.Group.Name < b.Group.Name:
			return -1
		case a.Group.Name > b.Group.Name:
			return 1
		}
		return 0
	})
	return res
}

// setDiff returns the elements of want missing from have, and those of
// have missing from want.
func setDiff(have, want []string) (added, removed []string) {
	for _, w := range want {
		if !slices.Contains(have, w) {
			added = append(added, w)
		}
	}
	for _, h := range have {
		if !slices.Contains(want, h) {
			removed = append(removed, h)
		}
	}
	return added, removed
}

// groupSpacesEnabled reports whether contact groups become spaces: the
// config switch is on and the bridge makes personal spaces at all.
func (m *MSNClient) groupSpacesEnabled() bool {
	br := m.connector.Bridge
	return m.connector.Config.ContactGroups.Spaces && br != nil && br.Config.PersonalFilteringSpaces
}

// syncGroupSpaces reconciles the login's group spaces with the contact
// list of sess. Callers hold syncMu.
func (m *MSNClient) syncGroupSpaces(ctx context.Context, sess *session) {
	if m.connector.DB == nil || m.connector.Bridge == nil || sess == nil {
		return
	}
	loginID := string(m.login.ID)
	stored, err := m.connector.DB.GroupSpace.GetAll(ctx, loginID)
	if err != nil {
		m.log.Err(err).Msg("Failed to load group spaces")
		return
	}
	if !m.groupSpacesEnabled() {
		for _, row := range stored {
			m.deleteGroupSpace(ctx, "", row)
		}
		return
	}
	parent, err := m.login.GetSpaceRoom(ctx)
	if err != nil || parent == "" {
		m.log.Err(err).Msg("Failed to get personal space for group spaces")
		return
	}
	start := time.Now()
	byID := make(map[string]*database.GroupSpace, len(stored))
	for _, row := range stored {
		byID[row.GroupID] = row
	}
	wants := wantedGroupSpaces(sess.client.Groups(), sess.client.Contacts(), normalizeEmail(m.meta.Email))
	for _, w := range wants {
		row := byID[w.Group.ID]
		delete(byID, w.Group.ID)
		if err := m.syncGroupSpace(ctx, parent, row, w); err != nil {
			m.log.Err(err).Str("group", w.Group.Name).Msg("Failed to sync group space")
		}
		if ctx.Err() != nil {
			return
		}
	}
	for _, row := range byID {
		m.deleteGroupSpace(ctx, parent, row)
	}
	m.log.Debug().Int("groups", len(wants)).Dur("took", time.Since(start)).Msg("Synced contact group spaces")
}

// syncGroupSpace creates or updates the space of one group (row nil: none
// yet) and stores it.
func (m *MSNClient) syncGroupSpace(ctx context.Context, parent id.RoomID, row *database.GroupSpace, w groupSpaceWant) error {
	db := m.connector.DB.GroupSpace
	if row == nil {
		roomID, err := m.createGroupSpace(ctx, parent, w.Group)
		if err != nil {
			return err
		}
		row = &database.GroupSpace{LoginID: string(m.login.ID), GroupID: w.Group.ID, Name: w.Group.Name, RoomID: roomID.String()}
		if err := db.Put(ctx, row); err != nil {
			return err
		}
	} else if row.Name != w.Group.Name {
		_, err := m.connector.Bridge.Bot.SendState(ctx, id.RoomID(row.RoomID), event.StateRoomName, "",
			&event.Content{Parsed: &event.RoomNameEventContent{Name: w.Group.Name}}, time.Now())
		if err != nil {
			return fmt.Errorf("rename space of group %q: %w", w.Group.Name, err)
		}
		row.Name = w.Group.Name
	}
	space := id.RoomID(row.RoomID)
	added, removed := setDiff(row.Members, w.Members)
	row.Members = append(row.Members, m.joinSpaceAll(ctx, space, w.Group.Name, added)...)
	for _, email := range removed {
		if err := m.kickFromSpace(ctx, space, email, "No longer in this MSN group"); err != nil {
			m.log.Warn().Err(err).Str("contact", email).Str("group", w.Group.Name).Msg("Failed to remove contact from group space")
			continue
		}
		row.Members = slices.DeleteFunc(row.Members, func(e string) bool { return e == email })
	}
	wantChildren := m.dmRooms(ctx, w.Members)
	addChildren, removeChildren := setDiff(row.Children, wantChildren)
	for _, room := range addChildren {
		if err := m.setSpaceChild(ctx, space, id.RoomID(room), true); err != nil {
			m.log.Warn().Err(err).Str("group", w.Group.Name).Msg("Failed to add DM to group space")
			continue
		}
		row.Children = append(row.Children, room)
	}
	for _, room := range removeChildren {
		if err := m.setSpaceChild(ctx, space, id.RoomID(room), false); err != nil {
			m.log.Warn().Err(err).Str("group", w.Group.Name).Msg("Failed to remove DM from group space")
			continue
		}
		row.Children = slices.DeleteFunc(row.Children, func(r string) bool { return r == room })
	}
	return db.Put(ctx, row)
}

// spaceJoinWorkers bounds the ghosts joining a space at once.
const spaceJoinWorkers = 8

// joinSpaceAll puts the ghosts of emails into space (the login's space, or
// the space of group), a few at a time, and returns those that joined.
func (m *MSNClient) joinSpaceAll(ctx context.Context, space id.RoomID, group string, emails []string) []string {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var joined []string
	sem := make(chan struct{}, spaceJoinWorkers)
	for _, email := range emails {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := m.joinSpace(ctx, space, email); err != nil {
				m.log.Warn().Err(err).Str("contact", email).Str("group", group).Msg("Failed to add contact to space")
				return
			}
			mu.Lock()
			joined = append(joined, email)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return joined
}

// dmRooms returns the Matrix rooms of the existing DM portals with emails.
func (m *MSNClient) dmRooms(ctx context.Context, emails []string) []string {
	rooms := []string{}
	for _, email := range emails {
		portal, err := m.connector.Bridge.GetExistingPortalByKey(ctx, makeDMPortalKey(email, m.login.ID))
		if err == nil && portal != nil && portal.MXID != "" {
			rooms = append(rooms, portal.MXID.String())
		}
	}
	slices.Sort(rooms)
	return rooms
}

// createGroupSpace creates the space of group, invites the user and makes
// it a child of the login's space.
func (m *MSNClient) createGroupSpace(ctx context.Context, parent id.RoomID, group msnclient.Group) (id.RoomID, error) {
	br := m.connector.Bridge
	user := m.login.UserMXID
	autoJoin := br.Matrix.GetCapabilities().AutoJoinInvites
	req := &mautrix.ReqCreateRoom{
		Visibility: "private",
		Name:       group.Name,
		Topic:      fmt.Sprintf("MSN contact group of %s", m.meta.Email),
		CreationContent: map[string]any{
			"type": event.RoomTypeSpace,
		},
		InitialState: []*event.Event{{
			Type:     event.StateSpaceParent,
			StateKey: ptrString(parent.String()),
			Content: event.Content{Parsed: &event.SpaceParentEventContent{
				Via: []string{br.Matrix.ServerName()}, Canonical: true,
			}},
		}},
		PowerLevelOverride: &event.PowerLevelsEventContent{
			Users: map[id.UserID]int{br.Bot.GetMXID(): 9001, user: 50},
		},
		Invite: []id.UserID{user},
	}
	if autoJoin {
		req.BeeperInitialMembers = []id.UserID{user}
		req.BeeperAutoJoinInvites = true
	}
	roomID, err := br.Bot.CreateRoom(ctx, req)
	if err != nil {
		return "", fmt.Errorf("create space of group %q: %w", group.Name, err)
	}
	if !autoJoin {
		if dp := m.login.User.DoublePuppet(ctx); dp != nil {
			if err := dp.EnsureJoined(ctx, roomID); err != nil {
				m.log.Warn().Err(err).Msg("Failed to join group space with double puppet")
			}
		}
	}
	if err := m.setSpaceChild(ctx, parent, roomID, true); err != nil {
		return roomID, fmt.Errorf("add space of group %q to the login's space: %w", group.Name, err)
	}
	return roomID, nil
}

func ptrString(s string) *string { return &s }

// setSpaceChild adds (or removes) child as a child of space.
func (m *MSNClient) setSpaceChild(ctx context.Context, space, child id.RoomID, add bool) error {
	content := &event.SpaceChildEventContent{}
	if add {
		content.Via = []string{m.connector.Bridge.Matrix.ServerName()}
	}
	_, err := m.connector.Bridge.Bot.SendState(ctx, space, event.StateSpaceChild, child.String(), &event.Content{Parsed: content}, time.Now())
	return err
}

// kickFromSpace removes a contact's ghost from a space.
func (m *MSNClient) kickFromSpace(ctx context.Context, space id.RoomID, email, reason string) error {
	ghost, err := m.connector.Bridge.GetExistingGhostByID(ctx, makeUserID(email))
	if err != nil || ghost == nil {
		return err
	}
	bot, ok := m.connector.Bridge.Bot.(*matrix.ASIntent)
	if !ok {
		return nil
	}
	_, err = bot.Matrix.KickUser(ctx, space, &mautrix.ReqKickUser{UserID: ghost.Intent.GetMXID(), Reason: reason})
	return err
}

// deleteGroupSpace removes a group's space from the login's space (when
// parent is known), forgets it and deletes the room. Forgetting comes
// before deleting, so that a deletion cut short (shutdown) leaves at worst
// a stray room, never a stored space the user is no longer in.
func (m *MSNClient) deleteGroupSpace(ctx context.Context, parent id.RoomID, row *database.GroupSpace) {
	br := m.connector.Bridge
	if parent == "" {
		parent = m.login.SpaceRoom
	}
	if parent != "" {
		if err := m.setSpaceChild(ctx, parent, id.RoomID(row.RoomID), false); err != nil {
			m.log.Warn().Err(err).Str("group", row.Name).Msg("Failed to remove group space from the login's space")
		}
	}
	if err := m.connector.DB.GroupSpace.Delete(ctx, row.LoginID, row.GroupID); err != nil {
		m.log.Err(err).Msg("Failed to forget group space")
		return
	}
	if err := br.Bot.DeleteRoom(ctx, id.RoomID(row.RoomID), false); err != nil {
		m.log.Warn().Err(err).Str("group", row.Name).Msg("Failed to delete group space")
	}
}

// deleteAllGroupSpaces deletes every group space of the login (logout),
// to the end even when the logout request is cancelled.
func (m *MSNClient) deleteAllGroupSpaces(ctx context.Context) {
	if m.connector.DB == nil || m.connector.Bridge == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	rows, err := m.connector.DB.GroupSpace.GetAll(ctx, string(m.login.ID))
	if err != nil {
		m.log.Err(err).Msg("Failed to load group spaces")
		return
	}
	for _, row := range rows {
		m.deleteGroupSpace(ctx, "", row)
	}
}

// addPortalToGroupSpaces puts a DM portal into the spaces of its contact's
// groups once its room exists (portals are created on demand, after the
// list sync that made the spaces).
func (m *MSNClient) addPortalToGroupSpaces(portal *bridgev2.Portal) {
	contact, ok := dmContact(portal.ID)
	if !ok || !m.groupSpacesEnabled() || m.connector.DB == nil {
		return
	}
	ctx, cancel := context.WithTimeout(m.log.WithContext(m.backgroundCtx()), 2*time.Minute)
	defer cancel()
	if portal.RoomCreated != nil {
		if err := portal.RoomCreated.Wait(ctx); err != nil {
			return
		}
	}
	if portal.MXID == "" {
		return
	}
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	rows, err := m.connector.DB.GroupSpace.GetAll(ctx, string(m.login.ID))
	if err != nil {
		m.log.Err(err).Msg("Failed to load group spaces")
		return
	}
	room := portal.MXID.String()
	for _, row := range rows {
		if !slices.Contains(row.Members, contact) || slices.Contains(row.Children, room) {
			continue
		}
		if err := m.setSpaceChild(ctx, id.RoomID(row.RoomID), portal.MXID, true); err != nil {
			m.log.Warn().Err(err).Str("group", row.Name).Msg("Failed to add DM to group space")
			continue
		}
		row.Children = append(row.Children, room)
		if err := m.connector.DB.GroupSpace.Put(ctx, row); err != nil {
			m.log.Err(err).Msg("Failed to save group space")
		}
	}
}

// startContactRefresh re-reads the address book every refresh interval
// while sess lives (ctx is the session's), so group changes made in other
// clients (which servers do not announce) reach Matrix; a change triggers
// ContactListChanged and with it a sync. It is a timer, not a goroutine
// per login: an idle login keeps no stack for it.
func (m *MSNClient) startContactRefresh(ctx context.Context, sess *session) {
	every := time.Duration(m.connector.Config.ContactGroups.RefreshIntervalSeconds) * time.Second
	if every <= 0 || sess == nil || sess.client.Version() < 13 || ctx.Err() != nil {
		return
	}
	var mu sync.Mutex
	var t *time.Timer
	tick := func() {
		select {
		case <-ctx.Done():
			return
		case <-sess.done:
			return
		default:
		}
		rctx, cancel := context.WithTimeout(ctx, commandTimeout)
		if err := sess.client.RefreshContacts(rctx); err != nil && ctx.Err() == nil {
			m.log.Warn().Err(err).Msg("Failed to refresh the contact list")
		}
		cancel()
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() == nil {
			t.Reset(every)
		}
	}
	mu.Lock()
	t = time.AfterFunc(every, tick)
	mu.Unlock()
	context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		t.Stop()
	})
}
