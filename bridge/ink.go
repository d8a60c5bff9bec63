package bridge

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/gif"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// maxInkPixels bounds the picture of a handwritten message (WLM's ink
// pad is some 400 by 150 pixels).
const maxInkPixels = 4096 * 4096

// handleInk bridges a handwritten message: a GIF drawing becomes an
// m.image, ISF strokes (which nothing on Matrix draws) and drawings that
// could not be read become an emote saying what was sent.
func (m *MSNClient) handleInk(ctx context.Context, evt *msnclient.Ink) {
	pk, err := m.conversationPortal(ctx, evt.ConversationEvent, evt.From)
	if err != nil {
		m.log.Err(err).Str("from", evt.From).Msg("Dropping handwritten message without a portal")
		return
	}
	if evt.Err != nil {
		m.log.Warn().Err(evt.Err).Str("from", evt.From).Msg("Handwritten message could not be decoded")
	}
	m.queueRich(pk, evt.From, time.Now(), inkMessage(evt))
}

// inkMessage is what an ink event shows.
func inkMessage(evt *msnclient.Ink) *richMessage {
	switch {
	case errors.Is(evt.Err, msnclient.ErrInkTooLarge):
		return &richMessage{emote: "sent a handwritten message that was too large to receive"}
	case evt.Err != nil || len(evt.Data) == 0:
		return &richMessage{emote: "sent a handwritten message that could not be read"}
	case evt.ContentType == msnclient.InkISF:
		return &richMessage{emote: "sent a handwritten message, which Matrix cannot show"}
	}
	// Decoded whole, so that only a real GIF is posted; the size is checked
	// first so that a hostile header cannot make the decoder allocate much.
	cfg, format, err := image.DecodeConfig(bytes.NewReader(evt.Data))
	if err == nil && (format != "gif" || cfg.Width*cfg.Height > maxInkPixels) {
		err = errors.New("not a GIF of ink size")
	}
	if err == nil {
		_, err = gif.Decode(bytes.NewReader(evt.Data))
	}
	if err != nil {
		return &richMessage{emote: "sent a handwritten message that could not be read"}
	}
	return &richMessage{
		files: []richAttachment{{partID: "ink", msgType: event.MsgImage, name: "Handwritten message.gif", mime: "image/gif",
			data: evt.Data, width: cfg.Width, height: cfg.Height}},
		uploadFailed: "sent a handwritten message, which the bridge could not upload to Matrix",
	}
}
