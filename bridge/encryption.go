package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"
	"maunium.net/go/mautrix/id"
)

// Encrypted rooms (end-to-bridge encryption, encryption.allow).
//
// A client that creates an encrypted DM and sends into it at once encrypts
// the first message before the bridge bot is in the room, so the bot never
// gets that message's key: bridgev2 retries for 25 s and then reports a
// generic decryption error. The bridge cannot get that key (the sender
// shares it only with devices in the room when the session starts), so it
// says at once that the message must be sent again. The new-DM catch-up
// (firstmessage.go) dispatches such early events through the same event
// processor, so they get the notice too.

const (
	// earlyKeyWait is how long the key of an encrypted event may take to
	// arrive (to-device messages can trail the event) before the bridge
	// looks at whether it was sent before the bot joined.
	earlyKeyWait = 2 * time.Second
	// botJoinWait bounds the wait for the bot to join the room of such an
	// event (bridgev2 may still be setting up the portal).
	botJoinWait = 30 * time.Second
	// earlyNoticesMax bounds the remembered event IDs already answered.
	earlyNoticesMax = 1000
)

// earlyMessageNotice tells the user why the bridge cannot read a message.
const earlyMessageNotice = "⚠️ This message was sent before the bridge joined this encrypted chat, so the bridge " +
	"never received the key to decrypt it and cannot bridge it. Please send it again: messages sent from now on are bridged."

// earlyNotices remembers the events already answered (an early event may
// come both from the homeserver and from the new-DM catch-up).
type earlyNotices struct {
	mu   sync.Mutex
	seen map[id.EventID]bool
}

// first reports whether evtID is seen for the first time.
func (n *earlyNotices) first(evtID id.EventID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen == nil || len(n.seen) >= earlyNoticesMax {
		n.seen = make(map[id.EventID]bool)
	}
	if n.seen[evtID] {
		return false
	}
	n.seen[evtID] = true
	return true
}

// watchEncryptedEvents hooks the early-message check in front of bridgev2's
// decryption (Init).
func (c *Connector) watchEncryptedEvents(br *bridgev2.Bridge) {
	mx, ok := br.Matrix.(*matrix.Connector)
	if !ok || mx.EventProcessor == nil {
		return
	}
	mx.EventProcessor.PrependHandler(event.EventEncrypted, func(ctx context.Context, evt *event.Event) {
		if mx.Crypto == nil || evt.Sender == br.Bot.GetMXID() || br.IsGhostMXID(evt.Sender) {
			return
		}
		if !c.early.first(evt.ID) {
			return
		}
		// bridgev2's handler runs next and may block the event queue for a
		// few seconds; the check must not add to that.
		log := zerolog.Ctx(ctx).With().Stringer("event_id", evt.ID).Stringer("room_id", evt.RoomID).
			Str("action", "early encrypted message check").Logger()
		go c.checkEarlyEncrypted(log.WithContext(c.backgroundCtx()), mx, evt)
	})
}

// checkEarlyEncrypted tells the user at once that a message must be sent
// again when its key never reached the bridge because it was sent before
// the bot joined the room.
func (c *Connector) checkEarlyEncrypted(ctx context.Context, mx *matrix.Connector, evt *event.Event) {
	log := zerolog.Ctx(ctx)
	content := evt.Content.AsEncrypted()
	if mx.Crypto.WaitForSession(ctx, evt.RoomID, content.SenderKey, content.SessionID, earlyKeyWait) {
		return // the key is here: bridgev2 decrypts it
	}
	joined, err := botJoinTime(ctx, mx.Bot.Client, evt.RoomID, mx.Bot.UserID)
	if err != nil {
		log.Warn().Err(err).Msg("Could not tell when the bot joined the room of an undecryptable message")
		return
	}
	if evt.Timestamp >= joined.UnixMilli() {
		return // sent while the bot was in the room: the key may still come
	}
	log.Info().Msg("Encrypted message was sent before the bot joined; asking the user to send it again")
	notice := format.RenderMarkdown(earlyMessageNotice, false, false)
	notice.MsgType = event.MsgNotice
	notice.SetReply(evt)
	if _, err := c.Bridge.Bot.SendMessage(ctx, evt.RoomID, event.EventMessage, &event.Content{Parsed: &notice}, nil); err != nil {
		log.Err(err).Msg("Failed to send the early encrypted message notice")
	}
}

// botJoinTime returns when the bot's current membership in room became a
// join, waiting up to botJoinWait for the bot to join (until then the
// homeserver refuses the bot the room's state).
func botJoinTime(ctx context.Context, cli *mautrix.Client, room id.RoomID, bot id.UserID) (time.Time, error) {
	deadline := time.Now().Add(botJoinWait)
	for {
		state, err := cli.State(ctx, room)
		if err == nil {
			if member := state[event.StateMember][bot.String()]; member != nil &&
				member.Content.AsMember().Membership == event.MembershipJoin {
				return time.UnixMilli(member.Timestamp), nil
			}
			err = errors.New("the bridge bot is not in the room")
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("wait for the bridge bot to join: %w", err)
		}
		if !sleepCtx(ctx, 500*time.Millisecond) {
			return time.Time{}, ctx.Err()
		}
	}
}

// encryptCommand lets a user turn on encryption in a portal: the event
// needs a power level only the bridge bot has in the portals it created,
// and bridgev2 ignores a user's own m.room.encryption.
func (c *Connector) encryptCommand() commands.CommandHandler {
	return &commands.FullHandler{
		Name: "encrypt",
		Help: commands.HelpMeta{Section: commands.HelpSectionChats,
			Description: "Turn on end-to-bridge encryption in this chat (it cannot be turned off again)"},
		RequiresPortal: true,
		RequiresLogin:  true,
		// Listed in help only when the bridge can encrypt.
		NetworkConnector: func(bridgev2.NetworkConnector) bool { return c.encryptionEnabled() },
		Func:             c.cmdEncrypt,
	}
}

// encryptionEnabled reports whether the bridge has end-to-bridge encryption
// (encryption.allow).
func (c *Connector) encryptionEnabled() bool {
	if c.Bridge == nil {
		return false
	}
	mx, ok := c.Bridge.Matrix.(*matrix.Connector)
	return ok && mx.Crypto != nil
}

func (c *Connector) cmdEncrypt(ce *commands.Event) {
	mx, ok := c.Bridge.Matrix.(*matrix.Connector)
	if !ok || mx.Crypto == nil {
		replyPlain(ce, "Encryption is not enabled on this bridge (encryption.allow is false in its config); ask the bridge's admin.")
		return
	}
	room := ce.Portal.MXID
	if encrypted, err := mx.StateStore.IsEncrypted(ce.Ctx, room); err != nil {
		replyPlain(ce, "Failed to check whether this room is encrypted: %v", err)
		return
	} else if encrypted {
		replyPlain(ce, "This room is already encrypted.")
		return
	}
	levels, err := c.Bridge.Matrix.GetPowerLevels(ce.Ctx, room)
	if err != nil {
		replyPlain(ce, "Failed to read this room's power levels: %v", err)
		return
	}
	if levels.GetUserLevel(c.Bridge.Bot.GetMXID()) < levels.GetEventLevel(event.StateEncryption) {
		replyPlain(ce, "The bridge bot may not turn on encryption in this room. Turn it on yourself in the room settings; the bridge follows.")
		return
	}
	content := &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}
	if _, err := c.Bridge.Bot.SendState(ce.Ctx, room, event.StateEncryption, "", &event.Content{Parsed: content}, time.Time{}); err != nil {
		replyPlain(ce, "Failed to turn on encryption: %v", err)
		return
	}
	// Encrypt the bridge's next messages without waiting for the event to
	// come back from the homeserver.
	if err := mx.StateStore.SetEncryptionEvent(ce.Ctx, room, content); err != nil {
		ce.Log.Err(err).Msg("Failed to store the room's new encryption state")
	}
	replyPlain(ce, "Encryption is on in this room: messages are now encrypted both ways. It cannot be turned off again.")
}
