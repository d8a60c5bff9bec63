package bridge

import (
	up "go.mau.fi/util/configupgrade"
	"gopkg.in/yaml.v3"
)

// fillBotAvatar turns a null appservice.bot.avatar into "" (leave the bot's
// avatar as it is). bridgev2's example config renders the network icon,
// which MSN does not have, as null there, and bridgev2's upgrader then
// printed "Ignoring incorrect config field type !!null at
// appservice->bot->avatar" at every start. The network section's upgrader
// runs before bridgev2's and reaches the whole config through the proxy
// helper's Target.
func fillBotAvatar(helper up.Helper) {
	proxy, ok := helper.(*up.ProxyHelper)
	if !ok {
		return
	}
	node := proxy.Target.GetNode("appservice", "bot", "avatar")
	if node == nil || node.Node == nil || node.Kind != yaml.ScalarNode || node.Tag != "!!null" {
		return
	}
	node.Tag = "!!str"
	node.Value = ""
	node.Style = yaml.DoubleQuotedStyle
}
