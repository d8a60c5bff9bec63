package bridge

import (
	"bytes"
	"context"
	"strings"
	"unicode/utf8"

	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// datacastAction is the datacast id of WLM 2009's action messages
// ("/me"-style text).
const datacastAction = 4

// maxActionRunes bounds the text of an action message shown in Matrix.
const maxActionRunes = 1000

// handleDatacast shows a datacast: an action message as an emote with its
// text, a wink or voice clip with its object (rich.go), anything else as
// a notice naming it.
func (m *MSNClient) handleDatacast(ctx context.Context, evt *msnclient.Datacast) {
	if evt.ID == datacastAction {
		if text := actionText(evt.Data); text != "" {
			pk, err := m.conversationPortal(ctx, evt.ConversationEvent, evt.From)
			if err != nil {
				m.log.Err(err).Msg("Dropping action message without a portal")
				return
			}
			m.queueLocalMessage(pk, evt.From, false, &event.MessageEventContent{MsgType: event.MsgEmote, Body: text})
			return
		}
	}
	if evt.ID == msnclient.DatacastWink || evt.ID == msnclient.DatacastVoiceClip {
		m.handleRichDatacast(ctx, evt, m.fetchFromSession)
		return
	}
	m.handleNotice(ctx, evt.ConversationEvent, evt.From, datacastText(evt.ID))
}

// actionText is the Data field of an action message's body, as valid
// UTF-8 on one line, at most maxActionRunes long; "" when there is none.
func actionText(body []byte) string {
	for _, line := range bytes.Split(body, []byte("\n")) {
		name, value, ok := bytes.Cut(bytes.TrimRight(line, "\r"), []byte(":"))
		if !ok || !strings.EqualFold(string(bytes.TrimSpace(name)), "Data") {
			continue
		}
		text := strings.TrimSpace(strings.ToValidUTF8(string(value), "\uFFFD"))
		if utf8.RuneCountInString(text) > maxActionRunes {
			text = string([]rune(text)[:maxActionRunes]) + "…"
		}
		return text
	}
	return ""
}
