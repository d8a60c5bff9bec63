package bridge

import (
	"context"
	"fmt"
	"slices"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/event"
)

// The chat management interfaces bridgev2 offers commands and Beeper events
// for. Without them bridgev2 v0.32's mute, delete-chat and block-user
// commands dereference a nil API and panic.
var (
	_ bridgev2.MuteHandlingNetworkAPI       = (*MSNClient)(nil)
	_ bridgev2.DeleteChatHandlingNetworkAPI = (*MSNClient)(nil)
	_ bridgev2.UserBlockingNetworkAPI       = (*MSNClient)(nil)
)

// HandleMute implements bridgev2.MuteHandlingNetworkAPI. MSN has no mute:
// muting is the user's own Matrix notification setting, which the client
// already changed when this is called for a com.beeper.mute event. The
// mute command (cmdMute) changes it through the user's double puppet.
func (m *MSNClient) HandleMute(ctx context.Context, msg *bridgev2.MatrixMute) error {
	m.log.Debug().Str("portal_id", string(msg.Portal.ID)).Int64("muted_until", msg.Content.MutedUntil).
		Msg("Chat muted on Matrix; MSN has no mute")
	return nil
}

// HandleMatrixBlockUser implements bridgev2.UserBlockingNetworkAPI: it
// blocks or unblocks the contact of a DM portal on MSN (block list).
func (m *MSNClient) HandleMatrixBlockUser(ctx context.Context, msg *bridgev2.MatrixBlockUser) error {
	contact, ok := dmContact(msg.Portal.ID)
	if !ok || msg.Portal.RoomType != database.RoomTypeDM {
		return fmt.Errorf("only a chat with one contact can be blocked")
	}
	cl, err := m.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	if msg.Content.Block {
		err = cl.BlockContact(ctx, contact)
	} else {
		err = cl.UnblockContact(ctx, contact)
	}
	if err != nil {
		return fmt.Errorf("block %s on MSN: %w", contact, err)
	}
	return nil
}

// HandleMatrixDeleteChat implements bridgev2.DeleteChatHandlingNetworkAPI.
// An MSN conversation lives only as long as its switchboard: deleting the
// chat leaves the switchboard and forgets which group portal this set of
// people had, so a new conversation opens a new room. bridgev2 deletes the
// portal and its room after this returns (for a com.beeper.delete_chat
// event); the delete-chat command does it itself (cmdDeleteChat).
func (m *MSNClient) HandleMatrixDeleteChat(ctx context.Context, msg *bridgev2.MatrixDeleteChat) error {
	pk := msg.Portal.PortalKey
	if id, ok := circleOfPortal(pk.ID); ok {
		return fmt.Errorf("this is the MSN group %s: leave it with leave-circle, which also removes its room", id)
	}
	var parts []string
	if contact, ok := dmContact(pk.ID); ok {
		parts = []string{contact}
	} else {
		parts, _ = m.convs.participantsOf(pk)
		m.convs.removePortal(pk)
		if err := m.connector.DB.GroupPortal.Delete(ctx, string(m.login.ID), string(pk.ID)); err != nil {
			return fmt.Errorf("forget group conversation: %w", err)
		}
	}
	if cl, err := m.client(); err == nil && len(parts) > 0 {
		_ = cl.Conversation(parts...).Leave()
	}
	return nil
}

// chatCommandHandlers replace bridgev2's mute, delete-chat and block-user
// commands with ones that say in words what happened on MSN and on Matrix.
func (c *Connector) chatCommandHandlers() []commands.CommandHandler {
	return []commands.CommandHandler{
		&commands.FullHandler{
			Name:    "mute",
			Aliases: []string{"unmute"},
			Help: commands.HelpMeta{Section: commands.HelpSectionChats,
				Description: "Mute (or unmute) this chat's notifications on Matrix (MSN itself has no mute)"},
			RequiresPortal: true,
			RequiresLogin:  true,
			Func:           c.cmdMute,
		},
		&commands.FullHandler{
			Name: "delete-chat",
			Help: commands.HelpMeta{Section: commands.HelpSectionChats,
				Description: "Leave this MSN conversation and delete its Matrix room (a new message opens a new room)"},
			RequiresPortal: true,
			RequiresLogin:  true,
			Func:           c.cmdDeleteChat,
		},
		&commands.FullHandler{
			Name:    "block-user",
			Aliases: []string{"unblock-user"},
			Help: commands.HelpMeta{Section: commands.HelpSectionChats,
				Description: "Block (or unblock) the contact of this chat on MSN"},
			RequiresPortal: true,
			RequiresLogin:  true,
			Func:           c.cmdBlockUser,
		},
	}
}

// portalClient returns the MSN client of the login a portal belongs to, or
// replies why there is none.
func portalClient(ce *commands.Event) (*MSNClient, bool) {
	m, ok := commandLogin(ce)
	if !ok {
		return nil, false
	}
	if ce.Portal.Receiver != "" && ce.Portal.Receiver != m.login.ID {
		replyPlain(ce, "This chat belongs to another of your MSN logins.")
		return nil, false
	}
	return m, true
}

func (c *Connector) cmdMute(ce *commands.Event) {
	if _, ok := portalClient(ce); !ok {
		return
	}
	mute := ce.Command == "mute"
	if mute && len(ce.Args) > 0 {
		replyPlain(ce, "Usage: mute (until you unmute; timed mutes are not supported)")
		return
	}
	dp := ce.User.DoublePuppet(ce.Ctx)
	if dp == nil {
		replyPlain(ce, "MSN has no mute, and the bridge can only change your Matrix notification settings "+
			"with double puppeting, which is not set up for you. Mute this room in your Matrix client instead "+
			"(in Element: room options, Notifications, Mute).")
		return
	}
	until := event.MutedForever
	if !mute {
		until = time.Time{}
	}
	if err := dp.MuteRoom(ce.Ctx, ce.Portal.MXID, until); err != nil {
		replyPlain(ce, "Failed to change your notification settings for this room: %v", err)
		return
	}
	if mute {
		replyPlain(ce, "Muted: this room no longer notifies you. MSN has no mute, so %s is not told and messages still arrive here. Use unmute to undo.",
			portalDisplayName(ce.Portal))
	} else {
		replyPlain(ce, "Unmuted: this room notifies you again.")
	}
}

func (c *Connector) cmdBlockUser(ce *commands.Event) {
	m, ok := portalClient(ce)
	if !ok {
		return
	}
	contact, isDM := dmContact(ce.Portal.ID)
	if !isDM || ce.Portal.RoomType != database.RoomTypeDM {
		replyPlain(ce, "This is a group chat: use block-user in a chat with one contact, or block <email>.")
		return
	}
	block := ce.Command != "unblock-user" && !slices.Contains(ce.Args, "--unblock")
	if slices.Contains(ce.Args, "--report-spam") {
		replyPlain(ce, "MSN has no spam reports; the contact is only blocked.")
	}
	err := m.HandleMatrixBlockUser(ce.Ctx, &bridgev2.MatrixBlockUser{
		Content: &event.BeeperBlockUserEventContent{Block: block},
		Portal:  ce.Portal,
	})
	if err != nil {
		what := "block"
		if !block {
			what = "unblock"
		}
		replyPlain(ce, "Failed to %s %s: %s", what, contact, describeCommandError(err))
		return
	}
	if ce.Portal.UserBlocked != block {
		ce.Portal.UserBlocked = block
		ce.Portal.UpdateBridgeInfo(ce.Ctx)
		if err := ce.Portal.Save(ce.Ctx); err != nil {
			ce.Log.Err(err).Msg("Failed to save portal after blocking")
		}
	}
	if block {
		replyPlain(ce, "Blocked %s on MSN: they can no longer message you or see your status. Use unblock-user to undo.", contact)
	} else {
		replyPlain(ce, "Unblocked %s on MSN.", contact)
	}
}

func (c *Connector) cmdDeleteChat(ce *commands.Event) {
	m, ok := portalClient(ce)
	if !ok {
		return
	}
	portal := ce.Portal
	err := m.HandleMatrixDeleteChat(ce.Ctx, &bridgev2.MatrixDeleteChat{
		Content: &event.BeeperChatDeleteEventContent{},
		Portal:  portal,
	})
	if err != nil {
		replyPlain(ce, "Failed to delete this chat: %v", err)
		return
	}
	replyPlain(ce, "Left the MSN conversation with %s; deleting this room. A new message from them opens a new room.",
		portalDisplayName(portal))
	ce.MessageStatus.DisableMSS = true
	// The room goes away with the portal: do the Matrix side in the
	// background context, as bridgev2 does for delete events.
	ctx := ce.Log.WithContext(c.backgroundCtx())
	mxid := portal.MXID
	if err := portal.Delete(ctx); err != nil {
		ce.Log.Err(err).Msg("Failed to delete portal")
		replyPlain(ce, "Failed to forget this chat: %v", err)
		return
	}
	if err := c.Bridge.Bot.DeleteRoom(ctx, mxid, false); err != nil {
		ce.Log.Err(err).Msg("Failed to clean up deleted chat's room")
	}
}

// portalDisplayName names a portal's chat in replies.
func portalDisplayName(portal *bridgev2.Portal) string {
	if contact, ok := dmContact(portal.ID); ok {
		return contact
	}
	if portal.Name != "" {
		return portal.Name
	}
	return "these contacts"
}
