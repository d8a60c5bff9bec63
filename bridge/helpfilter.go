package bridge

import (
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
)

// builtinNetworkCommands are bridgev2's commands that need an optional
// NetworkAPI interface. bridgev2 hides such a command from help only once
// the user has a login (it checks the login's client), so before login help
// listed commands MSN does not support.
var builtinNetworkCommands = []*commands.FullHandler{
	commands.CommandRegisterPush,
	commands.CommandResolveIdentifier,
	commands.CommandStartChat,
	commands.CommandCreateGroup,
	commands.CommandSearch,
	commands.CommandImportImagePack,
	commands.CommandMute,
	commands.CommandDeleteChat,
	commands.CommandBlockUser,
}

// unsupportedCommandHandlers replaces each of bridgev2's commands that the
// MSN client cannot serve with one that is never listed in help and says
// plainly that MSN cannot do it.
func unsupportedCommandHandlers() []commands.CommandHandler {
	var probe bridgev2.NetworkAPI = (*MSNClient)(nil)
	var out []commands.CommandHandler
	for _, h := range builtinNetworkCommands {
		if h.NetworkAPI == nil || h.NetworkAPI(probe) {
			continue
		}
		name := h.Name
		out = append(out, &commands.FullHandler{
			Name:    name,
			Aliases: h.Aliases,
			Help:    h.Help,
			// Never shown in help, with or without a login.
			NetworkConnector: func(bridgev2.NetworkConnector) bool { return false },
			Func: func(ce *commands.Event) {
				replyPlain(ce, "The MSN bridge does not support %s.", name)
			},
		})
	}
	return out
}
