package bridge

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// A Matrix client starts a DM by creating a room with the contact's ghost
// invited and sending the first message at once. bridgev2 makes the room a
// portal while it handles the invite; a message that reaches the bridge
// before that (or that the homeserver never sends to the appservice, as the
// ghost had not joined yet) finds no portal and is lost. So once the portal
// is set up from the invite, the bridge reads the room's events since its
// creation and bridges those it has not handled yet. Every Matrix message
// is claimed by event ID in HandleMatrixMessage, so an event that arrives
// both ways is sent once.

const (
	// catchUpRoomWait bounds the wait for bridgev2 to make the invited
	// room a portal.
	catchUpRoomWait = 2 * time.Minute
	// catchUpCleanupWait bounds the wait for an old DM room to be let go
	// (bridgev2 does that right after CreateChatWithGhost returns).
	catchUpCleanupWait = 30 * time.Second
	// catchUpMaxEvents bounds how far back the catch-up reads a new room.
	catchUpMaxEvents = 200
	// catchUpPage is the page size of the room history requests.
	catchUpPage = 50
	// handledEventsMax bounds the remembered Matrix event IDs.
	handledEventsMax = 10000
)

// handledEvents remembers the Matrix events the bridge started to handle,
// oldest forgotten first, so that no event is handled twice.
type handledEvents struct {
	mu    sync.Mutex
	ids   map[id.EventID]struct{}
	order []id.EventID
	max   int
}

func newHandledEvents(maxIDs int) *handledEvents {
	return &handledEvents{ids: make(map[id.EventID]struct{}), max: maxIDs}
}

// claim marks evtID handled; it reports false when it already was.
func (h *handledEvents) claim(evtID id.EventID) bool {
	if evtID == "" {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.ids[evtID]; ok {
		return false
	}
	h.ids[evtID] = struct{}{}
	h.order = append(h.order, evtID)
	if len(h.order) > h.max {
		drop := len(h.order) - h.max
		for _, old := range h.order[:drop] {
			delete(h.ids, old)
		}
		h.order = slices.Delete(h.order, 0, drop)
	}
	return true
}

// seen tells whether evtID was claimed.
func (h *handledEvents) seen(evtID id.EventID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.ids[evtID]
	return ok
}

// roomCatchUp reads a new portal room's history and hands the events the
// bridge has not handled to the normal Matrix event path.
type roomCatchUp struct {
	log zerolog.Logger
	// history returns the room's events, newest first, up to max.
	history func(ctx context.Context, room id.RoomID, max int) ([]*event.Event, error)
	// handled tells whether the bridge handled the event already.
	handled func(ctx context.Context, evt *event.Event) bool
	// dispatch hands an event to the bridge as if the homeserver sent it.
	dispatch func(ctx context.Context, evt *event.Event)
	// ownUser tells whether a Matrix user is one of the bridge's (bot,
	// ghosts), whose events are never bridged back.
	ownUser func(userID id.UserID) bool
}

// run bridges the room's user messages that were not handled; it returns
// how many it dispatched.
func (c *roomCatchUp) run(ctx context.Context, room id.RoomID) (int, error) {
	evts, err := c.history(ctx, room, catchUpMaxEvents)
	if err != nil {
		return 0, err
	}
	slices.Reverse(evts) // oldest first, the order they were sent in
	reported := c.reportedEvents(evts)
	n := 0
	for _, evt := range evts {
		switch evt.Type.Type {
		case event.EventMessage.Type, event.EventSticker.Type, event.EventEncrypted.Type:
		default:
			continue
		}
		if c.ownUser(evt.Sender) || reported[evt.ID] || c.handled(ctx, evt) {
			continue
		}
		c.log.Info().Stringer("event_id", evt.ID).Stringer("room_id", room).
			Msg("Bridging a message sent before the room was a portal")
		c.dispatch(ctx, evt)
		n++
	}
	return n, nil
}

// reportedEvents finds the events the bridge already reported on with a
// message status in the room: delivered, or failed for a reason of their
// own (e.g. undecryptable). Those are not handled again, so the user does
// not get a second report. The generic "not handled" failure is what an
// event that arrived before the portal existed got: those are bridged.
func (c *roomCatchUp) reportedEvents(evts []*event.Event) map[id.EventID]bool {
	reported := make(map[id.EventID]bool)
	for _, evt := range evts {
		if evt.Type.Type != event.BeeperMessageStatus.Type || !c.ownUser(evt.Sender) {
			continue
		}
		st, ok := evt.Content.Parsed.(*event.BeeperMessageStatusEventContent)
		if !ok || st.RelatesTo.EventID == "" {
			continue
		}
		if st.Status == event.MessageStatusSuccess || st.Reason != event.MessageStatusGenericError {
			reported[st.RelatesTo.EventID] = true
		}
	}
	return reported
}

// catchUpNewDM waits for bridgev2 to make the room that invited the ghost
// the portal's room, then bridges the messages sent in it before that. It
// is called from CreateChatWithGhost, before bridgev2 lets go of an old
// room of the portal and sets the new one.
func (m *MSNClient) catchUpNewDM(ctx context.Context, portal *bridgev2.Portal, ghost *bridgev2.Ghost) {
	if m.connector.Bridge == nil {
		return
	}
	mx, ok := m.connector.Bridge.Matrix.(*matrix.Connector)
	if !ok {
		return
	}
	oldRoom := portal.MXID // read on the invite's goroutine, before bridgev2 changes it
	log := m.log.With().Str("action", "new dm catch-up").Str("portal_id", string(portal.ID)).Logger()
	ctx = log.WithContext(ctx)
	c := &roomCatchUp{
		log: log,
		history: func(ctx context.Context, room id.RoomID, max int) ([]*event.Event, error) {
			return roomHistory(ctx, ghost, room, max)
		},
		handled:  m.connector.eventHandled,
		dispatch: mx.EventProcessor.Dispatch,
		ownUser: func(userID id.UserID) bool {
			return userID == m.connector.Bridge.Bot.GetMXID() || m.connector.Bridge.IsGhostMXID(userID)
		},
	}
	go func() {
		room, ok := waitNewRoom(ctx, portal, oldRoom)
		if !ok {
			log.Debug().Msg("Invited room did not become the portal; nothing to catch up")
			return
		}
		n, err := c.run(ctx, room)
		if err != nil {
			log.Err(err).Stringer("room_id", room).Msg("Failed to read the new DM's first messages")
			return
		}
		log.Debug().Stringer("room_id", room).Int("dispatched", n).Msg("New DM caught up")
	}()
}

// waitNewRoom waits until the portal has a room other than oldRoom and
// returns it.
func waitNewRoom(ctx context.Context, portal *bridgev2.Portal, oldRoom id.RoomID) (id.RoomID, bool) {
	if oldRoom != "" {
		// bridgev2 lets the old room go when the user left it; otherwise it
		// refuses the invite and the portal keeps its room.
		deadline := time.Now().Add(catchUpCleanupWait)
		for portal.RoomCreated.IsSet() {
			if time.Now().After(deadline) || !sleepCtx(ctx, 100*time.Millisecond) {
				return "", false
			}
		}
	}
	timer := time.NewTimer(catchUpRoomWait)
	defer timer.Stop()
	select {
	case <-portal.RoomCreated.GetChan():
	case <-timer.C:
		return "", false
	case <-ctx.Done():
		return "", false
	}
	// MXID is written before RoomCreated is set.
	room := portal.MXID
	return room, room != "" && room != oldRoom
}

// roomHistory reads a room's events as the ghost (in the room since the
// invite), newest first, until the room's creation or max events.
func roomHistory(ctx context.Context, ghost *bridgev2.Ghost, room id.RoomID, max int) ([]*event.Event, error) {
	intent, ok := ghost.Intent.(*matrix.ASIntent)
	if !ok {
		return nil, errors.New("ghost intent is not an appservice intent")
	}
	var out []*event.Event
	from := ""
	for len(out) < max {
		resp, err := intent.Matrix.Messages(ctx, room, from, "", mautrix.DirectionBackward, nil, catchUpPage)
		if err != nil {
			return out, err
		}
		for _, evt := range resp.Chunk {
			prepareHistoryEvent(ctx, room, evt)
			out = append(out, evt)
			if evt.Type == event.StateCreate {
				return out, nil
			}
		}
		if len(resp.Chunk) == 0 || resp.End == "" || resp.End == from {
			return out, nil
		}
		from = resp.End
	}
	return out, nil
}

// prepareHistoryEvent fills what the appservice transaction handler fills
// in events it receives, so the event takes the same path.
func prepareHistoryEvent(ctx context.Context, room id.RoomID, evt *event.Event) {
	evt.RoomID = room
	evt.Mautrix.ReceivedAt = time.Now()
	if evt.StateKey != nil {
		evt.Mautrix.EventSource = event.SourceTimeline & event.SourceJoin
		evt.Type.Class = event.StateEventType
	} else {
		evt.Mautrix.EventSource = event.SourceTimeline
		evt.Type.Class = event.MessageEventType
	}
	if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrUnsupportedContentType) {
		zerolog.Ctx(ctx).Debug().Err(err).Stringer("event_id", evt.ID).Msg("Failed to parse event content")
	}
}

// eventHandled tells whether a Matrix event was handled: claimed since the
// bridge started, or stored as a bridged message.
func (c *Connector) eventHandled(ctx context.Context, evt *event.Event) bool {
	if c.handledEvents().seen(evt.ID) {
		return true
	}
	if c.Bridge == nil {
		return false
	}
	part, err := c.Bridge.DB.Message.GetPartByMXID(ctx, evt.ID)
	return err == nil && part != nil
}

// claimMatrixEvent marks a Matrix message handled; false means it was
// already (it came both from the homeserver and from a catch-up).
func (c *Connector) claimMatrixEvent(evtID id.EventID) bool {
	return c.handledEvents().claim(evtID)
}

// handledEvents returns the connector's record of handled Matrix events.
func (c *Connector) handledEvents() *handledEvents {
	c.handledOnce.Do(func() { c.handled = newHandledEvents(handledEventsMax) })
	return c.handled
}
