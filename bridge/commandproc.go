package bridge

import (
	"context"
	"strings"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// commandProcessor wraps bridgev2's command processor.
//
// Each command gets a logger of its own. bridgev2 v0.32's
// commands.Processor calls UpdateContext on the logger it finds in the
// context to add "mx_command" (or "action" for login answers), and for
// unencrypted events that context carries one logger shared by every event
// the appservice dispatches (EventProcessor.Start's context), so without
// this every command added a field to every later log line of the bridge.
//
// It also redacts a login answer the connector rejected (logininput.go).
type commandProcessor struct {
	inner     bridgev2.CommandProcessor
	connector *Connector
}

// InstallCommandProcessor wraps br's command processor. Call it after
// bridgev2 and mxmain added their commands (mxmain's PostInit), because
// they add them through a type assertion on the processor.
func (c *Connector) InstallCommandProcessor(br *bridgev2.Bridge) {
	if _, done := br.Commands.(*commandProcessor); done {
		return
	}
	br.Commands = &commandProcessor{inner: br.Commands, connector: c}
}

// Handle implements bridgev2.CommandProcessor.
func (p *commandProcessor) Handle(ctx context.Context, roomID id.RoomID, eventID id.EventID, user *bridgev2.User, message string, replyTo id.EventID) {
	log := zerolog.Ctx(ctx).With().Logger()
	ctx = log.WithContext(ctx)
	p.inner.Handle(ctx, roomID, eventID, user, message, replyTo)
	rejected := user != nil && p.connector.rejected.take(user.MXID, message)
	if rejected || loginWithCredentials(message) {
		p.connector.redact(ctx, roomID, eventID)
	}
}

// loginWithCredentials reports whether a message is a login command with
// values on the same line ("login password <email> <password>", or a
// newcomer's "login <email> <password>", which bridgev2 refuses as an
// unknown login flow without redacting it): such a line may hold a
// password, whatever bridgev2 made of it.
func loginWithCredentials(message string) bool {
	fields := strings.Fields(message)
	if len(fields) < 3 {
		return false
	}
	cmd := strings.ToLower(fields[0])
	return cmd == "login" || cmd == "relogin"
}

// redact removes a user's message (the bridge bot needs the power level to
// redact others' events, which it has in the management room it joined as
// the room's second member).
func (c *Connector) redact(ctx context.Context, roomID id.RoomID, eventID id.EventID) {
	_, err := c.Bridge.Bot.SendMessage(ctx, roomID, event.EventRedaction, &event.Content{
		Parsed: &event.RedactionEventContent{Redacts: eventID, Reason: "Rejected login answer"},
	}, nil)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Stringer("event_id", eventID).Msg("Failed to redact rejected login answer")
	}
}
