package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// MSN messages carry no id: a message the server did not acknowledge may
// still have been delivered, and sending it again could deliver it twice.
// So msnclient never resends a message once written; the bridge reports
// it as not confirmed (PENDING, "may not have arrived") instead of failed,
// and when the acknowledgement comes late (a server that hung and resumed)
// it updates the Matrix status of the same event to delivered. See
// docs/troubleshooting.md.

// maxUnconfirmed bounds the events remembered for a late acknowledgement.
const maxUnconfirmed = 256

// unconfirmedKey identifies a sent message: msnclient numbers them per
// client, and a reconnect makes a new client.
type unconfirmedKey struct {
	client *msnclient.Client
	id     uint64
}

// deliveryTracker remembers the Matrix events of messages whose
// acknowledgement may still arrive. The zero value is ready to use.
type deliveryTracker struct {
	mu     sync.Mutex
	events map[unconfirmedKey]unconfirmedSend
	order  []unconfirmedKey // oldest first
	// sendStatus sends a message status to Matrix; nil uses the bridge's
	// Matrix connector (tests replace it).
	sendStatus func(ctx context.Context, st *bridgev2.MessageStatus, info *bridgev2.MessageStatusEventInfo)
	// sendNotice posts a bridge notice into a portal; nil uses the bridge
	// bot (tests replace it).
	sendNotice func(ctx context.Context, pk networkid.PortalKey, text string)
	// saveMessage stores the message row of a send confirmed late; nil
	// uses the bridge's database (tests replace it).
	saveMessage func(ctx context.Context, msg *database.Message) error
}

// unconfirmedSend is a Matrix message whose acknowledgement may still
// arrive, with the row to store for it then (bridgev2 stored none, as the
// send returned an error), so that replies to it find it.
type unconfirmedSend struct {
	evt *event.Event
	row *database.Message
}

func (d *deliveryTracker) add(k unconfirmedKey, send unconfirmedSend) {
	if send.evt == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.events == nil {
		d.events = make(map[unconfirmedKey]unconfirmedSend)
	}
	for len(d.order) >= maxUnconfirmed {
		delete(d.events, d.order[0])
		d.order = d.order[1:]
	}
	d.events[k] = send
	d.order = append(d.order, k)
}

func (d *deliveryTracker) take(k unconfirmedKey) unconfirmedSend {
	d.mu.Lock()
	defer d.mu.Unlock()
	send, ok := d.events[k]
	if ok {
		delete(d.events, k)
		for i, o := range d.order {
			if o == k {
				d.order = append(d.order[:i], d.order[i+1:]...)
				break
			}
		}
	}
	return send
}

// rememberUnconfirmed keeps the event of a send whose acknowledgement may
// still arrive, with the message row to store if it does.
func (m *MSNClient) rememberUnconfirmed(cl *msnclient.Client, msg *bridgev2.MatrixMessage, row *database.Message, err error) {
	var unconfirmed *msnclient.UnconfirmedError
	if cl != nil && errors.As(err, &unconfirmed) && unconfirmed.Late && msg.Event != nil {
		row.MXID = msg.Event.ID
		row.Room = msg.Portal.PortalKey
		row.SenderMXID = msg.Event.Sender
		m.delivery.add(unconfirmedKey{client: cl, id: unconfirmed.ID}, unconfirmedSend{evt: msg.Event, row: row})
	}
}

// handleLateAck updates the Matrix status of a message whose send had
// reported it as not confirmed.
func (m *MSNClient) handleLateAck(ctx context.Context, sess *session, evt *msnclient.MessageAcknowledged) {
	send := m.delivery.take(unconfirmedKey{client: sess.client, id: evt.ID})
	mxEvt := send.evt
	if mxEvt == nil {
		return
	}
	if evt.Delivered {
		m.saveLateMessage(ctx, send.row)
	}
	st := &bridgev2.MessageStatus{Status: event.MessageStatusSuccess}
	if !evt.Delivered {
		st = &bridgev2.MessageStatus{
			Status:      event.MessageStatusFail,
			ErrorReason: event.MessageStatusGenericError,
			Message:     "The MSN server refused the message after all.",
			IsCertain:   true,
			SendNotice:  true,
		}
	}
	m.log.Info().Stringer("event_id", mxEvt.ID).Bool("delivered", evt.Delivered).Msg("Late MSN acknowledgement, updating the message status")
	info := bridgev2.StatusEventInfoFromEvent(mxEvt)
	if m.delivery.sendStatus != nil {
		m.delivery.sendStatus(ctx, st, info)
	} else if br := m.connector.Bridge; br != nil && br.Matrix != nil {
		br.Matrix.SendMessageStatus(ctx, st, info)
	}
}

// saveLateMessage stores the row of a message confirmed after its send had
// returned, as bridgev2 does for a send that succeeds at once.
func (m *MSNClient) saveLateMessage(ctx context.Context, row *database.Message) {
	if row == nil {
		return
	}
	var err error
	if m.delivery.saveMessage != nil {
		err = m.delivery.saveMessage(ctx, row)
	} else if br := m.connector.Bridge; br != nil && br.DB != nil {
		err = br.DB.Message.Insert(ctx, row)
	}
	if err != nil {
		m.log.Err(err).Stringer("event_id", row.MXID).Msg("Failed to store a message confirmed late")
	}
}

// unconfirmedStatus is the status of a send MSN did not acknowledge: not a
// failure, as the message may well have arrived.
func unconfirmedStatus(err error) error {
	var unconfirmed *msnclient.UnconfirmedError
	late := errors.As(err, &unconfirmed) && unconfirmed.Late
	status := bridgev2.WrapErrorInStatus(err).WithIsCertain(false).WithErrorReason(event.MessageStatusNetworkError)
	if late {
		// Updated to delivered if the acknowledgement still comes.
		return status.WithStatus(event.MessageStatusPending).
			WithMessage("Not confirmed: MSN has not acknowledged the message yet. It may have arrived; don't send it again.").
			WithSendNotice(false)
	}
	return status.WithStatus(event.MessageStatusRetriable).
		WithMessage("Not confirmed: the conversation closed before MSN acknowledged the message. It may have arrived; check before sending it again.").
		WithSendNotice(true)
}

// handleUnreachable tells the group room that someone could not be
// invited into the conversation, as a notice from the bridge bot.
func (m *MSNClient) handleUnreachable(ctx context.Context, evt *msnclient.ParticipantUnreachable) {
	m.log.Info().Str("email", evt.Email).AnErr("reason", evt.Err).Strs("participants", evt.Participants).Msg("Participant could not be invited")
	pk, err := m.portalFor(ctx, evt.Participants)
	if err != nil {
		m.log.Err(err).Msg("No portal for the conversation with an unreachable participant")
		return
	}
	who := normalizeEmail(evt.Email)
	if name := m.friendlyName(ctx, who); name != "" {
		who = cleanLine(name) + " (" + who + ")"
	}
	text := unreachableText(who, evt.Err)
	if m.delivery.sendNotice != nil {
		m.delivery.sendNotice(ctx, pk, text)
		return
	}
	br := m.connector.Bridge
	if br == nil {
		return
	}
	// The notice is homeserver I/O: it goes to the side-work goroutine, so
	// a slow homeserver does not hold up the messages behind it.
	m.side.add(func(ctx context.Context) {
		portal, err := br.GetExistingPortalByKey(ctx, pk)
		if err != nil || portal == nil || portal.MXID == "" {
			m.log.Debug().Err(err).Msg("Group room not there yet, not telling it about the unreachable participant")
			return
		}
		content := &event.MessageEventContent{MsgType: event.MsgNotice, Body: text}
		if _, err := br.Bot.SendMessage(ctx, portal.MXID, event.EventMessage, &event.Content{Parsed: content}, nil); err != nil {
			m.log.Err(err).Msg("Failed to send unreachable-participant notice")
		}
	})
}

// unreachableText says who did not get the group's messages, and why.
func unreachableText(who string, err error) string {
	why := "could not be reached"
	switch {
	case errors.Is(err, msnclient.ErrContactOffline):
		why = "is offline"
	case err != nil:
		why = "could not be reached (" + err.Error() + ")"
	}
	return fmt.Sprintf("%s %s and does not get the messages of this conversation; they are invited again when they come online.", who, why)
}
