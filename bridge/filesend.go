package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// A Matrix file goes to MSN as a P2P offer the contact has to accept, which
// may take minutes (network.file_offer_timeout). HandleMatrixMessage must
// not wait for it: bridgev2 handles a portal's Matrix events one at a time,
// so every later message of the room would wait behind the file. The
// download and the transfer therefore run in the background, tied to the
// MSN session (logout and shutdown cancel them and wait for them, see
// Disconnect), HandleMatrixMessage returns a pending response, and the
// real message status is sent when the transfer ends; on success the
// message row is stored then, so replies and redactions find it.

// fileSendStatusTimeout bounds the Matrix work (status, row, notice) done
// when a background transfer ends, also when it ended by the session
// ending.
const fileSendStatusTimeout = 30 * time.Second

// fileSend is a Matrix file being sent to MSN in the background.
type fileSend struct {
	msg      *bridgev2.MatrixMessage
	cl       *msnclient.Client
	contacts []string
	name     string
	caption  string
	start    time.Time
}

// fileOutcome is how a background file send ended.
type fileOutcome struct {
	// err is nil when every contact received the file (or, with fallback,
	// a link to it).
	err    error
	reason string // metrics reason of err
	// fallback is the error of the transfer a link was sent for instead
	// (network.media_fallback); err is then nil.
	fallback error
}

// startFileSend runs the download and transfer of a Matrix file in the
// background and returns the pending response: its status comes when the
// transfer ends.
func (m *MSNClient) startFileSend(ctx context.Context, job *fileSend) *bridgev2.MatrixMessageResponse {
	log := zerolog.Ctx(ctx).With().Str("action", "send file").Str("file", job.name).Logger()
	bgCtx := log.WithContext(m.sessionContext())
	m.bg.Go(func() {
		out := m.transferMatrixFile(bgCtx, job)
		// The session may have ended (that may be why the transfer
		// failed): the outcome is reported all the same.
		reportCtx, cancel := context.WithTimeout(log.WithContext(context.WithoutCancel(bgCtx)), fileSendStatusTimeout)
		defer cancel()
		m.reportFileSend(reportCtx, job, out)
	})
	return &bridgev2.MatrixMessageResponse{Pending: true}
}

// transferMatrixFile downloads the file and offers it to each contact;
// when that fails and network.media_fallback is on, it sends a link
// instead. The caption follows the file as text.
func (m *MSNClient) transferMatrixFile(ctx context.Context, job *fileSend) fileOutcome {
	msg := job.msg
	sendErr := m.checkAnnouncedSize(msg.Content)
	var err error
	if sendErr == nil {
		err = m.downloadAndSend(ctx, msg, job.cl, job.contacts, job.name, &sendErr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return fileOutcome{err: m.fileSendFailure(fmt.Errorf("download media: %w", errSessionEnded)), reason: ReasonNotConnected}
		}
		return fileOutcome{err: userError(fmt.Errorf("download media: %w", err), "The bridge could not download the file from Matrix."), reason: ReasonUnsupported}
	}
	if sendErr != nil {
		if ctx.Err() != nil && !errors.Is(sendErr, msnclient.ErrFileDeclined) {
			sendErr = fmt.Errorf("%w: %w", errSessionEnded, sendErr)
		}
		if m.connector.Config.MediaFallback && !errors.Is(sendErr, errSessionEnded) {
			ferr := m.sendMediaLink(ctx, msg, job.name, job.caption)
			if ferr == nil {
				return fileOutcome{fallback: sendErr}
			}
			zerolog.Ctx(ctx).Warn().Err(ferr).Msg("Could not send a link to the file either")
		}
		return fileOutcome{err: m.fileSendFailure(sendErr), reason: fileSendReason(sendErr)}
	}
	if job.caption != "" {
		cv, err := m.conversationFor(ctx, msg.Portal)
		if err == nil {
			err = cv.SendText(ctx, msnclient.TextMessage{Text: job.caption})
		}
		if err != nil {
			return fileOutcome{err: m.sendFailure(fmt.Errorf("the file was sent, its caption was not: %w", err)), reason: FailureReason(err)}
		}
	}
	return fileOutcome{}
}

// errSessionEnded is the reason of a transfer cut off by the end of the
// MSN session (disconnect, logout, shutdown).
var errSessionEnded = errors.New("the connection to MSN ended before the file was sent")

// reportFileSend sends the Matrix status of a file send that ended and, when
// the contact got the file (or a link to it), stores its message row. A
// fallback link is also announced in the room: Element shows no text of a
// success status.
func (m *MSNClient) reportFileSend(ctx context.Context, job *fileSend, out fileOutcome) {
	log := zerolog.Ctx(ctx)
	if out.err != nil {
		m.connector.metrics.SendFailed(out.reason)
		st := bridgev2.WrapErrorInStatus(out.err)
		if st.Status == "" {
			st.Status = event.MessageStatusRetriable
		}
		if st.ErrorReason == "" {
			st.ErrorReason = event.MessageStatusGenericError
		}
		log.Info().Err(out.err).Msg("File not sent to MSN")
		m.sendFileStatus(ctx, job.msg, &st)
		return
	}
	m.connector.metrics.MessageBridged(ToMSN, time.Since(job.start))
	row := m.sentMessageRow(job.name)
	if evt := job.msg.Event; evt != nil {
		row.MXID = evt.ID
		row.SenderMXID = evt.Sender
	}
	row.Room = job.msg.Portal.PortalKey
	m.saveLateMessage(ctx, row)
	st := &bridgev2.MessageStatus{Status: event.MessageStatusSuccess}
	if out.fallback != nil {
		text := fallbackText(job.name, m.fileSendFailure(out.fallback))
		st.Message = text
		log.Info().Err(out.fallback).Msg("File not transferred, a link to it was sent instead")
		m.fileNotice(ctx, job.msg, text)
	} else {
		log.Debug().Msg("File sent to MSN")
	}
	m.sendFileStatus(ctx, job.msg, st)
}

// fallbackText says that a link went instead of the file, and why.
func fallbackText(name string, failure error) string {
	why := bridgev2.WrapErrorInStatus(failure).Message
	if why == "" {
		why = failure.Error()
	}
	return fmt.Sprintf("The file “%s” could not be sent over MSN (%s) The contact got a link to it instead.", name, why)
}

// sendFileStatus sends the message status of a background file send.
func (m *MSNClient) sendFileStatus(ctx context.Context, msg *bridgev2.MatrixMessage, st *bridgev2.MessageStatus) {
	info := &bridgev2.MessageStatusEventInfo{}
	if msg.Event != nil {
		info = bridgev2.StatusEventInfoFromEvent(msg.Event)
	}
	if m.delivery.sendStatus != nil {
		m.delivery.sendStatus(ctx, st, info)
	} else if br := m.connector.Bridge; br != nil && br.Matrix != nil && msg.Event != nil {
		// The connector sends it from its own goroutine, after ours
		// ended and cancelled ctx.
		br.Matrix.SendMessageStatus(context.WithoutCancel(ctx), st, info)
	}
}

// fileNotice posts a bridge notice in reply to a Matrix file message.
func (m *MSNClient) fileNotice(ctx context.Context, msg *bridgev2.MatrixMessage, text string) {
	if m.delivery.sendNotice != nil {
		m.delivery.sendNotice(ctx, msg.Portal.PortalKey, text)
		return
	}
	br := m.connector.Bridge
	if br == nil || br.Bot == nil || msg.Portal.MXID == "" {
		return
	}
	content := &event.MessageEventContent{MsgType: event.MsgNotice, Body: "ⓘ " + text, Mentions: &event.Mentions{}}
	if msg.Event != nil {
		content.RelatesTo = (&event.RelatesTo{}).SetReplyTo(msg.Event.ID)
		content.Mentions.UserIDs = []id.UserID{msg.Event.Sender}
	}
	if _, err := br.Bot.SendMessage(ctx, msg.Portal.MXID, event.EventMessage, &event.Content{Parsed: content}, nil); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to send the file fallback notice")
	}
}

// formatDuration says a duration in words: "2 minutes", "90 seconds".
func formatDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	if d >= time.Minute && d%time.Minute == 0 {
		return plural(int64(d/time.Minute), "minute")
	}
	return plural(int64(d.Round(time.Second)/time.Second), "second")
}
