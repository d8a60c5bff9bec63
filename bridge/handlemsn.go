package bridge

import (
	"context"
	"errors"
	"fmt"
	"html"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// incomingTypingTimeout is how long a contact shows as typing on Matrix
// after one MSN typing notification (MSN clients send one every ~4 s).
const incomingTypingTimeout = 6 * time.Second

// handleEvent receives the events of the current session, in order.
// Only what orders messages runs here; homeserver and database work that
// can wait (profiles, stored presence, notices) goes to m.side.
func (m *MSNClient) handleEvent(ctx context.Context, sess *session, evt any) {
	switch evt := evt.(type) {
	case *msnclient.Connected:
		m.log.Info().Int("protocol", evt.Version).Msg("Connected to MSN")
		m.setOwnName(ctx, sess.client.FriendlyName())
		m.bg.Go(func() { m.syncOwnPicture(ctx, sess.client, nil) }) // tied to the session (logout waits)
	case *msnclient.Disconnected:
		// The connect loop reacts through session.done.
	case *msnclient.ContactPresence:
		m.handlePresence(ctx, evt)
	case *msnclient.PersonalMessage:
		m.presence.update(evt.Email, func(p *contactPresence) { p.PSM = evt.Message })
		m.side.setPresence(evt.Email, storedPresence{PSM: evt.Message, HasPSM: true})
	case *msnclient.ContactListChanged:
		m.bg.Go(func() { m.syncContacts(ctx, sess) })
	case *msnclient.ContactRequest:
		m.notifyContactRequest(ctx, evt.Email, evt.FriendlyName, evt.Message)
	case *msnclient.OwnProfile:
		m.setOwnName(ctx, evt.FriendlyName)
	case *msnclient.OfflineMessagesWaiting:
		m.handleOfflineWaiting(ctx, sess, evt)
	case *msnclient.MessageReceived:
		m.handleMessage(ctx, evt)
	case *msnclient.Typing:
		m.handleTyping(ctx, evt)
	case *msnclient.Nudge:
		m.handleNudge(ctx, evt)
	case *msnclient.Datacast:
		m.handleDatacast(ctx, evt)
	case *msnclient.UnknownMessage:
		if what, ok := unknownMessageNotice(evt); ok {
			if evt.Err != nil {
				m.log.Warn().Err(evt.Err).Str("from", evt.From).Msg("MSN message arrived incomplete")
			}
			m.handleNotice(ctx, evt.ConversationEvent, evt.From, what)
			return
		}
		m.log.Debug().Str("from", evt.From).Str("content_type", evt.ContentType).Msg("Ignoring unsupported MSN message")
	case *msnclient.Ink:
		m.handleInk(ctx, evt)
	case *msnclient.FileReceived:
		m.handleFileReceived(ctx, evt)
	case *msnclient.FileFailed:
		m.handleFileFailed(ctx, evt)
	case *msnclient.ParticipantJoined:
		m.handleJoin(ctx, evt)
	case *msnclient.ParticipantLeft:
		m.handleLeave(ctx, evt)
	case *msnclient.ConversationClosed:
		m.convs.remove(evt.Participants)
	case *msnclient.MessageAcknowledged:
		m.handleLateAck(ctx, sess, evt)
	case *msnclient.ParticipantUnreachable:
		m.handleUnreachable(ctx, evt)
	default:
		if m.handleCircleEvent(ctx, sess, evt) {
			return
		}
		m.log.Debug().Type("event_type", evt).Msg("Unhandled MSN event")
	}
}

// sender is the bridgev2 sender of something an MSN address did.
func (m *MSNClient) sender(from string, fromSelf bool) bridgev2.EventSender {
	if fromSelf || normalizeEmail(from) == normalizeEmail(m.meta.Email) {
		return bridgev2.EventSender{IsFromMe: true, SenderLogin: m.login.ID, Sender: m.selfUserID()}
	}
	return bridgev2.EventSender{Sender: makeUserID(from)}
}

// conversationPortal finds the portal of a conversation event. A
// conversation with nobody else (possible for our own echoes) belongs to
// the DM of fallback.
func (m *MSNClient) conversationPortal(ctx context.Context, ce msnclient.ConversationEvent, fallback string) (networkid.PortalKey, error) {
	parts := ce.Participants
	if len(parts) == 0 && fallback != "" && normalizeEmail(fallback) != normalizeEmail(m.meta.Email) {
		parts = []string{fallback}
	}
	return m.portalFor(ctx, parts)
}

func (m *MSNClient) logContext(from string) func(c zerolog.Context) zerolog.Context {
	return func(c zerolog.Context) zerolog.Context { return c.Str("msn_from", from) }
}

func (m *MSNClient) handleMessage(ctx context.Context, evt *msnclient.MessageReceived) {
	pk, err := m.conversationPortal(ctx, evt.ConversationEvent, evt.From)
	if err != nil {
		m.log.Err(err).Str("from", evt.From).Msg("Dropping MSN message without a portal")
		return
	}
	if evt.FromName != "" && !evt.FromSelf {
		m.rememberName(evt.From, evt.FromName)
	}
	received := evt.Time // stamped when the MSG was read off the switchboard
	if received.IsZero() {
		received = time.Now()
	}
	metrics := m.connector.metrics
	convert := m.convertMessage
	if batch := m.startEmoticons(evt); batch != nil {
		convert = m.emoticonConverter(batch)
	}
	m.queueRemote(stampMessage(metrics, received, &simplevent.Message[*msnclient.MessageReceived]{
		EventMeta: simplevent.EventMeta{
			Type:         bridgev2.RemoteEventMessage,
			LogContext:   m.logContext(evt.From),
			PortalKey:    pk,
			Sender:       m.sender(evt.From, evt.FromSelf),
			CreatePortal: true,
			Timestamp:    evt.Time,
			PostHandleFunc: func(context.Context, *bridgev2.Portal) {
				metrics.MessageBridged(ToMatrix, 0)
				metrics.Delivered(time.Since(received))
			},
		},
		Data:               evt,
		ID:                 m.msgIDs.New(),
		ConvertMessageFunc: convert,
	}))
}

func (m *MSNClient) convertMessage(_ context.Context, _ *bridgev2.Portal, _ bridgev2.MatrixAPI, evt *msnclient.MessageReceived) (*bridgev2.ConvertedMessage, error) {
	return m.convertText(evt.Message), nil
}

// convertText is the Matrix message of an MSN text (of a conversation or
// a circle).
func (m *MSNClient) convertText(msg msnclient.TextMessage) *bridgev2.ConvertedMessage {
	return &bridgev2.ConvertedMessage{
		Parts: []*bridgev2.ConvertedMessagePart{{
			Type:       event.EventMessage,
			Content:    msnToMatrix(msg, m.connector.Config.EmoticonsToEmoji),
			DBMetadata: &MessageMetadata{Snippet: quoteSnippet(msg.Text)},
		}},
	}
}

func (m *MSNClient) handleTyping(ctx context.Context, evt *msnclient.Typing) {
	if normalizeEmail(evt.From) == normalizeEmail(m.meta.Email) {
		return
	}
	pk, err := m.conversationPortal(ctx, evt.ConversationEvent, evt.From)
	if err != nil {
		return
	}
	m.queueRemote(&simplevent.Typing{
		EventMeta: simplevent.EventMeta{
			Type:       bridgev2.RemoteEventTyping,
			LogContext: m.logContext(evt.From),
			PortalKey:  pk,
			Sender:     m.sender(evt.From, false),
		},
		Timeout: incomingTypingTimeout,
		Type:    bridgev2.TypingTypeText,
	})
}

// nudgeText is the emote body of a nudge; the client shows it after the
// sender's name ("* Alice (MSN) sent you a nudge").
func nudgeText(fromSelf bool) string {
	if fromSelf {
		return "sent a nudge"
	}
	return "sent you a nudge"
}

func (m *MSNClient) handleNudge(ctx context.Context, evt *msnclient.Nudge) {
	pk, err := m.conversationPortal(ctx, evt.ConversationEvent, evt.From)
	if err != nil {
		m.log.Err(err).Msg("Dropping nudge without a portal")
		return
	}
	m.queueLocalMessage(pk, evt.From, evt.FromSelf, &event.MessageEventContent{
		MsgType: event.MsgEmote,
		Body:    nudgeText(evt.FromSelf),
	})
}

// unknownMessageNotice is what the portal shows of a message msnclient
// could not decode: a file transfer invitation, a chunked message that
// arrived incomplete (so the user knows something was lost), or content of
// a type the bridge does not know (see unknownContentNotice).
func unknownMessageNotice(evt *msnclient.UnknownMessage) (string, bool) {
	switch {
	case errors.Is(evt.Err, msnclient.ErrIncompleteMessage):
		return "sent a message that arrived incomplete and could not be shown", true
	case strings.HasPrefix(evt.ContentType, "text/x-msmsgsinvite"):
		// File offers are FileFailed events: this is another application.
		return "sent an invitation (voice, video or an application) that the bridge cannot accept", true
	}
	return unknownContentNotice(evt.ContentType)
}

// handleNotice shows something we cannot bridge as an emote of the sender
// ("* Bob (MSN) sent a wink, which the bridge cannot show").
func (m *MSNClient) handleNotice(ctx context.Context, ce msnclient.ConversationEvent, from, what string) {
	pk, err := m.conversationPortal(ctx, ce, from)
	if err != nil {
		return
	}
	m.queueLocalMessage(pk, from, false, &event.MessageEventContent{
		MsgType: event.MsgEmote,
		Body:    what,
	})
}

// queueLocalMessage bridges content made by the bridge (not an MSN text).
func (m *MSNClient) queueLocalMessage(pk networkid.PortalKey, from string, fromSelf bool, content *event.MessageEventContent) {
	m.queueRemote(&simplevent.Message[*event.MessageEventContent]{
		EventMeta: simplevent.EventMeta{
			Type:         bridgev2.RemoteEventMessage,
			LogContext:   m.logContext(from),
			PortalKey:    pk,
			Sender:       m.sender(from, fromSelf),
			CreatePortal: true,
			Timestamp:    time.Now(),
		},
		Data: content,
		ID:   m.msgIDs.New(),
		ConvertMessageFunc: func(context.Context, *bridgev2.Portal, bridgev2.MatrixAPI, *event.MessageEventContent) (*bridgev2.ConvertedMessage, error) {
			return &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{
				Type:    event.EventMessage,
				Content: content,
			}}}, nil
		},
	})
}

// handleJoin moves a conversation to its group portal when it becomes
// multi-party, and shows the join.
func (m *MSNClient) handleJoin(ctx context.Context, evt *msnclient.ParticipantJoined) {
	if pk, members, ok := m.joinChange(ctx, evt); ok {
		m.queueMemberChange(pk, evt.Email, members)
	}
}

// joinChange works out the portal and member changes of a join: nothing
// for a one-to-one conversation, the group portal (found or created) once
// two or more others are in it.
func (m *MSNClient) joinChange(ctx context.Context, evt *msnclient.ParticipantJoined) (networkid.PortalKey, *bridgev2.ChatMemberList, bool) {
	email := normalizeEmail(evt.Email)
	if evt.FriendlyName != "" {
		m.rememberName(email, evt.FriendlyName)
	}
	now := evt.Participants
	before := slices.DeleteFunc(slices.Clone(now), func(p string) bool { return normalizeEmail(p) == email })
	pk, wasGroup := m.convs.move(before, now)
	if !wasGroup {
		if len(now) < 2 {
			return pk, nil, false
		}
		var err error
		pk, err = m.groupPortalKey(ctx, now)
		if err != nil {
			m.log.Err(err).Msg("Failed to find group portal")
			return pk, nil, false
		}
		m.convs.set(now, pk)
	}
	members := &bridgev2.ChatMemberList{MemberMap: bridgev2.ChatMemberMap{}}
	for _, p := range now {
		members.MemberMap.Set(m.chatMember(p, event.MembershipJoin))
	}
	members.MemberMap.Set(m.selfMember())
	return pk, members, true
}

// handleLeave shows a participant leaving a group conversation.
func (m *MSNClient) handleLeave(_ context.Context, evt *msnclient.ParticipantLeft) {
	if pk, members, ok := m.leaveChange(evt); ok {
		m.queueMemberChange(pk, evt.Email, members)
	}
}

// leaveChange works out the member change of a leave; leaving a one-to-one
// conversation (the switchboard closing) shows nothing.
func (m *MSNClient) leaveChange(evt *msnclient.ParticipantLeft) (networkid.PortalKey, *bridgev2.ChatMemberList, bool) {
	email := normalizeEmail(evt.Email)
	now := evt.Participants
	before := append(slices.Clone(now), email)
	pk, wasGroup := m.convs.move(before, now)
	if !wasGroup {
		return pk, nil, false
	}
	members := &bridgev2.ChatMemberList{MemberMap: bridgev2.ChatMemberMap{}}
	members.MemberMap.Set(m.chatMember(email, event.MembershipLeave))
	return pk, members, true
}

func (m *MSNClient) queueMemberChange(pk networkid.PortalKey, who string, members *bridgev2.ChatMemberList) {
	m.queueRemote(&simplevent.ChatInfoChange{
		EventMeta: simplevent.EventMeta{
			Type:         bridgev2.RemoteEventChatInfoChange,
			LogContext:   m.logContext(who),
			PortalKey:    pk,
			Sender:       m.sender(who, false),
			CreatePortal: true,
			Timestamp:    time.Now(),
		},
		ChatInfoChange: &bridgev2.ChatInfoChange{MemberChanges: members},
	})
}

func (m *MSNClient) handlePresence(ctx context.Context, evt *msnclient.ContactPresence) {
	if evt.FriendlyName != "" {
		m.rememberName(evt.Email, evt.FriendlyName)
		m.side.setName(evt.Email, evt.FriendlyName)
	}
	m.presence.update(evt.Email, func(p *contactPresence) { p.Status = evt.Status })
	m.side.setPresence(evt.Email, storedPresence{Status: evt.Status, HasStatus: true})
	m.updateContactAvatar(evt)
}

// storePresence keeps a contact's last status or personal message in the
// contact snapshot.
func (m *MSNClient) storePresence(ctx context.Context, email string, p storedPresence) {
	if m.connector.DB == nil {
		return
	}
	m.contactDBMu.Lock()
	defer m.contactDBMu.Unlock()
	loginID := string(m.login.ID)
	if p.HasStatus {
		if err := m.connector.DB.Contact.UpdateStatus(ctx, loginID, email, string(p.Status)); err != nil {
			m.log.Err(err).Msg("Failed to store contact presence")
		}
	}
	if p.HasPSM {
		if err := m.connector.DB.Contact.UpdatePSM(ctx, loginID, email, p.PSM); err != nil {
			m.log.Err(err).Msg("Failed to store contact personal message")
		}
	}
}

// datacastText describes a datacast the bridge cannot show (winks and
// voice clips are bridged: rich.go).
func datacastText(id int) string {
	return "sent something the bridge cannot show (MSN datacast " + strconv.Itoa(id) + ")"
}

// setOwnName records our MSN friendly name (shown in emotes and the login
// list), possibly changed from another endpoint.
func (m *MSNClient) setOwnName(_ context.Context, name string) {
	if name == "" {
		return
	}
	m.profileMu.Lock()
	changed := name != m.login.RemoteProfile.Name
	m.login.RemoteProfile.Name = name
	m.profileMu.Unlock()
	if changed {
		m.side.setOwnName(name)
	}
}

// saveOwnName stores the login's profile (our friendly name).
func (m *MSNClient) saveOwnName(ctx context.Context, _ string) {
	if m.connector.Bridge == nil {
		return // not running in a bridge (tests)
	}
	m.profileMu.Lock()
	defer m.profileMu.Unlock()
	if err := m.login.Save(ctx); err != nil {
		m.log.Err(err).Msg("Failed to save own profile")
	}
}

// notifyContactRequest tells the user in the management room that someone
// added them, with the commands to answer. Each address is announced once
// per client.
func (m *MSNClient) notifyContactRequest(ctx context.Context, email, name, message string) {
	email = normalizeEmail(email)
	if name != "" && name != email {
		m.rememberName(email, name)
	}
	if !m.markRequestNotified(email) {
		return
	}
	notice := contactRequestNotice(email, name, message, m.meta.Email)
	if !m.side.add(func(ctx context.Context) { m.sendManagementNotice(ctx, notice) }) {
		m.unmarkRequestNotified(email) // announced at the next contact sync
	}
}

// contactRequestNotice builds the contact request notice. The name and
// message are remote text: they are escaped into the HTML, never parsed as
// Markdown, so a name like "[Verify](https://evil)" cannot make the bridge
// bot post a link.
func contactRequestNotice(email, name, message, account string) *event.MessageEventContent {
	name = cleanLine(name)
	who, whoHTML := email, html.EscapeString(email)
	if name != "" && name != email {
		who = fmt.Sprintf("%s (%s)", name, email)
		whoHTML = html.EscapeString(who)
	}
	body := fmt.Sprintf("%s added you to their MSN contact list (on %s).", who, account)
	formatted := fmt.Sprintf("%s added you to their MSN contact list (on %s).", whoHTML, html.EscapeString(account))
	if message = cleanLine(message); message != "" {
		body += fmt.Sprintf(" Their message: %q.", message)
		formatted += html.EscapeString(fmt.Sprintf(" Their message: %q.", message))
	}
	accept, block := "accept "+email, "block "+email
	body += fmt.Sprintf("\n\nUse `%s` to add them back, or `%s` to block them.", accept, block)
	formatted += fmt.Sprintf("<br><br>Use <code>%s</code> to add them back, or <code>%s</code> to block them.",
		html.EscapeString(accept), html.EscapeString(block))
	return &event.MessageEventContent{
		MsgType:       event.MsgNotice,
		Body:          body,
		Format:        event.FormatHTML,
		FormattedBody: formatted,
	}
}

// sendManagementNotice sends a notice to the user's management room.
func (m *MSNClient) sendManagementNotice(ctx context.Context, content *event.MessageEventContent) {
	if m.connector.Bridge == nil {
		return
	}
	room, err := m.login.User.GetManagementRoom(ctx)
	if err != nil {
		m.log.Err(err).Msg("Failed to get management room")
		return
	}
	_, err = m.connector.Bridge.Bot.SendMessage(ctx, room, event.EventMessage, &event.Content{Parsed: content}, nil)
	if err != nil {
		m.log.Err(err).Msg("Failed to send notice to management room")
	}
}
