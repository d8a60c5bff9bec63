package bridge

import (
	"context"
	"errors"
	"fmt"
	"html"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// Offline messages (OIM) both ways.
//
// MSN to Matrix: when the server lists waiting offline messages (at sign-in
// and whenever one arrives), each one not bridged before is fetched,
// decoded and queued into the sender's DM portal with its original time,
// oldest first. Only once Matrix accepted it (the message is in bridgev2's
// message table) is its id recorded in msn_offline_message and then the
// batch deleted on the server; a crash in between leaves the message on
// the server, and the recorded id (and bridgev2's own duplicate check on
// the deterministic message id) keeps it from being bridged twice.
//
// Matrix to MSN: a message to a DM contact the switchboard cannot reach
// (offline or appearing offline) is left as an offline message on MSNP13+.

// offlineAcceptTimeout bounds the wait for Matrix to accept one bridged
// offline message (after the one before it); past it the message stays on
// the server for next time.
const offlineAcceptTimeout = 2 * time.Minute

// offlineMessageID is the bridgev2 message ID of an offline message:
// deterministic, so bridgev2 drops a second copy by itself.
func offlineMessageID(id string) networkid.MessageID {
	return networkid.MessageID("oim:" + strings.ToUpper(id))
}

// offlineSource is what the receiver needs of an MSN client.
type offlineSource interface {
	OfflineMessages(ctx context.Context) ([]msnclient.OfflineMessageInfo, error)
	FetchOfflineMessage(ctx context.Context, id string) (*msnclient.OfflineMessage, error)
	DeleteOfflineMessages(ctx context.Context, ids []string) error
}

// offlineLedger records the offline messages bridged to Matrix
// (database.OfflineMessageQuery).
type offlineLedger interface {
	IsBridged(ctx context.Context, loginID, messageID string) (bool, error)
	MarkBridged(ctx context.Context, loginID, messageID, sender string) error
	Forget(ctx context.Context, loginID string, messageIDs []string) error
}

// offlineReceiver bridges waiting offline messages, one run at a time.
type offlineReceiver struct {
	log     zerolog.Logger
	loginID string
	ledger  offlineLedger
	// deliver queues one message into Matrix; the channel gets true once
	// Matrix accepted it, false when it was not (or never, on timeout).
	deliver func(ctx context.Context, msg *msnclient.OfflineMessage) <-chan bool
	timeout time.Duration

	mu sync.Mutex // one run at a time
}

// offlineRun counts what one run did.
type offlineRun struct {
	Listed, Bridged, AlreadyBridged, Failed, Deleted int
	Requests                                         int // RSI requests made
}

// run bridges the messages of a notification (or, when it was incomplete,
// of the server's full list) and deletes what Matrix accepted.
func (r *offlineReceiver) run(ctx context.Context, src offlineSource, evt *msnclient.OfflineMessagesWaiting) (offlineRun, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var res offlineRun
	list := evt.Messages
	if !evt.Complete {
		var err error
		res.Requests++
		if list, err = src.OfflineMessages(ctx); err != nil {
			return res, fmt.Errorf("list offline messages: %w", err)
		}
	}
	res.Listed = len(list)
	var toDelete []string
	var fetched []*msnclient.OfflineMessage
	for _, info := range list {
		done, err := r.ledger.IsBridged(ctx, r.loginID, info.ID)
		if err != nil {
			return res, err
		}
		if done {
			res.AlreadyBridged++
			toDelete = append(toDelete, info.ID)
			continue
		}
		res.Requests++
		msg, err := src.FetchOfflineMessage(ctx, info.ID)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Failed++
			r.log.Warn().Err(err).Str("oim_id", info.ID).Str("from", info.From).
				Msg("Could not read an offline message; it stays on the MSN server")
			continue
		}
		if msg.Time.IsZero() {
			msg.Time = info.Time
		}
		if msg.Time.IsZero() {
			msg.Time = time.Now()
		}
		if msg.FromName == "" {
			msg.FromName = info.FromName
		}
		fetched = append(fetched, msg)
	}
	// Oldest first; the parts of one run in sequence order.
	slices.SortStableFunc(fetched, func(a, b *msnclient.OfflineMessage) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if a.RunID == b.RunID {
			return a.Sequence - b.Sequence
		}
		return 0
	})
	results := make([]<-chan bool, len(fetched))
	for i, msg := range fetched {
		results[i] = r.deliver(ctx, msg)
	}
	for i, msg := range fetched {
		// Each message is handled after the one before it in its portal:
		// the timeout runs from there.
		accepted := false
		timer := time.NewTimer(r.timeout)
		select {
		case accepted = <-results[i]:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return res, ctx.Err()
		}
		timer.Stop()
		if !accepted {
			res.Failed++
			r.log.Warn().Str("oim_id", msg.ID).Str("from", msg.From).
				Msg("Matrix did not accept an offline message; it stays on the MSN server")
			continue
		}
		if err := r.ledger.MarkBridged(ctx, r.loginID, msg.ID, msg.From); err != nil {
			// Not recorded: not deleted either, bridgev2's duplicate check
			// still stops a second copy.
			res.Failed++
			r.log.Err(err).Str("oim_id", msg.ID).Msg("Failed to record a bridged offline message")
			continue
		}
		res.Bridged++
		toDelete = append(toDelete, msg.ID)
	}
	n, reqs := r.delete(ctx, src, toDelete)
	res.Deleted, res.Requests = n, res.Requests+reqs
	return res, nil
}

// delete deletes bridged messages on the server and forgets their records.
// If the batch is refused (Escargot refuses a batch with one unknown id,
// e.g. one deleted meanwhile by another client), they are deleted one by
// one. It returns how many were deleted and the requests it made.
func (r *offlineReceiver) delete(ctx context.Context, src offlineSource, ids []string) (int, int) {
	if len(ids) == 0 {
		return 0, 0
	}
	reqs := 1
	err := src.DeleteOfflineMessages(ctx, ids)
	if err == nil {
		r.forget(ctx, ids)
		return len(ids), reqs
	}
	if len(ids) == 1 || ctx.Err() != nil {
		r.log.Warn().Err(err).Strs("oim_ids", ids).Msg("Failed to delete bridged offline messages; they will be deleted at the next sign-in")
		return 0, reqs
	}
	deleted := 0
	for _, id := range ids {
		reqs++
		if err := src.DeleteOfflineMessages(ctx, []string{id}); err != nil {
			r.log.Warn().Err(err).Str("oim_id", id).Msg("Failed to delete a bridged offline message")
			continue
		}
		r.forget(ctx, []string{id})
		deleted++
	}
	return deleted, reqs
}

func (r *offlineReceiver) forget(ctx context.Context, ids []string) {
	if err := r.ledger.Forget(ctx, r.loginID, ids); err != nil {
		r.log.Err(err).Msg("Failed to forget deleted offline messages")
	}
}

// offlineReceiver returns the login's receiver, created on first use.
func (m *MSNClient) offlineReceiver() *offlineReceiver {
	m.offlineOnce.Do(func() {
		m.offline = &offlineReceiver{
			log:     m.log.With().Str("component", "offline_messages").Logger(),
			loginID: string(m.login.ID),
			ledger:  m.connector.DB.Offline,
			deliver: m.queueOfflineMessage,
			timeout: offlineAcceptTimeout,
		}
	})
	return m.offline
}

// handleOfflineWaiting bridges the offline messages a notification lists,
// in the background (the event goroutine must not wait on Matrix).
func (m *MSNClient) handleOfflineWaiting(ctx context.Context, sess *session, evt *msnclient.OfflineMessagesWaiting) {
	if m.connector.DB == nil || m.connector.Bridge == nil {
		return
	}
	m.bg.Go(func() { // tied to the session: logout waits for it before deleting rows
		start := time.Now()
		res, err := m.offlineReceiver().run(ctx, sess.client, evt)
		log := m.log.Info()
		if err != nil {
			log = m.log.Warn().Err(err)
		}
		log.Bool("initial", evt.Initial).Int("listed", res.Listed).Int("bridged", res.Bridged).
			Int("already_bridged", res.AlreadyBridged).Int("failed", res.Failed).Int("deleted", res.Deleted).
			Int("requests", res.Requests).Dur("took", time.Since(start)).Msg("Offline messages handled")
	})
}

// queueOfflineMessage queues one offline message into the sender's DM
// portal (created if needed) as sent at its original time.
func (m *MSNClient) queueOfflineMessage(_ context.Context, msg *msnclient.OfflineMessage) <-chan bool {
	done := make(chan bool, 1)
	report := func(ok bool) {
		select {
		case done <- ok:
		default:
		}
	}
	if msg.FromName != "" {
		m.rememberName(msg.From, msg.FromName)
	}
	id := offlineMessageID(msg.ID)
	res := m.login.QueueRemoteEvent(&simplevent.Message[*msnclient.OfflineMessage]{
		EventMeta: simplevent.EventMeta{
			Type:         bridgev2.RemoteEventMessage,
			LogContext:   func(c zerolog.Context) zerolog.Context { return c.Str("msn_from", msg.From).Str("oim_id", msg.ID) },
			PortalKey:    makeDMPortalKey(msg.From, m.login.ID),
			Sender:       m.sender(msg.From, false),
			CreatePortal: true,
			Timestamp:    msg.Time,
			PostHandleFunc: func(ctx context.Context, portal *bridgev2.Portal) {
				part, err := m.connector.Bridge.DB.Message.GetFirstPartByID(ctx, portal.Receiver, id)
				report(err == nil && part != nil)
			},
		},
		Data: msg,
		ID:   id,
		ConvertMessageFunc: func(context.Context, *bridgev2.Portal, bridgev2.MatrixAPI, *msnclient.OfflineMessage) (*bridgev2.ConvertedMessage, error) {
			return &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{
				Type:    event.EventMessage,
				Content: msnToMatrix(msnclient.TextMessage{Text: msg.Text}, m.connector.Config.EmoticonsToEmoji),
			}}}, nil
		},
	})
	if !res.Queued {
		// Handled synchronously: PostHandle has reported unless the event
		// was dropped before it (no portal, portal creation failed).
		report(false)
	}
	return done
}

// afterSignIn restores what the user set from Matrix once a session is up.
func (m *MSNClient) afterSignIn(ctx context.Context, sess *session) {
	m.restoreProfile(ctx, sess.client)
}

// errOfflineNotStored wraps the failure to leave an offline message.
var errOfflineNotStored = errors.New("the contact is offline and the offline message was not stored")

// offlineStoredMessage is the status text of a message left as an offline
// message.
const offlineStoredMessage = "The contact is offline: the message was stored on the MSN server and will be delivered when they sign in."

// sendOffline leaves text as an offline message when sending to a DM
// contact failed because they are offline. ok reports whether it handled
// the message (stored, or failed with err); false leaves sendErr as is
// (not offline, not a DM, or a dialect without offline messages).
func (m *MSNClient) sendOffline(ctx context.Context, msg *bridgev2.MatrixMessage, text string, sendErr error) (resp *bridgev2.MatrixMessageResponse, ok bool, err error) {
	contact, isDM := dmContact(msg.Portal.ID)
	if !isDM || !errors.Is(sendErr, msnclient.ErrContactOffline) {
		return nil, false, nil
	}
	cl, err := m.client()
	if err != nil || !cl.CanSendOfflineMessages() {
		return nil, false, nil
	}
	statusText := offlineStoredMessage
	var partly *msnclient.PartlyStoredError
	if err := cl.SendOfflineMessage(ctx, contact, text); errors.As(err, &partly) {
		// Not a failure to resend: the first parts would arrive twice.
		m.log.Warn().Err(err).Str("to", contact).Msg("Only part of an offline message was stored")
		statusText = fmt.Sprintf("The contact is offline: only the first %d of %d parts of the message were stored on the MSN server; the rest could not be. Send only the missing end again.", partly.Stored, partly.Total)
	} else if err != nil {
		return nil, true, fmt.Errorf("%w: %w", errOfflineNotStored, err)
	}
	m.log.Debug().Str("to", contact).Msg("Stored a Matrix message as an MSN offline message")
	first := m.markOfflineMode(msg.Portal.PortalKey, true)
	return &bridgev2.MatrixMessageResponse{
		DB: &database.Message{ID: m.msgIDs.New(), SenderID: m.selfUserID(), Timestamp: time.Now()},
		PostSave: func(context.Context, *database.Message) {
			if m.connector.Bridge == nil {
				return
			}
			// The event's context ends when its handling does; the status
			// is sent in the background.
			ctx := m.log.WithContext(m.backgroundCtx())
			m.connector.Bridge.Matrix.SendMessageStatus(ctx, &bridgev2.MessageStatus{
				Status:  event.MessageStatusSuccess,
				Message: statusText,
			}, bridgev2.StatusEventInfoFromEvent(msg.Event))
			switch {
			case partly != nil:
				m.sendPortalNotice(ctx, msg.Portal, &event.MessageEventContent{MsgType: event.MsgNotice, Body: statusText})
			case first:
				m.sendPortalNotice(ctx, msg.Portal, offlineNotice(m.contactName(contact)))
			}
		},
	}, true, nil
}

// markOfflineMode records whether the last message to a portal went as an
// offline message; it reports whether that changed.
func (m *MSNClient) markOfflineMode(pk networkid.PortalKey, offline bool) bool {
	m.offlineModeMu.Lock()
	defer m.offlineModeMu.Unlock()
	if m.offlineMode == nil {
		m.offlineMode = make(map[networkid.PortalKey]bool)
	}
	changed := m.offlineMode[pk] != offline
	m.offlineMode[pk] = offline
	return changed
}

// offlineNotice tells the user, once per stretch of offline messages to a
// contact, that their messages wait on the server.
func offlineNotice(name string) *event.MessageEventContent {
	text := fmt.Sprintf("%s is offline. Your messages are stored on the MSN server as offline messages and will be delivered when they sign in.", name)
	return &event.MessageEventContent{MsgType: event.MsgNotice, Body: text, Format: event.FormatHTML, FormattedBody: html.EscapeString(text)}
}

// contactName is a contact's friendly name as last seen, else the email.
func (m *MSNClient) contactName(email string) string {
	if name, ok := m.names.load(normalizeEmail(email)); ok && name != "" {
		return name
	}
	return email
}

// sendPortalNotice sends a notice from the bridge bot into a portal.
func (m *MSNClient) sendPortalNotice(ctx context.Context, portal *bridgev2.Portal, content *event.MessageEventContent) {
	if portal.MXID == "" {
		return
	}
	_, err := m.connector.Bridge.Bot.SendMessage(ctx, portal.MXID, event.EventMessage, &event.Content{Parsed: content}, nil)
	if err != nil {
		m.log.Err(err).Msg("Failed to send notice to portal")
	}
}
