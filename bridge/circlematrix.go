package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// The Matrix side of MSNP18 circles: messages, typing and nudges to a
// circle, invites into and leaves from its room, and creating one.

// sendCircleMatrixMessage sends a Matrix message to a circle: text,
// notices and emotes as in a DM; circles carry no files.
func (m *MSNClient) sendCircleMatrixMessage(ctx context.Context, msg *bridgev2.MatrixMessage, id msnclient.CircleID) (*bridgev2.MatrixMessageResponse, string, error) {
	switch msg.Content.MsgType {
	case event.MsgText, event.MsgNotice, event.MsgEmote:
	case event.MsgImage, event.MsgFile, event.MsgVideo, event.MsgAudio, event.MessageType(event.CapMsgSticker):
		return nil, ReasonUnsupported, userError(errors.New("file to a circle"),
			"MSN groups (circles) carry only text: files cannot be sent to a group. Send it to each person in a private chat instead.")
	default:
		return nil, ReasonUnsupported, bridgev2.ErrUnsupportedMessageType
	}
	text, snippet, reason, err := m.matrixText(ctx, msg)
	if err != nil {
		return nil, reason, err
	}
	if m.circles().hasLeft(id) {
		return nil, ReasonUnsupported, m.circleSendFailure(fmt.Errorf("left circle %s: %w", id, msnclient.ErrUnknownCircle))
	}
	cl, err := m.waitConnected(ctx)
	if err != nil {
		return nil, FailureReason(err), m.sendFailure(err)
	}
	m.typing.stop(msg.Portal.PortalKey)
	if err := cl.SendCircleMessage(ctx, id, text); err != nil {
		return nil, FailureReason(err), m.circleSendFailure(err)
	}
	return &bridgev2.MatrixMessageResponse{DB: m.sentMessageRow(snippet)}, "", nil
}

// circleSendFailure turns a circle send error into a message status.
func (m *MSNClient) circleSendFailure(err error) error {
	switch {
	case errors.Is(err, msnclient.ErrUnknownCircle):
		return userError(err, "You are no longer in this MSN group, so the message was not sent.")
	case errors.Is(err, msnclient.ErrCirclesUnsupported):
		return userError(err, "MSN groups (circles) need MSNP18, and this login now uses an older protocol version; the message was not sent.")
	case errors.Is(err, msnclient.ErrCircleTicketRejected):
		return userError(err, "The MSN server refused the bridge's access to this group; the message was not sent. Try again after reconnect.")
	}
	return m.sendFailure(fmt.Errorf("send circle message: %w", err))
}

func (m *MSNClient) sendCircleTyping(ctx context.Context, id msnclient.CircleID) error {
	cl, err := m.client()
	if err != nil {
		return err
	}
	return cl.SendCircleTyping(ctx, id)
}

func (m *MSNClient) sendCircleNudge(ctx context.Context, id msnclient.CircleID) error {
	cl, err := m.client()
	if err != nil {
		return err
	}
	if err := cl.SendCircleNudge(ctx, id); err != nil {
		return fmt.Errorf("send nudge: %w", err)
	}
	return nil
}

// handleCircleMembership is HandleMatrixMembership of a circle portal:
// inviting a ghost invites that person to the circle. (Leaving is watched
// on the Matrix side, see watchCircleLeaves: bridgev2 drops the user's own
// leaves unless bridge_matrix_leave is on.)
func (m *MSNClient) handleCircleMembership(_ context.Context, msg *bridgev2.MatrixMembershipChange, id msnclient.CircleID) (*bridgev2.MatrixMembershipResult, error) {
	if msg.Type != bridgev2.Invite {
		return nil, nil
	}
	ghost, ok := msg.Target.(*bridgev2.Ghost)
	if !ok {
		return nil, nil
	}
	invitee := normalizeEmail(parseUserID(ghost.ID))
	if !validEmail(invitee) || invitee == normalizeEmail(m.meta.Email) {
		return nil, userError(fmt.Errorf("cannot invite %q", invitee), "That is not an MSN address you can invite.")
	}
	cl, err := m.client()
	if err != nil {
		return nil, m.sendFailure(err)
	}
	portal := msg.Portal
	sessCtx := m.sessionContext()
	m.bg.Go(func() {
		ctx, cancel := context.WithTimeout(m.log.WithContext(sessCtx), commandTimeout)
		defer cancel()
		if err := cl.InviteToCircle(ctx, id, invitee, ""); err != nil {
			m.log.Warn().Err(err).Str("invitee", invitee).Msg("Failed to invite someone to a circle")
			m.revokeInvite(ctx, portal, ghost, "Could not be invited to the MSN group")
			m.roomNotice(ctx, portal, fmt.Sprintf("Could not invite %s to this MSN group: %s.", invitee, describeCircleError(err)))
			return
		}
		m.roomNotice(ctx, portal, fmt.Sprintf("Invited %s to this MSN group; they join once they accept.", invitee))
	})
	return nil, nil
}

// describeCircleError explains a circle failure in words.
func describeCircleError(err error) string {
	switch {
	case errors.Is(err, msnclient.ErrCirclesUnsupported):
		return "MSN groups (circles) need MSNP18"
	case errors.Is(err, msnclient.ErrCircleNotAllowed):
		return "only the group's administrators may invite people"
	case errors.Is(err, msnclient.ErrUnknownCircle):
		return "you are not in that group"
	case errors.Is(err, msnclient.ErrCircleTicketRejected):
		return "the MSN server refused the bridge's access to the group"
	}
	return describeCommandError(err)
}

// leaveCircle leaves a circle on MSN; its room goes away with the
// CircleRemoved event that follows.
func (m *MSNClient) leaveCircle(ctx context.Context, id msnclient.CircleID) error {
	cl, err := m.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	if err := cl.LeaveCircle(ctx, id); err != nil {
		return err
	}
	st := m.circles()
	st.mu.Lock()
	delete(st.leaveAsked, id)
	st.mu.Unlock()
	return nil
}

// circleRoomLeft handles the user leaving a circle's Matrix room: the
// circle is left at once when the config says so, otherwise the user is
// asked to confirm with leave-circle.
func (m *MSNClient) circleRoomLeft(ctx context.Context, portal *bridgev2.Portal, id msnclient.CircleID) {
	name := portal.Name
	if name == "" {
		name = string(id)
	}
	if m.connector.Config.Circles.LeaveOnRoomLeave {
		text := fmt.Sprintf("You left the room of the MSN group %q, so the bridge left the group on MSN (%s).", name, m.meta.Email)
		if err := m.leaveCircle(ctx, id); err != nil {
			m.log.Err(err).Str("circle_id", string(id)).Msg("Failed to leave circle after the room was left")
			text = fmt.Sprintf("You left the room of the MSN group %q, but leaving the group on MSN failed: %s. Use `leave-circle %s` to try again.",
				name, describeCircleError(err), id)
		}
		m.sendManagementNotice(ctx, plainNotice(text))
		return
	}
	st := m.circles()
	st.mu.Lock()
	st.leaveAsked[id] = true
	st.mu.Unlock()
	m.sendManagementNotice(ctx, plainNotice(fmt.Sprintf(
		"You left the room of the MSN group %q, but you are still in the group on MSN (%s). "+
			"To leave the group, confirm with `leave-circle %s`. Otherwise its room comes back at your next sign-in.",
		name, m.meta.Email, id)))
}

// plainNotice is a notice of plain text (its backticks shown as code).
func plainNotice(text string) *event.MessageEventContent {
	return &event.MessageEventContent{MsgType: event.MsgNotice, Body: text}
}

// watchCircleLeaves notices the user leaving a circle's room. bridgev2
// hands the user's own leaves to the connector only with
// bridge_matrix_leave, which would apply to every room; circles need them
// always.
func (c *Connector) watchCircleLeaves(br *bridgev2.Bridge) {
	mx, ok := br.Matrix.(*matrix.Connector)
	if !ok || mx.EventProcessor == nil {
		return
	}
	mx.EventProcessor.PrependHandler(event.StateMember, func(ctx context.Context, evt *event.Event) {
		content, ok := evt.Content.Parsed.(*event.MemberEventContent)
		if !ok || content.Membership != event.MembershipLeave || evt.StateKey == nil || *evt.StateKey != evt.Sender.String() ||
			evt.Sender == br.Bot.GetMXID() || br.IsGhostMXID(evt.Sender) {
			return
		}
		go c.circleRoomLeft(zerolog.Ctx(ctx).WithContext(c.backgroundCtx()), evt)
	})
}

// circleRoomLeft finds the login whose circle room evt left.
func (c *Connector) circleRoomLeft(ctx context.Context, evt *event.Event) {
	portal, err := c.Bridge.GetPortalByMXID(ctx, evt.RoomID)
	if err != nil || portal == nil {
		return
	}
	id, ok := circleOfPortal(portal.ID)
	if !ok {
		return
	}
	login := c.Bridge.GetCachedUserLoginByID(portal.Receiver)
	if login == nil || login.UserMXID != evt.Sender {
		return
	}
	if m, ok := login.Client.(*MSNClient); ok {
		m.circleRoomLeft(ctx, portal, id)
	}
}

// maxCircleInvitees bounds the people invited when a circle is created.
const maxCircleInvitees = 100

// maxCircleNameLength bounds a circle's name (Windows Live Messenger
// allowed about as much).
const maxCircleNameLength = 64

// createCircleGroup is CreateGroup on MSNP18: it creates a circle named
// after params (or its members), invites the participants, and bridges
// params.RoomID to it when set. People who could not be invited are
// reported as failed participants; the circle stays with the others.
func (m *MSNClient) createCircleGroup(ctx context.Context, cl *msnclient.Client, params *bridgev2.GroupCreateParams, parts []string) (*bridgev2.CreateChatResponse, error) {
	switch {
	case len(parts) < 1:
		return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage("An MSN group needs at least one other person"))
	case len(parts) > maxCircleInvitees:
		return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage("At most %d people can be invited to a new MSN group at once", maxCircleInvitees))
	}
	name := ""
	if params.Name != nil {
		name = cleanLine(params.Name.Name)
	}
	if name == "" {
		names := make([]string, 0, len(parts))
		for _, p := range parts {
			n := cleanLine(m.friendlyName(ctx, p))
			if n == "" {
				n = p
			}
			names = append(names, n)
		}
		name = groupName(names)
	}
	if r := []rune(name); len(r) > maxCircleNameLength {
		if params.Name != nil && params.Name.Name != "" {
			return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage("An MSN group name has at most %d characters", maxCircleNameLength))
		}
		name = strings.TrimSpace(string(r[:maxCircleNameLength-1])) + "…"
	}
	// The circle's room must be params.RoomID, not one made for the
	// circle's join event: new circle rooms wait until it is bridged.
	done := m.startCreatingCircle()
	defer done()
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	circle, err := cl.CreateCircle(cctx, name, nil)
	if err != nil {
		return nil, bridgev2.RespError(mautrix.MUnknown.WithMessage("Failed to create the MSN group: %s", describeCircleError(err)))
	}
	pk := makeCirclePortalKey(circle.ID, m.login.ID)
	portal, err := m.connector.Bridge.GetPortalByKey(ctx, pk)
	if err != nil {
		return nil, fmt.Errorf("get circle portal: %w", err)
	}
	bridged := false
	if params.RoomID != "" && portal.MXID == "" {
		if err := m.bridgeRoom(ctx, portal, params.RoomID); err != nil {
			return nil, fmt.Errorf("created the MSN group %q, but %w", name, err)
		}
		bridged = true
	}
	failed := make(map[string]error)
	info := m.circleChatInfo(ctx, cl, circle, nil)
	for _, p := range parts {
		ictx, cancel := context.WithTimeout(ctx, commandTimeout)
		err := cl.InviteToCircle(ictx, circle.ID, p, "")
		cancel()
		if err != nil {
			failed[p] = err
			continue
		}
		info.Members.MemberMap.Set(m.chatMemberWithName(p, m.friendlyName(ctx, p), event.MembershipInvite))
	}
	if bridged {
		portal.UpdateInfo(ctx, info, m.login, nil, time.Time{})
	}
	resp := &bridgev2.CreateChatResponse{PortalKey: pk, Portal: portal, PortalInfo: info,
		FailedParticipants: failedParticipants(failed, describeCircleError)}
	m.log.Info().Str("circle_id", string(circle.ID)).Int("invited", len(parts)-len(failed)).Msg("Created a circle from Matrix")
	return resp, nil
}
