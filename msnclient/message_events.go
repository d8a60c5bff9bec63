package msnclient

import (
	"strconv"
	"strings"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Datacast ids.
const (
	datacastNudge = 1
)

// handleMessage turns a relayed MSG (MSG email name len) into an event.
// Chunked messages are passed on once whole.
func (sb *sbConn) handleMessage(cmd *msnp.Command) {
	from, _ := splitEndpoint(cmd.Arg(0))
	payload := sb.chunks.add(from, cmd.Payload)
	if payload == nil {
		return
	}
	if isP2PPayload(payload) {
		sb.s.c.handleP2P(sb, from, payload)
		return
	}
	if isLegacyInvite(payload) {
		sb.s.c.handleLegacyInvite(sb, from, payload)
		return
	}
	if sb.handleEmoticonPayload(from, payload) {
		return
	}
	evt := messageEvent(from, msnp.DecodeParam(cmd.Arg(1)), from == sb.self, payload)
	if evt == nil {
		return
	}
	parts := sb.members()
	switch e := evt.(type) {
	case *MessageReceived:
		e.Participants = parts
		e.Emoticons = sb.emoticons.take(from, e.Message.Text)
	case *Typing:
		e.Participants = parts
	case *Nudge:
		e.Participants = parts
	case *Datacast:
		e.Participants = parts
	case *UnknownMessage:
		e.Participants = parts
	case *Ink:
		e.Participants = parts
	}
	sb.s.c.emit(evt)
}

// reportIncomplete emits a chunked message that could not be reassembled.
func (sb *sbConn) reportIncomplete(evt *UnknownMessage) {
	sb.mu.Lock()
	evt.Participants = sb.membersLocked()
	if len(sb.participants) == 0 {
		evt.Participants = append([]string(nil), sb.lastParts...)
	}
	sb.mu.Unlock()
	sb.log.Debug().Err(evt.Err).Str("from", evt.From).Msg("Dropping chunked message")
	sb.s.c.emit(evt)
}

// messageEvent decodes a message payload into one of the conversation
// events (without participants), or nil for messages that carry nothing to
// report (typing notifications from ourselves).
func messageEvent(from, fromName string, fromSelf bool, payload []byte) any {
	m := parseMessage(payload)
	ct := m.ContentType()
	switch ct {
	case ctText:
		return &MessageReceived{
			From:     from,
			FromName: fromName,
			FromSelf: fromSelf,
			Message:  TextMessage{Text: m.Text(), Format: parseFormat(m.Get("X-MMS-IM-Format"))},
			Time:     time.Now(),
		}
	case ctControl:
		if fromSelf {
			return nil
		}
		// The relaying server vouches for the sender; TypingUser is not
		// trusted.
		return &Typing{From: from}
	case ctDatacast:
		id, err := strconv.Atoi(strings.TrimSpace(m.bodyFields().Get("ID")))
		if err != nil {
			return &UnknownMessage{From: from, ContentType: ct, Raw: payload}
		}
		if id == datacastNudge {
			return &Nudge{From: from, FromSelf: fromSelf}
		}
		return &Datacast{From: from, ID: id, Data: m.Body}
	}
	if isInkType(ct) {
		return inkEvent(from, ct, m.Body)
	}
	return &UnknownMessage{From: from, ContentType: ct, Raw: payload}
}
