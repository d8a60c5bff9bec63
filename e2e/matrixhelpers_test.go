package e2e

import (
	"context"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
)

// waitGhostText waits (after cursor) for a message from ghost whose body
// contains text, in room (any room if empty).
func (e *env) waitGhostText(cursor int, ghost id.UserID, room id.RoomID, text string) (stack.SeenEvent, error) {
	evt, err := e.user.WaitEventAfter(e.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		if evt.Sender != ghost || evt.Type != event.EventMessage || (room != "" && evt.RoomID != room) {
			return false
		}
		return strings.Contains(evt.Content.AsMessage().Body, text)
	})
	if err != nil {
		return evt, fmt.Errorf("message %q from %s: %w", text, ghost, err)
	}
	return evt, nil
}

// sendHTML sends a formatted message and returns its event ID.
func (e *env) sendHTML(room id.RoomID, body, html string) (id.EventID, error) {
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: body}
	if html != "" {
		content.Format = event.FormatHTML
		content.FormattedBody = html
	}
	resp, err := e.user.SendMessageEvent(e.ctx, room, event.EventMessage, content)
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", room, err)
	}
	return resp.EventID, nil
}

// waitFailure waits for the bridge to report that the Matrix event evtID
// was not delivered: a failed com.beeper.message_send_status event or an
// error notice from the bot in the room. It returns what the user is told.
func (e *env) waitFailure(cursor int, room id.RoomID, evtID id.EventID) (string, error) {
	evt, err := e.user.WaitEventAfter(e.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		if evt.RoomID != room {
			return false
		}
		switch evt.Type {
		case event.BeeperMessageStatus:
			st, ok := evt.Content.Parsed.(*event.BeeperMessageStatusEventContent)
			return ok && st.RelatesTo.EventID == evtID &&
				(st.Status == event.MessageStatusFail || st.Status == event.MessageStatusRetriable)
		case event.EventMessage:
			msg := evt.Content.AsMessage()
			return evt.Sender == e.bot && msg.MsgType == event.MsgNotice &&
				msg.RelatesTo != nil && msg.RelatesTo.GetReplyTo() == evtID
		}
		return false
	})
	if err != nil {
		return "", fmt.Errorf("no failure reported for %s: %w", evtID, err)
	}
	if st, ok := evt.Content.Parsed.(*event.BeeperMessageStatusEventContent); ok {
		return fmt.Sprintf("%s: %s %s", st.Status, st.Reason, st.Message), nil
	}
	return evt.Content.AsMessage().Body, nil
}

// waitSuccess waits for the bridge's success status for evtID.
func (e *env) waitSuccess(cursor int, room id.RoomID, evtID id.EventID) error {
	_, err := e.user.WaitEventAfter(e.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		st, ok := evt.Content.Parsed.(*event.BeeperMessageStatusEventContent)
		return ok && evt.RoomID == room && st.RelatesTo.EventID == evtID && st.Status == event.MessageStatusSuccess
	})
	if err != nil {
		return fmt.Errorf("no success status for %s: %w", evtID, err)
	}
	return nil
}

// joinedRooms lists the user's rooms.
func (e *env) joinedRooms() (map[id.RoomID]bool, error) {
	resp, err := e.user.JoinedRooms(e.ctx)
	if err != nil {
		return nil, fmt.Errorf("joined rooms: %w", err)
	}
	rooms := make(map[id.RoomID]bool, len(resp.JoinedRooms))
	for _, r := range resp.JoinedRooms {
		rooms[r] = true
	}
	return rooms, nil
}

// eventually polls check every 200ms until it returns nil or timeout
// passes; used only for state that has no event to wait for (presence,
// server-side session state).
func eventually(ctx context.Context, timeout time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", timeout, err)
		case <-tick.C:
		}
	}
}

// ghostPresence reads a ghost's presence as the user sees it.
func (e *env) ghostPresence(ghost id.UserID) (event.Presence, error) {
	resp, err := e.user.GetPresence(e.ctx, ghost)
	if err != nil {
		return "", fmt.Errorf("presence of %s: %w", ghost, err)
	}
	return resp.Presence, nil
}

// spaceRoom returns the personal space the bridge made for the user.
func (e *env) spaceRoom() (id.RoomID, error) {
	var spaces []id.RoomID
	children := make(map[id.RoomID]bool) // contact group spaces have a parent
	for _, evt := range e.user.Events() {
		if evt.Type == event.StateCreate && evt.Content.Raw["type"] == "m.space" {
			spaces = append(spaces, evt.RoomID)
		}
		if evt.Type == event.StateSpaceParent {
			children[evt.RoomID] = true
		}
	}
	for _, s := range spaces {
		if !children[s] {
			return s, nil
		}
	}
	return "", fmt.Errorf("no space room seen")
}
