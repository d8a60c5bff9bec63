package bridge

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/ptr"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// MSNP18 circles (Windows Live "Groups") as persistent group portals: one
// portal per circle and login ("circle:<id>", Receiver = the login), named
// after the circle, with every member as a ghost. Circles carry text,
// typing and nudges; their members' presence inside the circle goes to the
// ghosts of members who are not contacts (contacts have their own).

// circlePortalPrefix starts the PortalID of every circle portal.
const circlePortalPrefix = "circle:"

// circleMemberLimit bounds the members shown in a circle's room: a circle
// with more (hostile or broken) still works, the rest are left out.
const circleMemberLimit = 500

// errCircleNoConversation: circles have no switchboard (no files, no
// invitations by CAL).
var errCircleNoConversation = errors.New("a circle has no switchboard conversation")

// makeCirclePortalKey is the key of a login's circle portal.
func makeCirclePortalKey(id msnclient.CircleID, login networkid.UserLoginID) networkid.PortalKey {
	return networkid.PortalKey{ID: networkid.PortalID(circlePortalPrefix + string(id)), Receiver: login}
}

// isCirclePortalID reports whether id is a circle portal.
func isCirclePortalID(id networkid.PortalID) bool {
	return strings.HasPrefix(string(id), circlePortalPrefix)
}

// circleOfPortal returns the circle of a circle portal ID.
func circleOfPortal(id networkid.PortalID) (msnclient.CircleID, bool) {
	if !isCirclePortalID(id) {
		return "", false
	}
	cid, err := msnclient.ParseCircleID(strings.TrimPrefix(string(id), circlePortalPrefix))
	return cid, err == nil
}

// circleState is the bridge's circle bookkeeping of one login.
type circleState struct {
	mu sync.Mutex
	// creating counts circles being created from Matrix; while one is,
	// the rooms of newly joined circles wait (parked), so that the circle
	// made for an existing Matrix room gets that room, not a new one.
	creating int
	parked   []func()
	// invited are the pending invitations already announced.
	invited map[msnclient.CircleID]bool
	// leaveAsked are the circles whose room the user left, waiting for
	// leave-circle to confirm.
	leaveAsked map[msnclient.CircleID]bool
	// left are the circles the user left (or was removed from) in this
	// client's life: their late events are dropped.
	left map[msnclient.CircleID]time.Time
}

// staleRejoinWindow: a circle announced as joined this soon after it was
// removed is taken for a stale address book read (msnclient may apply one
// fetched before the leave) and ignored, unless the user accepted an
// invitation to it since.
const staleRejoinWindow = time.Minute

// wasAnnounced reports whether the invitation to id was announced.
func (st *circleState) wasAnnounced(id msnclient.CircleID) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.invited[id]
}

// onlyLeaveAsked returns the circle whose room the user left, when there
// is exactly one waiting for leave-circle.
func (st *circleState) onlyLeaveAsked() (msnclient.CircleID, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.leaveAsked) != 1 {
		return "", false
	}
	for id := range st.leaveAsked {
		return id, true
	}
	return "", false
}

// forgetLeft clears the left mark of id (the user joined it again).
func (st *circleState) forgetLeft(id msnclient.CircleID) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.left, id)
}

// hasLeft reports whether the user left circle id.
func (st *circleState) hasLeft(id msnclient.CircleID) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	_, ok := st.left[id]
	return ok
}

// circles returns the login's circle state, created on first use.
func (m *MSNClient) circles() *circleState {
	m.circlesOnce.Do(func() {
		m.circleSt = &circleState{
			invited:    make(map[msnclient.CircleID]bool),
			leaveAsked: make(map[msnclient.CircleID]bool),
			left:       make(map[msnclient.CircleID]time.Time),
		}
	})
	return m.circleSt
}

// handleCircleEvent handles the circle events of the session; it reports
// whether evt was one.
func (m *MSNClient) handleCircleEvent(ctx context.Context, sess *session, evt any) bool {
	switch evt := evt.(type) {
	case *msnclient.CircleJoined:
		m.circleJoined(ctx, sess, evt)
	case *msnclient.CircleUpdated:
		m.circleUpdated(evt)
	case *msnclient.CircleRemoved:
		m.circleRemoved(evt)
	case *msnclient.CircleInvitation:
		m.circleInvitation(ctx, evt)
	case *msnclient.CircleMessage:
		m.circleMessage(sess, evt)
	case *msnclient.CircleTyping:
		m.circleTyping(sess, evt)
	case *msnclient.CircleNudge:
		if m.circleUsable(sess, evt.ID, "nudge") {
			m.queueLocalMessage(makeCirclePortalKey(evt.ID, m.login.ID), evt.From, evt.FromSelf, &event.MessageEventContent{
				MsgType: event.MsgEmote,
				Body:    nudgeText(evt.FromSelf),
			})
		}
	case *msnclient.CircleMemberPresence:
		m.circlePresence(sess, evt)
	case *msnclient.CircleMemberJoined:
		m.circleMemberChange(sess, evt.ID, evt.Email, event.MembershipJoin)
	case *msnclient.CircleMemberLeft:
		m.circleMemberChange(sess, evt.ID, evt.Email, event.MembershipLeave)
	case *msnclient.CircleJoinFailed:
		m.circleJoinFailed(evt)
	default:
		return false
	}
	return true
}

// circleUsable reports whether events of circle id can be bridged: the
// user is in it (not only invited, not left). Others are dropped with a log.
func (m *MSNClient) circleUsable(sess *session, id msnclient.CircleID, what string) bool {
	c, ok := sess.client.Circle(id)
	if ok && !c.Pending() && !m.circles().hasLeft(id) {
		return true
	}
	m.log.Warn().Str("circle_id", string(id)).Str("what", what).Msg("Dropping circle event: the user is not in this circle")
	return false
}

// circleJoined creates or updates the portal of a circle the user is in.
func (m *MSNClient) circleJoined(ctx context.Context, sess *session, evt *msnclient.CircleJoined) {
	st := m.circles()
	st.mu.Lock()
	if at, ok := st.left[evt.Circle.ID]; ok && time.Since(at) < staleRejoinWindow {
		st.mu.Unlock()
		m.log.Warn().Str("circle_id", string(evt.Circle.ID)).Msg("Ignoring circle joined right after it was left (stale address book)")
		return
	}
	delete(st.invited, evt.Circle.ID)
	delete(st.leaveAsked, evt.Circle.ID)
	delete(st.left, evt.Circle.ID)
	st.mu.Unlock()
	circle, members := evt.Circle, evt.Members
	queue := func() {
		m.queueRemote(&simplevent.ChatResync{
			EventMeta: simplevent.EventMeta{
				Type:         bridgev2.RemoteEventChatResync,
				LogContext:   func(c zerolog.Context) zerolog.Context { return c.Str("circle_id", string(circle.ID)) },
				PortalKey:    makeCirclePortalKey(circle.ID, m.login.ID),
				CreatePortal: true,
				Timestamp:    time.Now(),
			},
			ChatInfo: m.circleChatInfo(ctx, sess.client, circle, members),
		})
	}
	if members == nil {
		// The address book could not be read at join time: fetch it off
		// the event goroutine, then set the room up.
		m.bg.Go(func() {
			fctx, cancel := context.WithTimeout(ctx, commandTimeout)
			defer cancel()
			var err error
			if members, err = sess.client.CircleMembers(fctx, circle.ID); err != nil {
				m.log.Warn().Err(err).Str("circle_id", string(circle.ID)).Msg("Failed to fetch circle members; the room shows the user only")
			}
			m.parkOrRun(queue)
		})
		return
	}
	m.parkOrRun(queue)
}

// parkOrRun runs fn now, or once no circle is being created from Matrix.
func (m *MSNClient) parkOrRun(fn func()) {
	st := m.circles()
	st.mu.Lock()
	if st.creating > 0 {
		st.parked = append(st.parked, fn)
		st.mu.Unlock()
		return
	}
	st.mu.Unlock()
	fn()
}

// startCreatingCircle parks new circle rooms until the returned function
// is called.
func (m *MSNClient) startCreatingCircle() (done func()) {
	st := m.circles()
	st.mu.Lock()
	st.creating++
	st.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			st.mu.Lock()
			st.creating--
			var run []func()
			if st.creating == 0 {
				run, st.parked = st.parked, nil
			}
			st.mu.Unlock()
			for _, fn := range run {
				fn()
			}
		})
	}
}

// circleName is the room name of a circle.
func circleName(c msnclient.Circle) string {
	if name := cleanLine(c.Name); name != "" {
		return name
	}
	return "MSN group"
}

// circleChatInfo is the portal info of a circle: its name and, when
// members is not nil, every member (accepted ones joined, invited ones
// invited) with the user.
func (m *MSNClient) circleChatInfo(ctx context.Context, cl *msnclient.Client, c msnclient.Circle, members []msnclient.CircleMember) *bridgev2.ChatInfo {
	info := &bridgev2.ChatInfo{
		Name:        ptr.Ptr(circleName(c)),
		Type:        ptr.Ptr(database.RoomTypeDefault),
		CanBackfill: false,
	}
	list := &bridgev2.ChatMemberList{MemberMap: bridgev2.ChatMemberMap{}}
	list.MemberMap.Set(m.selfMember())
	if members != nil {
		list.IsFull = len(members) <= circleMemberLimit
		self := normalizeEmail(m.meta.Email)
		for i, mem := range members {
			if i >= circleMemberLimit {
				m.log.Warn().Str("circle_id", string(c.ID)).Int("members", len(members)).Msg("Circle has more members than the room shows")
				break
			}
			email := normalizeEmail(mem.Email)
			if email == self || !validEmail(email) {
				continue
			}
			membership := event.MembershipJoin
			if mem.State != msnclient.CircleAccepted {
				membership = event.MembershipInvite
			}
			name := m.friendlyName(ctx, email)
			if name == "" {
				name = mem.Name
				m.rememberName(email, mem.Name)
			}
			list.MemberMap.Set(m.chatMemberWithName(email, name, membership))
			m.circleMemberStatus(cl, email, mem.Status, "", false)
		}
	}
	info.Members = list
	return info
}

// circleMemberStatus shows a circle member's presence on its ghost, unless
// the member is a contact, whose presence comes from the contact list.
func (m *MSNClient) circleMemberStatus(cl *msnclient.Client, email string, status msnclient.Status, psm string, hasPSM bool) {
	if cl != nil {
		if c, ok := cl.Contact(email); ok && c.Lists&msnclient.ListForward != 0 {
			return
		}
	}
	m.presence.update(email, func(p *contactPresence) {
		p.Status = status
		if hasPSM {
			p.PSM = psm
		}
	})
}

func (m *MSNClient) circleUpdated(evt *msnclient.CircleUpdated) {
	if evt.Circle.Pending() {
		return
	}
	m.queueRemote(&simplevent.ChatInfoChange{
		EventMeta: simplevent.EventMeta{
			Type:      bridgev2.RemoteEventChatInfoChange,
			PortalKey: makeCirclePortalKey(evt.Circle.ID, m.login.ID),
			Timestamp: time.Now(),
		},
		ChatInfoChange: &bridgev2.ChatInfoChange{ChatInfo: &bridgev2.ChatInfo{Name: ptr.Ptr(circleName(evt.Circle))}},
	})
}

// circleRemoved deletes the room of a circle the user is no longer in
// (left, declined, removed by an admin or from another client).
func (m *MSNClient) circleRemoved(evt *msnclient.CircleRemoved) {
	st := m.circles()
	st.mu.Lock()
	delete(st.invited, evt.ID)
	delete(st.leaveAsked, evt.ID)
	st.left[evt.ID] = time.Now()
	st.mu.Unlock()
	m.queueRemote(&simplevent.ChatDelete{
		EventMeta: simplevent.EventMeta{
			Type:      bridgev2.RemoteEventChatDelete,
			PortalKey: makeCirclePortalKey(evt.ID, m.login.ID),
			Timestamp: time.Now(),
		},
		OnlyForMe: true,
	})
}

// circleInvitation tells the user in the management room about a pending
// invitation, once per circle and client, with the commands to answer.
func (m *MSNClient) circleInvitation(_ context.Context, evt *msnclient.CircleInvitation) {
	st := m.circles()
	st.mu.Lock()
	if st.invited[evt.Circle.ID] {
		st.mu.Unlock()
		return
	}
	st.invited[evt.Circle.ID] = true
	st.mu.Unlock()
	inviter := evt.Inviter
	if inviter == "" {
		inviter = evt.Circle.Inviter
	}
	notice := circleInvitationNotice(evt.Circle, inviter, m.meta.Email)
	if !m.side.add(func(ctx context.Context) { m.sendManagementNotice(ctx, notice) }) {
		st.mu.Lock()
		delete(st.invited, evt.Circle.ID)
		st.mu.Unlock()
	}
}

// circleInvitationNotice builds the invitation notice. The circle's name
// is remote text: escaped, never parsed as Markdown.
func circleInvitationNotice(c msnclient.Circle, inviter, account string) *event.MessageEventContent {
	name := circleName(c)
	who := "Someone"
	if inviter = normalizeEmail(inviter); validEmail(inviter) {
		who = inviter
	}
	body := fmt.Sprintf("%s invited you to the MSN group %q (on %s).", who, name, account)
	formatted := html.EscapeString(body)
	accept, decline := "accept-circle "+string(c.ID), "decline-circle "+string(c.ID)
	body += fmt.Sprintf("\n\nUse `%s` to join it, or `%s` to decline.", accept, decline)
	formatted += fmt.Sprintf("<br><br>Use <code>%s</code> to join it, or <code>%s</code> to decline.",
		html.EscapeString(accept), html.EscapeString(decline))
	return &event.MessageEventContent{MsgType: event.MsgNotice, Body: body, Format: event.FormatHTML, FormattedBody: formatted}
}

func (m *MSNClient) circleMessage(sess *session, evt *msnclient.CircleMessage) {
	if !m.circleUsable(sess, evt.ID, "message") {
		return
	}
	if evt.FromName != "" && !evt.FromSelf {
		m.rememberName(evt.From, evt.FromName)
	}
	received := time.Now()
	m.queueRemote(&simplevent.Message[*msnclient.CircleMessage]{
		EventMeta: simplevent.EventMeta{
			Type:         bridgev2.RemoteEventMessage,
			LogContext:   m.logContext(evt.From),
			PortalKey:    makeCirclePortalKey(evt.ID, m.login.ID),
			Sender:       m.sender(evt.From, evt.FromSelf),
			CreatePortal: true,
			Timestamp:    received,
			PostHandleFunc: func(context.Context, *bridgev2.Portal) {
				m.connector.metrics.MessageBridged(ToMatrix, time.Since(received))
			},
		},
		Data: evt,
		ID:   m.msgIDs.New(),
		ConvertMessageFunc: func(_ context.Context, _ *bridgev2.Portal, _ bridgev2.MatrixAPI, evt *msnclient.CircleMessage) (*bridgev2.ConvertedMessage, error) {
			return m.convertText(evt.Message), nil
		},
	})
}

func (m *MSNClient) circleTyping(sess *session, evt *msnclient.CircleTyping) {
	if normalizeEmail(evt.From) == normalizeEmail(m.meta.Email) || !m.circleUsable(sess, evt.ID, "typing") {
		return
	}
	m.queueRemote(&simplevent.Typing{
		EventMeta: simplevent.EventMeta{
			Type:       bridgev2.RemoteEventTyping,
			LogContext: m.logContext(evt.From),
			PortalKey:  makeCirclePortalKey(evt.ID, m.login.ID),
			Sender:     m.sender(evt.From, false),
		},
		Timeout: incomingTypingTimeout,
		Type:    bridgev2.TypingTypeText,
	})
}

func (m *MSNClient) circlePresence(sess *session, evt *msnclient.CircleMemberPresence) {
	email := normalizeEmail(evt.Email)
	if email == normalizeEmail(m.meta.Email) || !validEmail(email) {
		return
	}
	if c, ok := sess.client.Contact(email); !ok || c.Lists&msnclient.ListForward == 0 {
		if evt.Name != "" && evt.Name != email {
			m.rememberName(email, evt.Name)
			m.side.setName(email, evt.Name)
		}
	}
	m.circleMemberStatus(sess.client, email, evt.Status, evt.PSM, true)
}

// circleMemberChange shows someone joining or leaving a circle.
func (m *MSNClient) circleMemberChange(sess *session, id msnclient.CircleID, email string, membership event.Membership) {
	email = normalizeEmail(email)
	if email == normalizeEmail(m.meta.Email) || !validEmail(email) || !m.circleUsable(sess, id, "member change") {
		return
	}
	members := &bridgev2.ChatMemberList{MemberMap: bridgev2.ChatMemberMap{}}
	members.MemberMap.Set(m.chatMember(email, membership))
	m.queueMemberChange(makeCirclePortalKey(id, m.login.ID), email, members)
}

// circleInfo is GetChatInfo of a circle portal: from the live session, or
// nothing new while offline.
func (m *MSNClient) circleInfo(ctx context.Context, portal *bridgev2.Portal, id msnclient.CircleID) (*bridgev2.ChatInfo, error) {
	cl, err := m.client()
	if err != nil {
		return &bridgev2.ChatInfo{Type: ptr.Ptr(database.RoomTypeDefault)}, nil
	}
	c, ok := cl.Circle(id)
	if !ok || c.Pending() {
		return nil, fmt.Errorf("not in circle %s", id)
	}
	fctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	members, err := cl.CircleMembers(fctx, id)
	if err != nil {
		m.log.Warn().Err(err).Str("circle_id", string(id)).Msg("Failed to fetch circle members")
		members = nil
	}
	return m.circleChatInfo(ctx, cl, c, members), nil
}

// circleJoinFailed tells the user that their circles (or one) could not be
// joined in this session; contacts and chats are not affected.
func (m *MSNClient) circleJoinFailed(evt *msnclient.CircleJoinFailed) {
	m.log.Warn().Err(evt.Err).Str("circle_id", string(evt.ID)).Msg("Failed to join circles")
	what := "your MSN groups (circles)"
	if evt.ID != "" {
		what = "the MSN group " + string(evt.ID)
		if cl, err := m.client(); err == nil {
			if c, ok := cl.Circle(evt.ID); ok {
				what = fmt.Sprintf("the MSN group %q", circleName(c))
			}
		}
	}
	notice := plainNotice(fmt.Sprintf("Could not join %s on %s: %s. Their rooms stay as they were and get no messages until the next sign-in (use reconnect to try again); your contacts and chats are not affected.",
		what, m.meta.Email, describeCircleError(evt.Err)))
	m.side.add(func(ctx context.Context) { m.sendManagementNotice(ctx, notice) })
}
