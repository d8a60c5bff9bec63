package bridge

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/bridgev2/provisionutil"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// Bot commands for MSNP18 circles (Windows Live "Groups"), and create-group,
// which makes a circle on MSNP18 and a group conversation below.

func (c *Connector) circleCommandHandlers() []commands.CommandHandler {
	return []commands.CommandHandler{
		&commands.FullHandler{
			Name:          "circles",
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: "List your MSN groups (circles, MSNP18) and pending invitations", Args: "[--login=<your email>]"},
			RequiresLogin: true,
			Func:          c.cmdCircles,
		},
		&commands.FullHandler{
			Name:          "accept-circle",
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: "Accept an invitation to an MSN group (circle); its room is created", Args: "[--login=<your email>] <name|id>"},
			RequiresLogin: true,
			Func:          c.cmdAnswerCircle,
		},
		&commands.FullHandler{
			Name:          "decline-circle",
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: "Decline an invitation to an MSN group (circle)", Args: "[--login=<your email>] <name|id>"},
			RequiresLogin: true,
			Func:          c.cmdAnswerCircle,
		},
		&commands.FullHandler{
			Name:          "leave-circle",
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: "Leave an MSN group (circle) and remove its room (in its room: no argument)", Args: "[--login=<your email>] [name|id]"},
			RequiresLogin: true,
			Func:          c.cmdLeaveCircle,
		},
		&commands.FullHandler{
			Name:    "create-group",
			Aliases: []string{"create"},
			Help: commands.HelpMeta{Section: commands.HelpSectionChats,
				Description: "With a name and addresses: create an MSN group (circle, MSNP18; a group conversation below) in a new room. " +
					"Alone in a room with contacts' ghosts: make it an MSN group conversation (or, with circle, an MSN group)",
				Args: `["name" <email> <email>...] | [group|circle]`},
			RequiresLogin:      true,
			RequiresEventLevel: event.StateBridge,
			Func:               c.cmdCreateGroup,
		},
	}
}

// circlesClient is the connected client of a command's login when it has
// circles, or replies why not.
func circlesClient(ce *commands.Event, m *MSNClient) (*msnclient.Client, bool) {
	cl, err := m.client()
	if err != nil {
		replyPlain(ce, "You are not connected to MSN right now (%s). Try again when connected, or use reconnect.", m.meta.Email)
		return nil, false
	}
	if !cl.SupportsCircles() {
		replyPlain(ce, "MSN groups (circles) need MSNP18, and %s is signed in with MSNP%d: there are no circles on it.", m.meta.Email, cl.Version())
		return nil, false
	}
	return cl, true
}

func (c *Connector) cmdCircles(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	cl, ok := circlesClient(ce, m)
	if !ok {
		return
	}
	replyPlain(ce, "%s", formatCircles(cl.Circles(), m.meta.Email))
}

// formatCircles lists circles and invitations for the circles command.
func formatCircles(circles []msnclient.Circle, account string) string {
	var in, pending []string
	for _, c := range circles {
		if c.Pending() {
			line := fmt.Sprintf("- %s (%s)", circleName(c), c.ID)
			if inviter := normalizeEmail(c.Inviter); validEmail(inviter) {
				line += ", invited by " + inviter
			}
			pending = append(pending, line)
		} else {
			line := fmt.Sprintf("- %s (%s)", circleName(c), c.ID)
			if c.Role.CanInvite() {
				line += ", you may invite people"
			}
			in = append(in, line)
		}
	}
	var b strings.Builder
	if len(in) == 0 {
		fmt.Fprintf(&b, "You are in no MSN groups on %s.", account)
	} else {
		fmt.Fprintf(&b, "Your MSN groups on %s:\n%s", account, strings.Join(in, "\n"))
	}
	if len(pending) > 0 {
		fmt.Fprintf(&b, "\n\nInvitations (answer with accept-circle or decline-circle and the name or id):\n%s", strings.Join(pending, "\n"))
	}
	return b.String()
}

// findCircle resolves a circle by id or name (case-insensitive) among the
// circles that match want (pending invitations or joined circles), or
// replies why it cannot.
func findCircle(ce *commands.Event, cl *msnclient.Client, arg string, pending bool) (msnclient.Circle, bool) {
	var candidates []msnclient.Circle
	for _, c := range cl.Circles() {
		if c.Pending() == pending {
			candidates = append(candidates, c)
		}
	}
	what := "MSN group"
	if pending {
		what = "invitation to an MSN group"
	}
	if id, err := msnclient.ParseCircleID(arg); err == nil {
		for _, c := range candidates {
			if c.ID == id {
				return c, true
			}
		}
		replyPlain(ce, "You have no %s with the id %s. Use circles to list them.", what, id)
		return msnclient.Circle{}, false
	}
	var matches []msnclient.Circle
	for _, c := range candidates {
		if strings.EqualFold(circleName(c), cleanLine(arg)) {
			matches = append(matches, c)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], true
	case 0:
		replyPlain(ce, "You have no %s named %q. Use circles to list them.", what, arg)
	default:
		ids := make([]string, 0, len(matches))
		for _, c := range matches {
			ids = append(ids, string(c.ID))
		}
		replyPlain(ce, "Several of your MSN groups are named %q; use the id instead: %s.", arg, strings.Join(ids, ", "))
	}
	return msnclient.Circle{}, false
}

func (c *Connector) cmdAnswerCircle(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	accept := ce.Command == "accept-circle"
	if len(ce.Args) == 0 {
		replyPlain(ce, "Usage: %s <name|id> (circles lists your invitations)", ce.Command)
		return
	}
	cl, ok := circlesClient(ce, m)
	if !ok {
		return
	}
	circle, ok := findCircle(ce, cl, groupArg(ce.Args), true)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ce.Ctx, commandTimeout)
	defer cancel()
	if accept {
		m.circles().forgetLeft(circle.ID)
		if err := cl.AcceptCircleInvitation(ctx, circle.ID); err != nil {
			replyPlain(ce, "Failed to join the MSN group %q: %s", circleName(circle), describeCircleError(err))
			return
		}
		replyPlain(ce, "Joined the MSN group %q: its room is being created in your MSN space.", circleName(circle))
		return
	}
	if err := cl.DeclineCircleInvitation(ctx, circle.ID); err != nil {
		replyPlain(ce, "Failed to decline the invitation to %q: %s", circleName(circle), describeCircleError(err))
		return
	}
	replyPlain(ce, "Declined the invitation to the MSN group %q.", circleName(circle))
}

func (c *Connector) cmdLeaveCircle(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	cl, ok := circlesClient(ce, m)
	if !ok {
		return
	}
	var circle msnclient.Circle
	if len(ce.Args) == 0 {
		id, inCircle := msnclient.CircleID(""), false
		if ce.Portal != nil {
			id, inCircle = circleOfPortal(ce.Portal.ID)
		}
		if !inCircle {
			// The confirmation asked for after the user left a room.
			id, inCircle = m.circles().onlyLeaveAsked()
		}
		if !inCircle {
			replyPlain(ce, "Usage: leave-circle <name|id> (or leave-circle in the group's room)")
			return
		}
		if circle, ok = findCircle(ce, cl, string(id), false); !ok {
			return
		}
	} else if circle, ok = findCircle(ce, cl, groupArg(ce.Args), false); !ok {
		return
	}
	if err := m.leaveCircle(ce.Ctx, circle.ID); err != nil {
		replyPlain(ce, "Failed to leave the MSN group %q: %s", circleName(circle), describeCircleError(err))
		return
	}
	replyPlain(ce, "Left the MSN group %q; its room is being removed.", circleName(circle))
}

// cmdCreateGroup: without arguments (or with a group type) it is bridgev2's
// create-group for the current room; with a name and addresses it creates
// the group and a new room for it.
func (c *Connector) cmdCreateGroup(ce *commands.Event) {
	switch {
	case len(ce.Args) == 0:
		// A room made with contacts' ghosts: a group conversation, as
		// MSN clients start one.
		ce.Args = []string{groupTypeSwitchboard}
		c.refreshRoomMembers(ce)
		commands.CommandCreateGroup.Func(ce)
		return
	case len(ce.Args) == 1 && (ce.Args[0] == groupTypeSwitchboard || ce.Args[0] == groupTypeCircle):
		c.refreshRoomMembers(ce)
		commands.CommandCreateGroup.Func(ce)
		return
	}
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	args, err := splitQuoted(ce.Args)
	if err != nil || len(args) < 2 {
		replyPlain(ce, `Usage: create-group "name" <email> <email>... (or create-group alone in a room with contacts' ghosts)`)
		return
	}
	name, emails := args[0], args[1:]
	if _, err := parseIdentifier(name); err == nil {
		replyPlain(ce, `The first argument is the group's name: create-group "name" <email> <email>...`)
		return
	}
	params := &bridgev2.GroupCreateParams{Type: groupTypeCircle, Name: &event.RoomNameEventContent{Name: name}}
	for _, a := range emails {
		email, err := parseIdentifier(a)
		if err != nil {
			replyPlain(ce, "%v", err)
			return
		}
		if id := makeUserID(email); !slices.Contains(params.Participants, id) {
			params.Participants = append(params.Participants, id)
		}
	}
	cl, err := m.client()
	if err != nil {
		replyPlain(ce, "You are not connected to MSN right now (%s). Try again when connected, or use reconnect.", m.meta.Email)
		return
	}
	circles := cl.SupportsCircles()
	if !circles {
		params.Type = groupTypeSwitchboard
	}
	resp, err := provisionutil.CreateGroup(ce.Ctx, m.login, params)
	if err != nil {
		replyPlain(ce, "Failed to create the group: %v", err)
		return
	}
	var b strings.Builder
	link := ""
	if resp.MXID != "" {
		link = " " + resp.MXID.URI(c.Bridge.Matrix.ServerName()).MatrixToURL()
	}
	if circles {
		fmt.Fprintf(&b, "Created the MSN group %q (a circle)%s and invited the others: they join once they accept.", name, link)
	} else {
		fmt.Fprintf(&b, "MSN groups (circles) need MSNP18 and %s uses MSNP%d, so this is an MSN group conversation (switchboard) instead, "+
			"which lasts while people are in it: %s", m.meta.Email, cl.Version(), strings.TrimSpace(link))
	}
	if len(resp.FailedParticipants) > 0 {
		var failed []string
		for id, f := range resp.FailedParticipants {
			failed = append(failed, fmt.Sprintf("%s (%s)", id, f.Reason))
		}
		slices.Sort(failed)
		fmt.Fprintf(&b, "\nNot added: %s.", strings.Join(failed, ", "))
	}
	replyPlain(ce, "%s", b.String())
}

// refreshRoomMembers re-reads the room's members from the homeserver into
// the bot's state store, which bridgev2's create-group reads: a command
// sent right after the room was made (as a Matrix client does) could
// otherwise find only some of the invited ghosts there.
func (c *Connector) refreshRoomMembers(ce *commands.Event) {
	mx, ok := c.Bridge.Matrix.(*matrix.Connector)
	if !ok || mx.Bot == nil {
		return
	}
	if _, err := mx.Bot.Members(ce.Ctx, ce.RoomID); err != nil {
		ce.Log.Warn().Err(err).Msg("Failed to re-read the room's members before creating a group")
	}
}
