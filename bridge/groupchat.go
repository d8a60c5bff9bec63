package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Switchboard group chats started and managed from Matrix: inviting a
// contact's ghost into a portal brings the contact into the MSN conversation
// (CAL), turning a one-to-one chat into a group chat in its own portal as
// MSN clients do; the create-group command and the provisioning API start a
// group conversation with several contacts.

var (
	_ bridgev2.MembershipHandlingNetworkAPI = (*MSNClient)(nil)
	_ bridgev2.GroupCreatingNetworkAPI      = (*MSNClient)(nil)
)

// Group creation types: switchboard chats, and MSNP18 circles.
const (
	groupTypeSwitchboard = "group"
	groupTypeCircle      = "circle"
)

// maxSwitchboardInvitees bounds a group chat started from Matrix: MSN
// clients allowed a few dozen people in one conversation.
const maxSwitchboardInvitees = 30

// groupInviteTimeout bounds bringing one person into a conversation.
const groupInviteTimeout = 90 * time.Second

// HandleMatrixMembership implements bridgev2.MembershipHandlingNetworkAPI.
// Only invites of contacts' ghosts do something on MSN: there is no way to
// remove someone from a switchboard, and leaving is not bridged.
func (m *MSNClient) HandleMatrixMembership(ctx context.Context, msg *bridgev2.MatrixMembershipChange) (*bridgev2.MatrixMembershipResult, error) {
	if msg.Portal != nil {
		if id, ok := circleOfPortal(msg.Portal.ID); ok {
			return m.handleCircleMembership(ctx, msg, id)
		}
	}
	if msg.Type != bridgev2.Invite {
		return nil, nil
	}
	ghost, ok := msg.Target.(*bridgev2.Ghost)
	if !ok {
		return nil, nil // a Matrix user: nothing to do on MSN
	}
	invitee := normalizeEmail(parseUserID(ghost.ID))
	if !validEmail(invitee) || invitee == normalizeEmail(m.meta.Email) {
		return nil, userError(fmt.Errorf("cannot invite %q", invitee), "That is not an MSN contact you can invite.")
	}
	if _, err := m.client(); err != nil {
		return nil, m.sendFailure(err)
	}
	portal := msg.Portal
	sessCtx := m.sessionContext()
	if contact, isDM := dmContact(portal.ID); isDM {
		if normalizeEmail(contact) == invitee {
			return nil, nil // the DM's own contact
		}
		if m.dmBecomesGroup(ctx, portal, contact, invitee) {
			return nil, nil
		}
		m.bg.Go(func() { m.dmToGroup(sessCtx, portal, contact, invitee, ghost) })
		return nil, nil
	}
	m.bg.Go(func() { m.inviteToGroup(sessCtx, portal, invitee, ghost) })
	return nil, nil
}

// sessionContext is the context of the current MSN session: work started
// with it stops when the session ends, before a logout deletes the login's
// rows.
func (m *MSNClient) sessionContext() context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessCtx == nil {
		ctx, cancel := context.WithCancel(m.backgroundCtx())
		cancel() // no session: nothing may start
		return ctx
	}
	return m.sessCtx
}

// inviteToGroup brings invitee into a group portal's conversation.
func (m *MSNClient) inviteToGroup(parent context.Context, portal *bridgev2.Portal, invitee string, ghost *bridgev2.Ghost) {
	ctx, cancel := context.WithTimeout(m.log.WithContext(parent), groupInviteTimeout)
	defer cancel()
	parts, err := m.groupParticipants(ctx, portal.PortalKey)
	if err == nil && slices.Contains(parts, invitee) {
		return // already in it
	}
	var cv *msnclient.Conversation
	if err == nil {
		cv, err = m.conversationFor(ctx, portal)
	}
	if err == nil {
		err = cv.Invite(ctx, invitee)
	}
	if err != nil {
		m.inviteFailed(ctx, portal, ghost, invitee, err)
		return
	}
	m.log.Info().Str("invitee", invitee).Msg("Invited a contact into a group conversation")
}

// dmToGroup brings invitee into the conversation with contact, which then
// continues as a group chat in the group portal of {contact, invitee}; the
// DM stays one-to-one.
func (m *MSNClient) dmToGroup(parent context.Context, dm *bridgev2.Portal, contact, invitee string, ghost *bridgev2.Ghost) {
	ctx, cancel := context.WithTimeout(m.log.WithContext(parent), groupInviteTimeout)
	defer cancel()
	cl, err := m.client()
	if err != nil {
		m.inviteFailed(ctx, dm, ghost, invitee, err)
		return
	}
	parts := []string{normalizeEmail(contact), invitee}
	slices.Sort(parts)
	pk, err := m.groupPortalKey(ctx, parts)
	if err != nil {
		m.inviteFailed(ctx, dm, ghost, invitee, err)
		return
	}
	// The invitee joins the switchboard with contact, as in MSN clients;
	// once two others are in it, its events go to the group portal of
	// {contact, invitee} (see joinChange).
	if err := cl.Conversation(contact).Invite(ctx, invitee); err != nil {
		m.inviteFailed(ctx, dm, ghost, invitee, err)
		return
	}
	m.revokeInvite(ctx, dm, ghost, "Moved to a group chat")
	room := m.waitPortalRoom(ctx, pk)
	text := fmt.Sprintf("%s joined: the conversation continues as a group chat", invitee)
	if room != "" {
		text += fmt.Sprintf(" in %s", room.URI(m.connector.Bridge.Matrix.ServerName()).MatrixToURL())
	}
	m.roomNotice(ctx, dm, text+".")
}

// waitPortalRoom waits until the portal of pk has a Matrix room.
func (m *MSNClient) waitPortalRoom(ctx context.Context, pk networkid.PortalKey) id.RoomID {
	for {
		portal, err := m.connector.Bridge.GetExistingPortalByKey(ctx, pk)
		if err == nil && portal != nil && portal.MXID != "" {
			return portal.MXID
		}
		select {
		case <-ctx.Done():
			return ""
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// inviteFailed tells the room that invitee could not be brought in and
// withdraws the ghost's invite; the others stay in the conversation.
func (m *MSNClient) inviteFailed(ctx context.Context, portal *bridgev2.Portal, ghost *bridgev2.Ghost, invitee string, err error) {
	m.log.Warn().Err(err).Str("invitee", invitee).Msg("Failed to invite a contact into a conversation")
	m.revokeInvite(ctx, portal, ghost, "Could not be reached on MSN")
	m.roomNotice(ctx, portal, fmt.Sprintf("Could not bring %s into the conversation: %s. Everyone else stays.", invitee, describeInviteError(err)))
}

// describeInviteError explains why someone could not be invited.
func describeInviteError(err error) string {
	var se *msnp.ServerError
	switch {
	case errors.Is(err, msnclient.ErrContactOffline):
		return "they are offline or appear offline"
	case errors.As(err, &se) && se.Code == 217:
		return "they are offline or appear offline"
	case errors.As(err, &se) && se.Code == 216:
		return "they have blocked you"
	case errors.Is(err, msnclient.ErrNotConnected):
		return "you are not connected to MSN"
	case errors.Is(err, msnclient.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "they did not join in time"
	}
	return describeCommandError(err)
}

// revokeInvite withdraws a ghost's pending invite to a portal room.
func (m *MSNClient) revokeInvite(ctx context.Context, portal *bridgev2.Portal, ghost *bridgev2.Ghost, reason string) {
	if portal.MXID == "" || ghost == nil {
		return
	}
	_, err := ghost.Intent.SendState(ctx, portal.MXID, event.StateMember, ghost.Intent.GetMXID().String(), &event.Content{
		Parsed: &event.MemberEventContent{Membership: event.MembershipLeave, Reason: reason},
	}, time.Now())
	if err != nil {
		m.log.Warn().Err(err).Msg("Failed to withdraw the ghost's invite")
	}
}

// roomNotice sends a bot notice into a portal room.
func (m *MSNClient) roomNotice(ctx context.Context, portal *bridgev2.Portal, text string) {
	if portal.MXID == "" {
		return
	}
	_, err := m.connector.Bridge.Bot.SendMessage(ctx, portal.MXID, event.EventMessage, &event.Content{
		Parsed: &event.MessageEventContent{MsgType: event.MsgNotice, Body: text},
	}, nil)
	if err != nil {
		m.log.Warn().Err(err).Msg("Failed to send notice")
	}
}

// CreateGroup implements bridgev2.GroupCreatingNetworkAPI (the create-group
// command and the provisioning API): type circle (MSNP18) creates a circle
// and invites the participants (see createCircleGroup); type group starts
// a switchboard conversation with the participants. Contacts who cannot be reached are reported as
// failed participants; the conversation goes on with the others.
func (m *MSNClient) CreateGroup(ctx context.Context, params *bridgev2.GroupCreateParams) (*bridgev2.CreateChatResponse, error) {
	cl, err := m.client()
	if err != nil {
		return nil, m.sendFailure(err)
	}
	self := normalizeEmail(m.meta.Email)
	var parts []string
	for _, p := range params.Participants {
		email := normalizeEmail(parseUserID(p))
		if !validEmail(email) {
			return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage("%q is not an MSN address", string(p)))
		}
		if email != self && !slices.Contains(parts, email) {
			parts = append(parts, email)
		}
	}
	slices.Sort(parts)
	if params.Type == groupTypeCircle {
		if !cl.SupportsCircles() {
			return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage(
				"MSN groups (circles) need MSNP18, and this login uses MSNP%d; create a group conversation (type %s) instead", cl.Version(), groupTypeSwitchboard))
		}
		return m.createCircleGroup(ctx, cl, params, parts)
	}
	switch {
	case len(parts) < 2:
		return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage("A group chat needs at least two other people; start a direct chat instead"))
	case len(parts) > maxSwitchboardInvitees:
		return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage("At most %d people fit in one MSN conversation", maxSwitchboardInvitees))
	}
	pk, portal, info, err := m.groupPortal(ctx, parts)
	if err != nil {
		return nil, err
	}
	bridged := false
	if params.RoomID != "" {
		// Bridge the room before anyone joins on MSN: joins queue events
		// that would otherwise create a room of their own.
		if portal.MXID != "" && portal.MXID != params.RoomID {
			return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage("You already have a group chat with these people: %s",
				portal.MXID.URI(m.connector.Bridge.Matrix.ServerName()).MatrixToURL()))
		}
		if portal.MXID == "" {
			if err := m.bridgeRoom(ctx, portal, params.RoomID); err != nil {
				return nil, err
			}
			bridged = true
		}
	}
	joined, failed := m.startGroupConversation(ctx, cl, parts, pk)
	if len(joined) < 2 {
		if bridged {
			m.unbridgeRoom(ctx, portal, params.RoomID)
		}
		return nil, bridgev2.RespError(mautrix.MUnknown.WithMessage("A group chat needs two people who can be reached, but these could not: %s", failedSummary(failed)))
	}
	if len(failed) > 0 {
		// Only those who joined are in the conversation.
		gone := &bridgev2.ChatMemberList{MemberMap: bridgev2.ChatMemberMap{}}
		for email := range failed {
			gone.MemberMap.Set(m.chatMember(email, event.MembershipLeave))
			if info.Members != nil {
				info.Members.MemberMap.Set(m.chatMember(email, event.MembershipLeave))
			}
		}
		if portal.MXID != "" {
			m.queueMemberChange(pk, normalizeEmail(m.meta.Email), gone)
		}
	}
	if bridged {
		// Members and name now that the conversation stands (bridging
		// left them out, so that a failure had nothing to undo).
		portal.UpdateInfo(ctx, info, m.login, nil, time.Time{})
	}
	resp := &bridgev2.CreateChatResponse{PortalKey: pk, Portal: portal, PortalInfo: info,
		FailedParticipants: failedParticipants(failed, describeInviteError)}
	return resp, nil
}

// startGroupConversation opens a switchboard with the first reachable
// participant and calls the others in, one at a time, so that one who
// cannot be reached does not stop the rest. It returns who joined and why
// the others did not.
func (m *MSNClient) startGroupConversation(ctx context.Context, cl *msnclient.Client, parts []string, pk networkid.PortalKey) (joined []string, failed map[string]error) {
	failed = make(map[string]error)
	var cv *msnclient.Conversation
	for _, p := range parts {
		ictx, cancel := context.WithTimeout(ctx, groupInviteTimeout)
		if cv == nil {
			// The first reachable participant opens the switchboard; the
			// others are called into it one by one.
			cv = cl.Conversation(p)
			// Only the joins of this conversation follow p into the
			// group portal: p's messages from a set of one are p's DM.
			done := m.convs.settingUp([]string{p}, pk)
			defer done()
			if err := cv.Invite(ictx, p); err != nil {
				failed[p] = err
				cv = nil
				cancel()
				continue
			}
			joined = append(joined, p)
			cancel()
			continue
		}
		if err := cv.Invite(ictx, p); err != nil {
			failed[p] = err
		} else {
			joined = append(joined, p)
		}
		cancel()
	}
	if len(joined) >= 2 {
		m.convs.set(joined, pk)
	}
	return joined, failed
}

func failedSummary(failed map[string]error) string {
	var out []string
	for email, err := range failed {
		out = append(out, fmt.Sprintf("%s (%s)", email, describeInviteError(err)))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// ensureBotPower gives the bridge bot the user's power level in a room the
// user made, through the user's double puppet, so that it can run the room
// as a portal. Without a double puppet the user is asked to do it.
func (m *MSNClient) ensureBotPower(ctx context.Context, roomID id.RoomID) error {
	br := m.connector.Bridge
	powers, err := br.Matrix.GetPowerLevels(ctx, roomID)
	if err != nil {
		return fmt.Errorf("get power levels: %w", err)
	}
	user, bot := m.login.UserMXID, br.Bot.GetMXID()
	userLevel := powers.GetUserLevel(user)
	if powers.GetUserLevel(bot) >= userLevel {
		return nil
	}
	dp := m.login.User.DoublePuppet(ctx)
	if dp == nil {
		return bridgev2.RespError(mautrix.MForbidden.WithMessage("Give the bridge bot (%s) the same power level as you in this room first", bot))
	}
	powers.SetUserLevel(bot, userLevel)
	if _, err := dp.SendState(ctx, roomID, event.StatePowerLevels, "", &event.Content{Parsed: powers}, time.Time{}); err != nil {
		return fmt.Errorf("give the bridge bot power in the room: %w", err)
	}
	return nil
}

// bridgeRoom makes roomID, a room the user made, the Matrix room of portal
// (bridge info and capabilities only: members and name follow once the
// MSN side stands, see unbridgeRoom).
func (m *MSNClient) bridgeRoom(ctx context.Context, portal *bridgev2.Portal, roomID id.RoomID) error {
	if err := m.ensureBotPower(ctx, roomID); err != nil {
		return err
	}
	err := portal.UpdateMatrixRoomID(ctx, roomID, bridgev2.UpdateMatrixRoomIDParams{
		FailIfMXIDSet:  true,
		ChatInfoSource: m.login,
	})
	if err != nil {
		return fmt.Errorf("bridge the room: %w", err)
	}
	return nil
}

// unbridgeRoom undoes bridgeRoom after the MSN side could not be created:
// the room is no portal any more, loses the bridge's state events and
// leaves the login's space, and stays the user's as it was.
func (m *MSNClient) unbridgeRoom(ctx context.Context, portal *bridgev2.Portal, roomID id.RoomID) {
	log := zerolog.Ctx(ctx)
	if err := portal.RemoveMXID(ctx); err != nil {
		log.Err(err).Msg("Failed to unbridge the room")
	}
	br := m.connector.Bridge
	stateKey := string(br.ID)
	if br.Config.NoBridgeInfoStateKey {
		stateKey = ""
	} else if idp, ok := br.Matrix.(bridgev2.MatrixConnectorWithBridgeIdentifier); ok {
		stateKey = idp.GetUniqueBridgeID()
	}
	for _, evtType := range []event.Type{event.StateBridge, event.StateHalfShotBridge, event.StateBeeperRoomFeatures} {
		if _, err := br.Bot.SendState(ctx, roomID, evtType, stateKey, &event.Content{Raw: map[string]any{}}, time.Now()); err != nil {
			log.Warn().Err(err).Stringer("event_type", evtType).Msg("Failed to clear bridge state of the unbridged room")
		}
	}
	if space, err := m.login.GetSpaceRoom(ctx); err == nil && space != "" {
		if _, err := br.Bot.SendState(ctx, space, event.StateSpaceChild, roomID.String(), &event.Content{Raw: map[string]any{}}, time.Now()); err != nil {
			log.Warn().Err(err).Msg("Failed to take the unbridged room out of the space")
		}
	}
}

// failedParticipants is the FailedParticipants of a group creation: who
// could not be added, and why in words (nil when everyone was).
func failedParticipants(failed map[string]error, describe func(error) string) map[networkid.UserID]*bridgev2.CreateChatFailedParticipant {
	if len(failed) == 0 {
		return nil
	}
	out := make(map[networkid.UserID]*bridgev2.CreateChatFailedParticipant, len(failed))
	for email, err := range failed {
		out[makeUserID(email)] = &bridgev2.CreateChatFailedParticipant{Reason: describe(err)}
	}
	return out
}
