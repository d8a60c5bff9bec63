package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// This file bridges WLM's rich content that comes as a datacast naming an
// MSN object: winks and voice clips. The object is fetched from the sender
// over P2P in the background (as an MSN client shows a wink once it has
// loaded), then posted; a fetch that fails leaves a notice naming what was
// sent, never nothing.

// richFetchTimeout bounds the fetch of one wink or voice clip.
const richFetchTimeout = 90 * time.Second

// fetchObjectFunc fetches a datacast's object from its sender.
type fetchObjectFunc func(ctx context.Context, from string, obj *msnclient.DatacastObject) ([]byte, error)

// richAttachment is a file to post with a rich message.
type richAttachment struct {
	partID     networkid.PartID
	msgType    event.MessageType
	name, mime string
	data       []byte
	width      int
	height     int
	durationMS int
}

// richMessage is what a wink, voice clip or ink becomes in Matrix: an
// optional emote ("sent a wink") and attachments.
type richMessage struct {
	emote string
	files []richAttachment
	// uploadFailed is the emote posted in place of the attachments when
	// they cannot be uploaded.
	uploadFailed string
}

// fetchFromSession fetches a datacast object with the current session's
// client.
func (m *MSNClient) fetchFromSession(ctx context.Context, from string, obj *msnclient.DatacastObject) ([]byte, error) {
	cl, err := m.client()
	if err != nil {
		return nil, err
	}
	return cl.FetchDatacastObject(ctx, from, obj)
}

// handleRichDatacast handles a wink or voice clip: the object is fetched
// in the background (tied to the session, so logout waits for it) and the
// result posted with the time the datacast arrived.
func (m *MSNClient) handleRichDatacast(ctx context.Context, evt *msnclient.Datacast, fetch fetchObjectFunc) {
	pk, err := m.conversationPortal(ctx, evt.ConversationEvent, evt.From)
	if err != nil {
		m.log.Err(err).Str("from", evt.From).Msg("Dropping wink or voice clip without a portal")
		return
	}
	received := time.Now()
	if normalizeEmail(evt.From) == normalizeEmail(m.meta.Email) {
		// Sent from another client of ours: its objects are not ours to
		// fetch over P2P (we do not talk P2P to ourselves).
		m.queueRich(pk, evt.From, received, &richMessage{emote: richWhat(evt.ID) + " from another MSN client"})
		return
	}
	obj, err := evt.Object()
	if err != nil {
		m.log.Warn().Err(err).Str("from", evt.From).Int("datacast", evt.ID).Msg("Datacast without a usable MSN object")
		m.queueRich(pk, evt.From, received, richFailed(evt.ID, "it named no valid MSN object"))
		return
	}
	m.bg.Go(func() {
		fctx, cancel := context.WithTimeout(ctx, richFetchTimeout)
		defer cancel()
		data, err := fetch(fctx, evt.From, obj)
		if err != nil {
			m.log.Warn().Err(err).Str("from", evt.From).Int("datacast", evt.ID).Msg("Failed to fetch wink or voice clip")
			m.queueRich(pk, evt.From, received, richFailed(evt.ID, richFailureReason(err)))
			return
		}
		var msg *richMessage
		if evt.ID == msnclient.DatacastWink {
			msg = winkMessage(obj.Name, data)
		} else {
			msg = voiceClipMessage(data)
		}
		m.queueRich(pk, evt.From, received, msg)
	})
}

// richWhat names what a wink or voice clip datacast sent.
func richWhat(datacastID int) string {
	if datacastID == msnclient.DatacastVoiceClip {
		return "sent a voice clip"
	}
	return "sent a wink"
}

// richFailed is the emote of a wink or voice clip that did not arrive.
func richFailed(datacastID int, reason string) *richMessage {
	return &richMessage{emote: richWhat(datacastID) + ", which could not be received: " + reason}
}

// richFailureReason says in plain words why an object did not arrive.
func richFailureReason(err error) string {
	switch {
	case errors.Is(err, p2p.ErrDeclined):
		return "the sender's client refused to send it"
	case errors.Is(err, p2p.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "the sender's client did not send it in time"
	case errors.Is(err, p2p.ErrTooLarge):
		return "it is larger than the bridge accepts"
	case errors.Is(err, msnclient.ErrNotConnected):
		return "the connection to MSN was lost"
	case errors.Is(err, p2p.ErrClosed), errors.Is(err, p2p.ErrPeerError):
		return "the sender's client cancelled the transfer"
	}
	return "the transfer failed"
}

// queueRich queues a rich message from an MSN contact into a portal.
func (m *MSNClient) queueRich(pk networkid.PortalKey, from string, ts time.Time, msg *richMessage) {
	m.queueRemote(&simplevent.Message[*richMessage]{
		EventMeta: simplevent.EventMeta{
			Type:         bridgev2.RemoteEventMessage,
			LogContext:   m.logContext(from),
			PortalKey:    pk,
			Sender:       m.sender(from, false),
			CreatePortal: true,
			Timestamp:    ts,
		},
		Data:               msg,
		ID:                 m.msgIDs.New(),
		ConvertMessageFunc: convertRich,
	})
}

// convertRich uploads a rich message's attachments and makes its parts:
// the emote first, then each file. Files that cannot be uploaded are
// replaced by one emote saying so.
func convertRich(ctx context.Context, portal *bridgev2.Portal, intent bridgev2.MatrixAPI, msg *richMessage) (*bridgev2.ConvertedMessage, error) {
	cm := &bridgev2.ConvertedMessage{}
	if msg.emote != "" {
		cm.Parts = append(cm.Parts, &bridgev2.ConvertedMessagePart{
			Type:    event.EventMessage,
			Content: &event.MessageEventContent{MsgType: event.MsgEmote, Body: msg.emote},
		})
	}
	failed := false
	for _, f := range msg.files {
		content, err := uploadAttachment(ctx, portal, intent, f)
		if err != nil {
			zerolog.Ctx(ctx).Err(err).Str("file", f.name).Msg("Failed to upload MSN attachment")
			failed = true
			continue
		}
		cm.Parts = append(cm.Parts, &bridgev2.ConvertedMessagePart{ID: f.partID, Type: event.EventMessage, Content: content})
	}
	if failed && msg.uploadFailed != "" {
		cm.Parts = append(cm.Parts, &bridgev2.ConvertedMessagePart{
			ID:      "upload-failed",
			Type:    event.EventMessage,
			Content: &event.MessageEventContent{MsgType: event.MsgEmote, Body: msg.uploadFailed},
		})
	}
	if len(cm.Parts) == 0 {
		return nil, fmt.Errorf("%w: nothing to show", bridgev2.ErrIgnoringRemoteEvent)
	}
	// The first part is the message's own (empty part id).
	cm.Parts[0].ID = ""
	return cm, nil
}

// uploadAttachment uploads one attachment (encrypted in encrypted rooms)
// and returns its message content.
func uploadAttachment(ctx context.Context, portal *bridgev2.Portal, intent bridgev2.MatrixAPI, f richAttachment) (*event.MessageEventContent, error) {
	content := &event.MessageEventContent{
		MsgType:  f.msgType,
		Body:     f.name,
		FileName: f.name,
		Info:     &event.FileInfo{MimeType: f.mime, Size: len(f.data), Width: f.width, Height: f.height, Duration: f.durationMS},
	}
	var err error
	content.URL, content.File, err = intent.UploadMediaStream(ctx, portal.MXID, int64(len(f.data)), false, func(w io.Writer) (*bridgev2.FileStreamResult, error) {
		if _, err := io.Copy(w, bytes.NewReader(f.data)); err != nil {
			return nil, fmt.Errorf("copy %s: %w", f.name, err)
		}
		return &bridgev2.FileStreamResult{FileName: f.name, MimeType: f.mime}, nil
	})
	if err != nil {
		return nil, err
	}
	return content, nil
}

// silentContentTypes are switchboard messages that carry nothing for the
// user: protocol signalling and data other parts of the bridge use.
var silentContentTypes = map[string]bool{
	"application/x-msnmsgrp2p": true, // P2P transport
	"text/x-msmsgscontrol":     true, // typing
	"text/x-clientcaps":        true, // third-party client identification
	"text/x-keepalive":         true,
	"text/x-mms-emoticon":      true, // custom emoticon definitions, shown with their message
	"text/x-mms-animemoticon":  true,
}

// unknownContentNotice is the emote shown for a message of a content type
// the bridge does not know, naming the type so that the user knows
// something was sent; signalling types show nothing.
func unknownContentNotice(contentType string) (string, bool) {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	if ct == "" || silentContentTypes[ct] {
		return "", false
	}
	if ct == "text/x-msnmsgr-datacast" {
		return "sent something the bridge cannot show (a malformed MSN datacast)", true
	}
	return "sent a message the bridge cannot show (" + cleanLine(truncateRunes(ct, 64)) + ")", true
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
