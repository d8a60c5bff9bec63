package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// A Matrix client starts a chat with several people the way it starts a
// DM: one createRoom with an is_direct invite for every ghost (Element's
// "Start chat" with two contacts). bridgev2 handles one invite at a time
// and asks CreateChatWithGhost for the first ghost's chat, which would make
// the room that contact's DM (or refuse it, when the contact already has a
// DM), and the other invites would only follow. So the connector notes the
// room each ghost is invited to (a handler that runs just before
// bridgev2's), and CreateChatWithGhost, seeing that the room the user made
// holds the ghosts of several contacts, answers with the group portal of
// all of them: the room itself becomes the group chat, the MSN
// conversation with those people is opened (CAL), and the later invites
// find a group portal that has them already. As in MSN clients, the
// conversation window the user opened is the group chat.

// dmInviteTTL bounds how long a noted invite waits for bridgev2 to ask for
// its chat (it does so right after the note, on the same goroutine).
const dmInviteTTL = time.Minute

// dmInvite is a ghost's is_direct invite to a room that is no portal yet.
type dmInvite struct {
	room    id.RoomID
	inviter id.UserID
	at      time.Time
}

// dmInvites remembers the latest such invite of each ghost.
type dmInvites struct {
	mu      sync.Mutex
	byGhost map[id.UserID]dmInvite
}

// note records that ghost was invited to room by inviter at now, and
// forgets invites older than dmInviteTTL.
func (d *dmInvites) note(ghost id.UserID, inv dmInvite) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byGhost == nil {
		d.byGhost = make(map[id.UserID]dmInvite)
	}
	for g, old := range d.byGhost {
		if inv.at.Sub(old.at) > dmInviteTTL {
			delete(d.byGhost, g)
		}
	}
	d.byGhost[ghost] = inv
}

// take returns and forgets the room ghost was last invited to by inviter,
// if that was less than dmInviteTTL before now.
func (d *dmInvites) take(ghost, inviter id.UserID, now time.Time) (id.RoomID, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	inv, ok := d.byGhost[ghost]
	if !ok || inv.inviter != inviter || now.Sub(inv.at) > dmInviteTTL {
		return "", false
	}
	delete(d.byGhost, ghost)
	return inv.room, true
}

// watchGhostDMInvites notes the room of every is_direct invite of a ghost
// by a Matrix user into a room that is no portal, before bridgev2 handles
// it (see handleGhostDMInvite in bridgev2's matrixinvite.go).
func (c *Connector) watchGhostDMInvites(br *bridgev2.Bridge) {
	mx, ok := br.Matrix.(*matrix.Connector)
	if !ok || mx.EventProcessor == nil {
		return
	}
	mx.EventProcessor.PrependHandler(event.StateMember, func(ctx context.Context, evt *event.Event) {
		ghost, ok := ghostDMInvite(evt, br.IsGhostMXID)
		if !ok || evt.Sender == br.Bot.GetMXID() || br.IsGhostMXID(evt.Sender) {
			return
		}
		if portal, err := br.GetPortalByMXID(ctx, evt.RoomID); err != nil || portal != nil {
			return // a portal's invite is a membership change (HandleMatrixMembership)
		}
		c.dmInvites.note(ghost, dmInvite{room: evt.RoomID, inviter: evt.Sender, at: time.Now()})
	})
}

// ghostDMInvite tells whether evt is an is_direct invite of a ghost, and
// which ghost.
func ghostDMInvite(evt *event.Event, isGhost func(id.UserID) bool) (id.UserID, bool) {
	if evt.Type != event.StateMember || evt.StateKey == nil {
		return "", false
	}
	content, ok := evt.Content.Parsed.(*event.MemberEventContent)
	if !ok || content.Membership != event.MembershipInvite || !content.IsDirect {
		return "", false
	}
	ghost := id.UserID(*evt.StateKey)
	if !isGhost(ghost) {
		return "", false
	}
	return ghost, true
}

// groupDMContacts returns the contacts (sorted emails) whose ghosts user
// put in a room that user created: ghosts user invited, ghosts that
// joined, and ghosts user's power levels name without a membership yet.
// The last are the invites still to come: a homeserver creates the room
// (with trusted_private_chat, Element's preset for chats, every invitee is
// given power level 100 in it) and only then sends the invites one by one,
// so the first ghost's invite can reach the bridge before the second
// exists. It returns nil unless the room was created by user and holds at
// least two contacts: a DM, or a room someone else made, is no group DM.
func groupDMContacts(user id.UserID, state mautrix.RoomStateMap, contactOf func(id.UserID) (string, bool)) []string {
	create := state[event.StateCreate][""]
	if create == nil || create.Sender != user {
		return nil
	}
	var out []string
	add := func(userID id.UserID) {
		if email, ok := contactOf(userID); ok && !slices.Contains(out, email) {
			out = append(out, email)
		}
	}
	members := state[event.StateMember]
	for key, evt := range members {
		if evt.Content.Parsed == nil {
			_ = evt.Content.ParseRaw(event.StateMember)
		}
		content, ok := evt.Content.Parsed.(*event.MemberEventContent)
		if !ok {
			continue
		}
		switch {
		case content.Membership == event.MembershipJoin:
		case content.Membership == event.MembershipInvite && evt.Sender == user:
		default:
			continue
		}
		add(id.UserID(key))
	}
	if pl := state[event.StatePowerLevels][""]; pl != nil && pl.Sender == user {
		if pl.Content.Parsed == nil {
			_ = pl.Content.ParseRaw(event.StatePowerLevels)
		}
		if levels, ok := pl.Content.Parsed.(*event.PowerLevelsEventContent); ok {
			for userID, level := range levels.Users {
				if _, hasMember := members[userID.String()]; !hasMember && level > levels.UsersDefault {
					add(userID)
				}
			}
		}
	}
	if len(out) < 2 {
		return nil
	}
	slices.Sort(out)
	return out
}

// groupDMChat is CreateChatWithGhost's answer when the room ghost was
// invited to is a group DM (see the top of this file): the group portal
// of everyone invited. It returns nil (a DM as usual) otherwise, or when
// the room cannot be read.
func (m *MSNClient) groupDMChat(ctx context.Context, ghost *bridgev2.Ghost) (*bridgev2.CreateChatResponse, error) {
	room, ok := m.connector.dmInvites.take(ghost.Intent.GetMXID(), m.login.UserMXID, time.Now())
	if !ok {
		return nil, nil
	}
	log := zerolog.Ctx(ctx).With().Stringer("room_id", room).Str("action", "group dm").Logger()
	intent, ok := ghost.Intent.(*matrix.ASIntent)
	if !ok {
		return nil, nil
	}
	// bridgev2 made the ghost join before asking for the chat: it can
	// read the room's state.
	state, err := intent.Matrix.State(ctx, room)
	if err != nil {
		log.Warn().Err(err).Msg("Failed to read the new room's members; treating it as a DM")
		return nil, nil
	}
	parts := groupDMContacts(m.login.UserMXID, state, m.contactOfGhost)
	if parts == nil {
		// A DM the user made: inviting someone before it is used makes it
		// the group chat too (dmBecomesGroup).
		if email, ok := m.contactOfGhost(ghost.Intent.GetMXID()); ok {
			m.connector.freshDMs.note(makeDMPortalKey(email, m.login.ID), room, time.Now())
		}
		return nil, nil
	}
	if len(parts) > maxSwitchboardInvitees {
		return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage("At most %d people fit in one MSN conversation", maxSwitchboardInvitees))
	}
	pk, portal, info, err := m.groupPortal(ctx, parts)
	if err != nil {
		return nil, err
	}
	log.Info().Strs("participants", parts).Str("portal_id", string(pk.ID)).
		Msg("A new room with several contacts becomes their group chat")
	// bridgev2 makes the room the portal's room after this returns (or
	// refuses, when the portal has another room the user is in).
	sessCtx := m.sessionContext()
	opened := m.connector.groupDMOpens.start(pk)
	m.bg.Go(func() {
		defer opened()
		m.openGroupDM(sessCtx, portal, room)
	})
	m.catchUpNewDM(m.log.WithContext(m.backgroundCtx()), portal, ghost)
	return &bridgev2.CreateChatResponse{PortalKey: pk, Portal: portal, PortalInfo: info}, nil
}

// groupPortal returns the group portal of parts (sorted emails), with its
// key and chat info.
func (m *MSNClient) groupPortal(ctx context.Context, parts []string) (networkid.PortalKey, *bridgev2.Portal, *bridgev2.ChatInfo, error) {
	pk, err := m.groupPortalKey(ctx, parts)
	if err != nil {
		return pk, nil, nil, err
	}
	portal, err := m.connector.Bridge.GetPortalByKey(ctx, pk)
	if err != nil {
		return pk, nil, nil, fmt.Errorf("get group portal: %w", err)
	}
	info, err := m.GetChatInfo(ctx, portal)
	if err != nil {
		return pk, nil, nil, err
	}
	return pk, portal, info, nil
}

// contactOfGhost returns the contact email of one of the bridge's ghosts,
// unless it is the user's own.
func (m *MSNClient) contactOfGhost(userID id.UserID) (string, bool) {
	ghostID, ok := m.connector.Bridge.Matrix.ParseGhostMXID(userID)
	if !ok {
		return "", false
	}
	email := normalizeEmail(parseUserID(ghostID))
	if !validEmail(email) || email == normalizeEmail(m.meta.Email) {
		return "", false
	}
	return email, true
}

// openGroupDM opens the MSN conversation of a group DM once room is the
// portal's room, so that everyone is called at once (as when the user
// invites them in an MSN client) and those who cannot be reached are
// reported in the room (ParticipantUnreachable). A first message sent
// meanwhile shares the opening.
func (m *MSNClient) openGroupDM(parent context.Context, portal *bridgev2.Portal, room id.RoomID) {
	ctx, cancel := context.WithTimeout(m.log.WithContext(parent), groupInviteTimeout)
	defer cancel()
	if m.waitPortalRoom(ctx, portal.PortalKey) != room {
		return // refused: these people have a group chat elsewhere
	}
	cv, err := m.conversationFor(ctx, portal)
	if err == nil {
		err = cv.Open(ctx)
	}
	switch {
	case err == nil, errors.Is(err, context.Canceled):
	case errors.Is(err, msnclient.ErrTimeout):
		m.log.Warn().Err(err).Msg("Not everyone joined the conversation of a new group chat")
		m.roomNotice(ctx, portal, "Not everyone joined the MSN conversation in time: messages reach those who did.")
	default:
		m.log.Warn().Err(err).Msg("Failed to open the conversation of a new group chat")
		m.roomNotice(ctx, portal, fmt.Sprintf("Could not start the MSN conversation: %s. Each message sent here tries again.",
			describeInviteError(err)))
	}
}

// groupDMOpens holds back the messages of a new group chat while its
// conversation is being opened (openGroupDM): a switchboard message
// reaches only those who joined when it is sent, and Element sends the
// first message right after creating the room.
type groupDMOpens struct {
	mu      sync.Mutex
	opening map[networkid.PortalKey]chan struct{}
}

// start marks pk's conversation as opening; the returned func ends that.
func (g *groupDMOpens) start(pk networkid.PortalKey) func() {
	ch := make(chan struct{})
	g.mu.Lock()
	if g.opening == nil {
		g.opening = make(map[networkid.PortalKey]chan struct{})
	}
	g.opening[pk] = ch
	g.mu.Unlock()
	return sync.OnceFunc(func() {
		g.mu.Lock()
		if g.opening[pk] == ch {
			delete(g.opening, pk)
		}
		g.mu.Unlock()
		close(ch)
	})
}

// wait waits until pk's conversation is no longer being opened.
func (g *groupDMOpens) wait(ctx context.Context, pk networkid.PortalKey) error {
	g.mu.Lock()
	ch := g.opening[pk]
	g.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// freshDMWindow is how long after its creation a DM the user made from
// Matrix can still become a group chat by inviting someone into it, if
// nothing was said in it.
const freshDMWindow = 10 * time.Minute

// freshDMs remembers the DM portals made from rooms the user created.
type freshDMs struct {
	mu    sync.Mutex
	rooms map[networkid.PortalKey]dmInvite
}

// note records that pk's room is room, made by the user at now.
func (f *freshDMs) note(pk networkid.PortalKey, room id.RoomID, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rooms == nil {
		f.rooms = make(map[networkid.PortalKey]dmInvite)
	}
	for k, old := range f.rooms {
		if now.Sub(old.at) > freshDMWindow {
			delete(f.rooms, k)
		}
	}
	f.rooms[pk] = dmInvite{room: room, at: now}
}

// take tells whether pk's room is room, made by the user less than
// freshDMWindow before now, and forgets it.
func (f *freshDMs) take(pk networkid.PortalKey, room id.RoomID, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	dm, ok := f.rooms[pk]
	if !ok || dm.room != room || now.Sub(dm.at) > freshDMWindow {
		return false
	}
	delete(f.rooms, pk)
	return true
}

// dmBecomesGroup turns a DM the user made from Matrix moments ago, in which
// nothing was said yet, into the group chat of its contact and invitee
// when the user invites someone into it: the portal is re-keyed in place
// to the group portal of both, so the room the user made stays the chat,
// and the contact's next one-to-one message opens a new DM. It reports
// false, changing nothing, when the DM does not qualify (a used DM keeps
// MSN's behaviour: the group chat goes on in a room of its own).
func (m *MSNClient) dmBecomesGroup(ctx context.Context, dm *bridgev2.Portal, contact, invitee string) bool {
	log := zerolog.Ctx(ctx).With().Str("action", "dm becomes group").Logger()
	room := dm.MXID
	if room == "" || !m.connector.freshDMs.take(dm.PortalKey, room, time.Now()) {
		return false
	}
	if first, err := m.connector.Bridge.DB.Message.GetFirstPortalMessage(ctx, dm.PortalKey); err != nil || first != nil {
		return false // used as a one-to-one chat
	}
	parts := []string{normalizeEmail(contact), invitee}
	slices.Sort(parts)
	pk, err := m.groupPortalKey(ctx, parts)
	if err != nil {
		log.Err(err).Msg("Failed to find the group portal")
		return false
	}
	if existing, err := m.connector.Bridge.GetExistingPortalByKey(ctx, pk); err != nil || (existing != nil && existing.MXID != "") {
		return false // these two have a group chat already
	}
	res, portal, err := m.connector.Bridge.ReIDPortal(ctx, dm.PortalKey, pk)
	if err != nil || portal == nil {
		log.Err(err).Stringer("result", res).Msg("Failed to re-key the DM as the group chat")
		return false
	}
	info, err := m.GetChatInfo(ctx, portal)
	if err != nil {
		log.Err(err).Msg("Failed to get the group chat's info")
	} else {
		portal.UpdateInfo(ctx, info, m.login, nil, time.Time{})
	}
	log.Info().Strs("participants", parts).Str("portal_id", string(pk.ID)).Stringer("room_id", room).
		Msg("A new DM with someone invited becomes their group chat")
	opened := m.connector.groupDMOpens.start(pk)
	sessCtx := m.sessionContext()
	m.bg.Go(func() {
		defer opened()
		m.openGroupDM(sessCtx, portal, room)
	})
	return true
}
