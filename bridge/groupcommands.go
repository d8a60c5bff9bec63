package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/bridgev2/commands"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// Bot commands for MSN contact groups.

func (c *Connector) groupCommandHandlers() []commands.CommandHandler {
	cmd := func(name, args, desc string, fn func(*commands.Event)) *commands.FullHandler {
		return &commands.FullHandler{
			Name:          name,
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: desc, Args: "[--login=<your email>] " + args},
			RequiresLogin: true,
			Func:          fn,
		}
	}
	return []commands.CommandHandler{
		&commands.FullHandler{
			Name:          "groups",
			Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: "List your MSN contact groups and who is in them", Args: "[--login=<your email>]"},
			RequiresLogin: true,
			Func:          c.cmdGroups,
		},
		cmd("add-group", "<name>", "Create an MSN contact group", c.cmdAddGroup),
		cmd("rename-group", "<old name> <new name>", `Rename an MSN contact group (quote names with spaces: "Old name" "New name")`, c.cmdRenameGroup),
		cmd("remove-group", "<name>", "Delete an MSN contact group (its contacts stay on your list)", c.cmdRemoveGroup),
		cmd("move-contact", "<email> <group>", "Put a contact into a group, taking it out of its other groups", c.cmdMoveContact),
		cmd("copy-contact", "<email> <group>", "Also put a contact into a group (it stays in its other groups)", c.cmdCopyContact),
	}
}

// splitQuoted splits command arguments on spaces, keeping "double" or
// 'single' quoted parts together (without the quotes).
func splitQuoted(args []string) ([]string, error) {
	raw := strings.Join(args, " ")
	var out []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range raw {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unbalanced quotes")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// groupArg is a group name given as the rest of the arguments, quoted or
// not.
func groupArg(args []string) string {
	parts, err := splitQuoted(args)
	if err != nil || len(parts) != 1 {
		return strings.Join(args, " ")
	}
	return parts[0]
}

// findGroup resolves a group name (case-insensitive) or replies that there
// is none.
func findGroup(ce *commands.Event, m *MSNClient, cl *msnclient.Client, name string) (msnclient.Group, bool) {
	if g, ok := cl.GroupByName(name); ok && g.ID != "0" {
		return g, true
	}
	var names []string
	for _, g := range listedGroups(cl) {
		names = append(names, g.Name)
	}
	if len(names) == 0 {
		replyPlain(ce, "You have no MSN group named %q (you have no groups on %s).", name, m.meta.Email)
	} else {
		replyPlain(ce, "You have no MSN group named %q. Your groups: %s.", name, strings.Join(names, ", "))
	}
	return msnclient.Group{}, false
}

// listedGroups are the groups shown to users (not MSNP8-9's group 0).
func listedGroups(cl *msnclient.Client) []msnclient.Group {
	var out []msnclient.Group
	for _, g := range cl.Groups() {
		if g.ID != "0" {
			out = append(out, g)
		}
	}
	return out
}

// describeGroupError explains a group failure in words.
func describeGroupError(err error) string {
	switch {
	case errors.Is(err, msnclient.ErrGroupExists):
		return "a group with that name already exists"
	case errors.Is(err, msnclient.ErrNoSuchGroup):
		return "that group no longer exists"
	case errors.Is(err, msnclient.ErrNotAContact):
		return "that person is not on your contact list (add-contact first)"
	case errors.Is(err, msnclient.ErrInvalidGroupName):
		return fmt.Sprintf("group names must be 1 to %d bytes of text without control characters, and not \"(No Group)\"", msnclient.MaxGroupNameLength)
	}
	return describeCommandError(err)
}

// runGroupCommand runs fn on the login's client; on success it replies done
// and brings the group spaces up to date.
func runGroupCommand(ce *commands.Event, m *MSNClient, what string, fn func(ctx context.Context, cl *msnclient.Client) (string, error)) {
	cl, err := m.client()
	if err != nil {
		replyPlain(ce, "You are not connected to MSN right now (%s). Try again when connected, or use reconnect.", m.meta.Email)
		return
	}
	ctx, cancel := context.WithTimeout(ce.Ctx, commandTimeout)
	defer cancel()
	done, err := fn(ctx, cl)
	if err != nil {
		replyPlain(ce, "Failed to %s: %s", what, describeGroupError(err))
		return
	}
	if done == "" {
		return
	}
	replyPlain(ce, "%s", done)
	go m.syncContacts(m.log.WithContext(m.backgroundCtx()), m.currentSession())
}

func (c *Connector) cmdGroups(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	runGroupCommand(ce, m, "list your groups", func(ctx context.Context, cl *msnclient.Client) (string, error) {
		// Pick up changes other clients made (MSNP13+); a change also
		// updates the spaces through ContactListChanged.
		if err := cl.RefreshContacts(ctx); err != nil {
			return "", err
		}
		replyPlain(ce, "%s", formatGroups(m.meta.Email, listedGroups(cl), cl.Contacts()))
		return "", nil
	})
}

// formatGroups lists groups with their members.
func formatGroups(account string, groups []msnclient.Group, contacts []msnclient.Contact) string {
	if len(groups) == 0 {
		return fmt.Sprintf("You have no MSN contact groups on %s. Create one with add-group <name>.", account)
	}
	wants := wantedGroupSpaces(groups, contacts, normalizeEmail(account))
	var sb strings.Builder
	fmt.Fprintf(&sb, "MSN contact groups of %s (%d):\n", account, len(wants))
	for _, w := range wants {
		if len(w.Members) == 0 {
			fmt.Fprintf(&sb, "\n• %s (empty)", w.Group.Name)
			continue
		}
		fmt.Fprintf(&sb, "\n• %s (%d): %s", w.Group.Name, len(w.Members), strings.Join(w.Members, ", "))
	}
	return sb.String()
}

func (c *Connector) cmdAddGroup(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	name := groupArg(ce.Args)
	if strings.TrimSpace(name) == "" {
		replyPlain(ce, "Usage: add-group <name>")
		return
	}
	runGroupCommand(ce, m, "create the group", func(ctx context.Context, cl *msnclient.Client) (string, error) {
		g, err := cl.AddGroup(ctx, name)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Created the MSN group %q.", g.Name), nil
	})
}

func (c *Connector) cmdRenameGroup(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	parts, err := splitQuoted(ce.Args)
	if err != nil || len(parts) != 2 {
		replyPlain(ce, `Usage: rename-group <old name> <new name> (quote names with spaces: rename-group "Old name" "New name")`)
		return
	}
	runGroupCommand(ce, m, "rename the group", func(ctx context.Context, cl *msnclient.Client) (string, error) {
		g, ok := findGroup(ce, m, cl, parts[0])
		if !ok {
			return "", nil
		}
		if err := cl.RenameGroup(ctx, g.ID, parts[1]); err != nil {
			return "", err
		}
		return fmt.Sprintf("Renamed the MSN group %q to %q.", g.Name, strings.TrimSpace(parts[1])), nil
	})
}

func (c *Connector) cmdRemoveGroup(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	name := groupArg(ce.Args)
	if strings.TrimSpace(name) == "" {
		replyPlain(ce, "Usage: remove-group <name>")
		return
	}
	runGroupCommand(ce, m, "remove the group", func(ctx context.Context, cl *msnclient.Client) (string, error) {
		g, ok := findGroup(ce, m, cl, name)
		if !ok {
			return "", nil
		}
		if err := cl.RemoveGroup(ctx, g.ID); err != nil {
			return "", err
		}
		return fmt.Sprintf("Removed the MSN group %q. Its contacts are still on your contact list.", g.Name), nil
	})
}

func (c *Connector) cmdMoveContact(ce *commands.Event) {
	c.contactGroupCommand(ce, "move-contact", true)
}

func (c *Connector) cmdCopyContact(ce *commands.Event) {
	c.contactGroupCommand(ce, "copy-contact", false)
}

func (c *Connector) contactGroupCommand(ce *commands.Event, name string, move bool) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	if len(ce.Args) < 2 {
		replyPlain(ce, "Usage: %s <email> <group>", name)
		return
	}
	email, err := parseIdentifier(ce.Args[0])
	if err != nil {
		replyPlain(ce, "%v", err)
		return
	}
	group := groupArg(ce.Args[1:])
	runGroupCommand(ce, m, strings.ReplaceAll(name, "-", " ")+" "+email, func(ctx context.Context, cl *msnclient.Client) (string, error) {
		g, ok := findGroup(ce, m, cl, group)
		if !ok {
			return "", nil
		}
		if move {
			if err := cl.MoveContactToGroup(ctx, email, g.ID); err != nil {
				return "", err
			}
			return fmt.Sprintf("Moved %s to the MSN group %q.", email, g.Name), nil
		}
		if err := cl.AddContactToGroup(ctx, email, g.ID); err != nil {
			return "", err
		}
		return fmt.Sprintf("Added %s to the MSN group %q too.", email, g.Name), nil
	})
}
