package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// HandleMatrixMessage implements bridgev2.NetworkAPI: it sends a Matrix
// text, notice or emote through the conversation's switchboard and returns
// once MSN acknowledged it. Failures come back as message statuses with a
// reason the user can read.
func (m *MSNClient) HandleMatrixMessage(ctx context.Context, msg *bridgev2.MatrixMessage) (*bridgev2.MatrixMessageResponse, error) {
	if msg.Event != nil && !m.connector.claimMatrixEvent(msg.Event.ID) {
		// Handled already: it reached the bridge both from the homeserver
		// and from the catch-up of a new DM. The first handling reports
		// the status; this one saves and reports nothing.
		m.log.Debug().Stringer("event_id", msg.Event.ID).Msg("Ignoring Matrix message handled already")
		return &bridgev2.MatrixMessageResponse{Pending: true}, nil
	}
	start := time.Now()
	resp, reason, err := m.sendMatrixMessage(ctx, msg)
	if err != nil {
		m.connector.metrics.SendFailed(reason)
		return nil, err
	}
	if resp.Pending {
		return resp, nil // a file: counted when its transfer ends
	}
	m.connector.metrics.MessageBridged(ToMSN, time.Since(start))
	return resp, nil
}

// sendMatrixMessage converts and sends a message; on failure it also
// returns the metrics reason.
func (m *MSNClient) sendMatrixMessage(ctx context.Context, msg *bridgev2.MatrixMessage) (*bridgev2.MatrixMessageResponse, string, error) {
	content := msg.Content
	if id, ok := circleOfPortal(msg.Portal.ID); ok {
		return m.sendCircleMatrixMessage(ctx, msg, id)
	}
	if err := m.connector.groupDMOpens.wait(ctx, msg.Portal.PortalKey); err != nil {
		return nil, FailureReason(err), m.sendFailure(err)
	}
	switch content.MsgType {
	case event.MsgText, event.MsgNotice, event.MsgEmote:
	case event.MsgImage, event.MsgFile, event.MsgVideo, event.MsgAudio, event.MessageType(event.CapMsgSticker):
		return m.sendMatrixFile(ctx, msg)
	default:
		return nil, ReasonUnsupported, bridgev2.ErrUnsupportedMessageType
	}
	text, snippet, reason, err := m.matrixText(ctx, msg)
	if err != nil {
		return nil, reason, err
	}
	cl, err := m.waitConnected(ctx)
	if err != nil {
		return nil, FailureReason(err), m.sendFailure(err)
	}
	cv, err := m.conversationFor(ctx, msg.Portal)
	if err != nil {
		return nil, FailureReason(err), m.sendFailure(err)
	}
	m.typing.stop(msg.Portal.PortalKey)
	if err := cv.SendText(ctx, text); err != nil {
		if resp, handled, oimErr := m.sendOffline(ctx, msg, text.Text, err); handled {
			if oimErr != nil {
				return nil, FailureReason(oimErr), m.sendFailure(oimErr)
			}
			return resp, "", nil
		}
		m.rememberUnconfirmed(cl, msg, m.sentMessageRow(snippet), err)
		return nil, FailureReason(err), m.sendFailure(fmt.Errorf("send message: %w", err))
	}
	m.markOfflineMode(msg.Portal.PortalKey, false)
	return &bridgev2.MatrixMessageResponse{DB: m.sentMessageRow(snippet)}, "", nil
}

// matrixText converts a Matrix text, notice or emote to MSN text (with a
// quote of the message it replies to) and checks that MSN can carry it.
// On failure it returns the metrics reason and the status error.
func (m *MSNClient) matrixText(ctx context.Context, msg *bridgev2.MatrixMessage) (msnclient.TextMessage, string, string, error) {
	content := msg.Content
	text := matrixToMSN(ctx, content)
	snippet := quoteSnippet(text.Text)
	if content.MsgType == event.MsgEmote && msg.OrigSender == nil {
		// A relayed emote was already formatted by the relay templates
		// with the Matrix sender's name ("* Sender waves").
		text.Text = "* " + m.ownName() + " " + text.Text
	}
	if msg.ReplyTo != nil {
		text.Text = m.replyQuote(ctx, msg) + text.Text
	}
	if strings.TrimSpace(text.Text) == "" {
		return text, snippet, ReasonUnsupported, userError(errors.New("empty message"), "The message is empty after conversion to MSN text.")
	}
	if n, limit := utf8.RuneCountInString(text.Text), m.connector.maxMessageLength(); n > limit {
		return text, snippet, ReasonTooLong, userError(fmt.Errorf("message too long: %d > %d", n, limit),
			fmt.Sprintf("The message is too long for MSN (%d characters, the limit is %d). Split it into shorter messages.", n, limit))
	}
	return text, snippet, "", nil
}

// sentMessageRow is the message row of a text sent to MSN.
func (m *MSNClient) sentMessageRow(snippet string) *database.Message {
	return &database.Message{
		ID:        m.msgIDs.New(),
		SenderID:  m.selfUserID(),
		Timestamp: time.Now(),
		Metadata:  &MessageMetadata{Snippet: snippet},
	}
}

// conversationFor returns the MSN conversation of a portal.
func (m *MSNClient) conversationFor(ctx context.Context, portal *bridgev2.Portal) (*msnclient.Conversation, error) {
	cl, err := m.client()
	if err != nil {
		return nil, err
	}
	if _, ok := circleOfPortal(portal.ID); ok {
		return nil, errCircleNoConversation
	}
	if contact, ok := dmContact(portal.ID); ok {
		return cl.Conversation(contact), nil
	}
	parts, err := m.groupParticipants(ctx, portal.PortalKey)
	if err != nil {
		return nil, fmt.Errorf("find conversation participants: %w", err)
	}
	if _, live := m.convs.participantsOf(portal.PortalKey); !live {
		// Replies from this set of people belong to this portal.
		m.convs.set(parts, portal.PortalKey)
	}
	return cl.Conversation(parts...), nil
}

// ownName is the name used in emotes: our MSN friendly name or email.
func (m *MSNClient) ownName() string {
	m.profileMu.Lock()
	defer m.profileMu.Unlock()
	if m.login.RemoteProfile.Name != "" {
		return m.login.RemoteProfile.Name
	}
	return m.meta.Email
}

// replyQuote quotes the replied-to message as text, as MSN has no replies.
// The text comes from the bridge's message database (the snippet kept when
// the message was bridged), never from the homeserver: in encrypted rooms
// the bridge could not read the event there.
func (m *MSNClient) replyQuote(ctx context.Context, msg *bridgev2.MatrixMessage) string {
	name := "message"
	if m.IsThisUser(ctx, msg.ReplyTo.SenderID) {
		name = m.ownName()
	} else if m.connector.Bridge != nil {
		if ghost, err := m.connector.Bridge.GetExistingGhostByID(ctx, msg.ReplyTo.SenderID); err == nil && ghost != nil && ghost.Name != "" {
			name = ghost.Name
		}
	}
	quoted := ""
	if meta, ok := msg.ReplyTo.Metadata.(*MessageMetadata); ok {
		quoted = meta.Snippet
	}
	if quoted == "" {
		return fmt.Sprintf("> (in reply to %s)\n", name)
	}
	return fmt.Sprintf("> %s: %s\n", name, quoted)
}

// quoteSnippet is the start of a message as a one-line quote.
func quoteSnippet(text string) string {
	quoted := strings.Join(strings.Fields(text), " ")
	if r := []rune(quoted); len(r) > 80 {
		quoted = string(r[:80]) + "…"
	}
	return quoted
}

// HandleMatrixTyping implements bridgev2.TypingHandlingNetworkAPI. MSN
// needs a typing notification every few seconds, so a loop repeats it
// until typing stops or a message is sent.
func (m *MSNClient) HandleMatrixTyping(_ context.Context, msg *bridgev2.MatrixTyping) error {
	if msg.IsTyping && msg.Type == bridgev2.TypingTypeText {
		m.typing.start(msg.Portal.PortalKey)
	} else {
		m.typing.stop(msg.Portal.PortalKey)
	}
	return nil
}

// sendTyping sends one typing notification to a portal's conversation.
func (m *MSNClient) sendTyping(ctx context.Context, pk networkid.PortalKey) error {
	if id, ok := circleOfPortal(pk.ID); ok {
		return m.sendCircleTyping(ctx, id)
	}
	portal, err := m.connector.Bridge.GetExistingPortalByKey(ctx, pk)
	if err != nil || portal == nil {
		return fmt.Errorf("portal %s not found: %w", pk, err)
	}
	cv, err := m.conversationFor(ctx, portal)
	if err != nil {
		return err
	}
	if err := cv.SendTyping(ctx); err != nil {
		m.log.Debug().Err(err).Str("portal_id", string(pk.ID)).Msg("Failed to send typing notification")
		return err
	}
	return nil
}

// sendNudge sends a nudge to a portal's conversation.
func (m *MSNClient) sendNudge(ctx context.Context, portal *bridgev2.Portal) error {
	if id, ok := circleOfPortal(portal.ID); ok {
		return m.sendCircleNudge(ctx, id)
	}
	cv, err := m.conversationFor(ctx, portal)
	if err != nil {
		return err
	}
	if err := cv.SendNudge(ctx); err != nil {
		return fmt.Errorf("send nudge: %w", err)
	}
	return nil
}

// humanError is an error with a message for users.
type humanError struct {
	err   error
	human string
}

func (e *humanError) Error() string      { return e.err.Error() }
func (e *humanError) Unwrap() error      { return e.err }
func (e *humanError) HumanError() string { return e.human }

// userError wraps err in a failed message status showing human.
func userError(err error, human string) error {
	return bridgev2.WrapErrorInStatus(&humanError{err: err, human: human}).
		WithMessage(human).
		WithIsCertain(true).
		WithSendNotice(true).
		WithStatus(event.MessageStatusFail).
		WithErrorReason(event.MessageStatusGenericError)
}

// describeSendError explains a send failure in words.
func describeSendError(err error) string {
	var srvErr *msnp.ServerError
	switch {
	case errors.Is(err, errOfflineNotStored):
		return "The contact is offline and the MSN server did not store the message for later delivery: " + err.Error()
	case errors.Is(err, msnclient.ErrDeliveryUnconfirmed):
		return "Not confirmed: MSN did not acknowledge the message; it may have arrived."
	case errors.Is(err, msnclient.ErrContactOffline):
		return "The contact is offline, so the message was not delivered (offline messages need MSNP13 or later, and this login uses an older protocol version)."
	case errors.Is(err, msnclient.ErrNotConnected):
		return "Not connected to MSN right now (the bridge is reconnecting); the message was not sent. Send it again once the bridge is back online."
	case errors.Is(err, msnclient.ErrNotDelivered):
		return "The MSN server did not deliver the message (it refused it, or it could not be sent)."
	case errors.Is(err, msnclient.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "The MSN server did not answer in time; the message may not have been delivered."
	case errors.As(err, &srvErr):
		return fmt.Sprintf("The MSN server refused the message: %s (error %d).", msnp.ErrorText(srvErr.Code), srvErr.Code)
	default:
		return "Sending to MSN failed: " + err.Error()
	}
}

// sendFailure turns a send error into a message status users see.
func (m *MSNClient) sendFailure(err error) error {
	m.log.Debug().Err(err).Msg("Failed to send message to MSN")
	if errors.Is(err, msnclient.ErrDeliveryUnconfirmed) {
		return unconfirmedStatus(err)
	}
	status := bridgev2.WrapErrorInStatus(err).
		WithMessage(describeSendError(err)).
		WithIsCertain(true).
		WithSendNotice(true)
	if errors.Is(err, msnclient.ErrNotConnected) || errors.Is(err, msnclient.ErrTimeout) {
		return status.WithStatus(event.MessageStatusRetriable).WithErrorReason(event.MessageStatusNetworkError)
	}
	return status.WithStatus(event.MessageStatusFail).WithErrorReason(event.MessageStatusGenericError)
}
