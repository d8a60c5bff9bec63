package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// HelpSectionMSN groups the MSN-specific bot commands.
var HelpSectionMSN = commands.HelpSection{Name: "MSN", Order: 25}

// commandTimeout bounds the MSN request of one command.
const commandTimeout = 60 * time.Second

// loginFlag selects one of several logins: "--login=alice@hotmail.com".
const loginFlag = "--login="

// settableStatuses are the set-status arguments.
var settableStatuses = map[string]msnclient.Status{
	"online":    msnclient.StatusOnline,
	"busy":      msnclient.StatusBusy,
	"away":      msnclient.StatusAway,
	"brb":       msnclient.StatusBeRightBack,
	"phone":     msnclient.StatusOnThePhone,
	"lunch":     msnclient.StatusOutToLunch,
	"idle":      msnclient.StatusIdle,
	"invisible": msnclient.StatusInvisible,
}

func (c *Connector) commandHandlers() []commands.CommandHandler {
	contactCmd := func(name, desc string, action func(*msnclient.Client, context.Context, string) error, done string) *commands.FullHandler {
		return &commands.FullHandler{
			Name:          name,
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: desc, Args: "[--login=<your email>] <email>"},
			RequiresLogin: true,
			Func: func(ce *commands.Event) {
				c.runContactCommand(ce, name, action, done)
			},
		}
	}
	return []commands.CommandHandler{
		&commands.FullHandler{
			Name:          "contacts",
			Aliases:       []string{"buddies"},
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: "List your MSN contacts with their status", Args: "[--login=<your email>]"},
			RequiresLogin: true,
			Func:          c.cmdContacts,
		},
		contactCmd("add-contact", "Add someone to your MSN contact list",
			(*msnclient.Client).AddContact, "Added %s to your MSN contact list."),
		contactCmd("remove-contact", "Remove someone from your MSN contact list",
			(*msnclient.Client).RemoveContact, "Removed %s from your MSN contact list."),
		contactCmd("block", "Block someone on MSN",
			(*msnclient.Client).BlockContact, "Blocked %s."),
		contactCmd("unblock", "Unblock someone on MSN",
			(*msnclient.Client).UnblockContact, "Unblocked %s."),
		contactCmd("accept", "Accept a contact request (add them back)",
			(*msnclient.Client).AcceptContact, "Accepted %s: they are now on your contact list."),
		&commands.FullHandler{
			Name:          "set-status",
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: "Set your MSN status", Args: "[--login=<your email>] <online|busy|away|brb|phone|lunch|idle|invisible>"},
			RequiresLogin: true,
			Func:          c.cmdSetStatus,
		},
		&commands.FullHandler{
			Name:          "set-picture",
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: "Set your MSN display picture: your Matrix avatar, or the image you reply to", Args: "[--login=<your email>]"},
			RequiresLogin: true,
			Func:          c.cmdSetPicture,
		},
		&commands.FullHandler{
			Name:          "set-psm",
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: "Set your MSN personal message (empty to clear)", Args: "[--login=<your email>] [message]"},
			RequiresLogin: true,
			Func:          c.cmdSetPSM,
		},
		&commands.FullHandler{
			Name:          "set-name",
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: "Set your MSN display name", Args: "[--login=<your email>] <name>"},
			RequiresLogin: true,
			Func:          c.cmdSetName,
		},
		&commands.FullHandler{
			Name:           "nudge",
			Aliases:        []string{"buzz"},
			Help:           commands.HelpMeta{Section: HelpSectionMSN, Description: "Send a nudge in this chat"},
			RequiresLogin:  true,
			RequiresPortal: true,
			Func:           c.cmdNudge,
		},
		&commands.FullHandler{
			Name:          "reconnect",
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: "Sign in to MSN again (e.g. after signing in elsewhere)", Args: "[--login=<your email>]"},
			RequiresLogin: true,
			Func:          c.cmdReconnect,
		},
	}
}

// replyPlain replies without markdown, so emails and names show as typed.
func replyPlain(ce *commands.Event, msg string, args ...any) {
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	ce.ReplyAdvanced(msg, false, false)
}

// commandLogin picks the login a command acts on: the portal's login, the
// one named with --login=, or the user's default login. It consumes the flag.
func commandLogin(ce *commands.Event) (*MSNClient, bool) {
	var login *bridgev2.UserLogin
	if len(ce.Args) > 0 && strings.HasPrefix(ce.Args[0], loginFlag) {
		want := makeUserLoginID(strings.TrimPrefix(ce.Args[0], loginFlag))
		ce.Args = ce.Args[1:]
		for _, ul := range ce.User.GetUserLogins() {
			if ul.ID == want {
				login = ul
			}
		}
		if login == nil {
			replyPlain(ce, "You have no MSN login %s. Your logins: %s", want, strings.Join(loginIDs(ce.User), ", "))
			return nil, false
		}
	} else if ce.Portal != nil && ce.Portal.Receiver != "" {
		for _, ul := range ce.User.GetUserLogins() {
			if ul.ID == ce.Portal.Receiver {
				login = ul
			}
		}
	}
	if login == nil {
		login = ce.User.GetDefaultLogin()
	}
	if login == nil {
		replyPlain(ce, "You are not logged in to MSN.")
		return nil, false
	}
	client, ok := login.Client.(*MSNClient)
	if !ok {
		replyPlain(ce, "You are not logged in to MSN.")
		return nil, false
	}
	return client, true
}

func loginIDs(user *bridgev2.User) []string {
	var ids []string
	for _, id := range user.GetUserLoginIDs() {
		ids = append(ids, string(id))
	}
	return ids
}

// connected returns the MSN client of a login or replies that it is offline.
// runOnClient runs fn with the login's connected client and the command
// timeout. It replies "Failed to <what>: <reason>" when fn fails, or that the
// login is not connected, and reports whether fn succeeded.
func runOnClient(ce *commands.Event, m *MSNClient, what string, fn func(ctx context.Context, cl *msnclient.Client) error) bool {
	cl, err := m.client()
	if err != nil {
		replyPlain(ce, "You are not connected to MSN right now (%s). Try again when connected, or use reconnect.", m.meta.Email)
		return false
	}
	ctx, cancel := context.WithTimeout(ce.Ctx, commandTimeout)
	defer cancel()
	if err := fn(ctx, cl); err != nil {
		replyPlain(ce, "Failed to %s: %s", what, describeCommandError(err))
		return false
	}
	return true
}

func (c *Connector) runContactCommand(ce *commands.Event, name string, action func(*msnclient.Client, context.Context, string) error, done string) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	if len(ce.Args) != 1 {
		replyPlain(ce, "Usage: %s <email>", name)
		return
	}
	email, err := parseIdentifier(ce.Args[0])
	if err != nil {
		replyPlain(ce, "%v", err)
		return
	}
	if !runOnClient(ce, m, strings.ReplaceAll(name, "-", " ")+" "+email, func(ctx context.Context, cl *msnclient.Client) error {
		return action(cl, ctx, email)
	}) {
		return
	}
	replyPlain(ce, done, email)
	if name == "add-contact" || name == "accept" || name == "remove-contact" {
		m.syncContactsNow()
	}
}

// describeCommandError explains an MSN failure in words.
func describeCommandError(err error) string {
	var srvErr *msnp.ServerError
	switch {
	case errors.Is(err, msnclient.ErrNotConnected):
		return "not connected to MSN"
	case errors.Is(err, msnclient.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "the MSN server did not answer in time"
	case errors.As(err, &srvErr):
		return fmt.Sprintf("%s (MSN error %d)", msnp.ErrorText(srvErr.Code), srvErr.Code)
	default:
		return err.Error()
	}
}

// statusLabel names a status for command replies.
func statusLabel(s msnclient.Status) string {
	if s == msnclient.StatusInvisible {
		return "Invisible"
	}
	if name, ok := statusNames[s]; ok {
		return name
	}
	return string(s)
}

func (c *Connector) cmdContacts(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	contacts, err := m.forwardList(ce.Ctx)
	if err != nil {
		replyPlain(ce, "Failed to get your contacts: %v", err)
		return
	}
	if len(contacts) == 0 {
		replyPlain(ce, "You have no MSN contacts on %s.", m.meta.Email)
		return
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "MSN contacts of %s (%d):\n", m.meta.Email, len(contacts))
	for _, ct := range contacts {
		status := ct.Status
		if status == "" {
			status = msnclient.StatusOffline
		}
		if name := ct.FriendlyName; name != "" && name != ct.Email {
			fmt.Fprintf(&sb, "\n• %s <%s> - %s", name, ct.Email, statusLabel(status))
		} else {
			fmt.Fprintf(&sb, "\n• %s - %s", ct.Email, statusLabel(status))
		}
		if ct.PersonalMessage != "" {
			fmt.Fprintf(&sb, " - %s", ct.PersonalMessage)
		}
		if ct.Lists&msnclient.ListBlock != 0 {
			sb.WriteString(" (blocked)")
		}
	}
	replyPlain(ce, "%s", sb.String())
}

func (c *Connector) cmdSetStatus(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	if len(ce.Args) != 1 {
		replyPlain(ce, "Usage: set-status <online|busy|away|brb|phone|lunch|idle|invisible>")
		return
	}
	status, ok := settableStatuses[strings.ToLower(ce.Args[0])]
	if !ok {
		replyPlain(ce, "Unknown status %q. Use one of: online, busy, away, brb, phone, lunch, idle, invisible.", ce.Args[0])
		return
	}
	if !runProfileCommand(ce, m, "status", func(ctx context.Context) error { return m.setStatus(ctx, status) }) {
		return
	}
	replyPlain(ce, "Your MSN status is now %s.", statusLabel(status))
}

func (c *Connector) cmdSetPSM(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	psm := cleanLine(strings.Join(ce.Args, " "))
	if !runProfileCommand(ce, m, "personal message", func(ctx context.Context) error { return m.setPersonalMessage(ctx, psm) }) {
		return
	}
	if psm == "" {
		replyPlain(ce, "Your personal message was cleared.")
		return
	}
	replyPlain(ce, "Your personal message is now: %s", psm)
}

func (c *Connector) cmdSetName(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	name := cleanLine(strings.Join(ce.Args, " "))
	if name == "" {
		replyPlain(ce, "Usage: set-name <name>")
		return
	}
	if !runProfileCommand(ce, m, "name", func(ctx context.Context) error { return m.setFriendlyName(ctx, name) }) {
		return
	}
	m.setOwnName(ce.Ctx, name)
	replyPlain(ce, "Your MSN name is now %s.", name)
}

func (c *Connector) cmdNudge(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	if ce.Portal.Receiver != "" && ce.Portal.Receiver != m.login.ID {
		replyPlain(ce, "This chat belongs to another of your MSN logins.")
		return
	}
	ctx, cancel := context.WithTimeout(ce.Ctx, commandTimeout)
	defer cancel()
	if err := m.sendNudge(ctx, ce.Portal); err != nil {
		replyPlain(ce, "Failed to send the nudge: %s", describeSendError(err))
		return
	}
	replyPlain(ce, "Nudge sent.")
}

func (c *Connector) cmdReconnect(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	replyPlain(ce, "Reconnecting %s to MSN…", m.meta.Email)
	m.Disconnect()
	m.Connect(m.log.WithContext(m.backgroundCtx()))
}

// cleanLine makes user input a single line for names and messages.
func cleanLine(s string) string {
	return strings.Join(strings.Fields(cleanText(s)), " ")
}
