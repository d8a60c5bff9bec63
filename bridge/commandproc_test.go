package bridge

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/bridgeconfig"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/id"
)

// likeBridgev2 does to the context's logger what bridgev2 v0.32's
// commands.Processor does for every command (handleCommand).
type likeBridgev2 struct{}

func (likeBridgev2) Handle(ctx context.Context, _ id.RoomID, _ id.EventID, _ *bridgev2.User, message string, _ id.EventID) {
	log := zerolog.Ctx(ctx)
	log.UpdateContext(func(c zerolog.Context) zerolog.Context { return c.Str("mx_command", message) })
	log.Debug().Msg("Received command")
}

// Every command must log with a logger of its own: the context logger the
// appservice hands to every event must not collect a field per command.
func TestCommandsGetTheirOwnLogger(t *testing.T) {
	var buf bytes.Buffer
	shared := zerolog.New(&buf)
	ctx := shared.WithContext(context.Background())
	br := &bridgev2.Bridge{Commands: likeBridgev2{}}
	(&Connector{}).InstallCommandProcessor(br)
	user := &bridgev2.User{User: &database.User{MXID: "@alice:example.com"}}
	for _, cmd := range []string{"help", "contacts", "set-status"} {
		br.Commands.Handle(ctx, "!room:example.com", "$evt", user, cmd, "")
	}
	zerolog.Ctx(ctx).Info().Msg("unrelated")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("log lines = %q", lines)
	}
	for _, line := range lines[:3] {
		if n := strings.Count(line, `"mx_command"`); n != 1 {
			t.Errorf("command log line has %d mx_command fields: %s", n, line)
		}
	}
	if strings.Contains(lines[3], "mx_command") {
		t.Errorf("unrelated log line carries command fields: %s", lines[3])
	}
	before := br.Commands
	(&Connector{}).InstallCommandProcessor(br)
	if br.Commands != before {
		t.Error("installing twice wrapped the processor twice")
	}
}

// helpBeforeLogin renders help for a user without a login, as bridgev2
// does in the management room.
func helpBeforeLogin(t *testing.T) string {
	t.Helper()
	c := &Connector{Config: Config{Servers: []ServerConfig{{Name: "one"}}}}
	br := &bridgev2.Bridge{Config: &bridgeconfig.BridgeConfig{CommandPrefix: "!msn"}, Network: c}
	proc := commands.NewProcessor(br).(*commands.Processor)
	c.addCommands(proc)
	user := &bridgev2.User{Bridge: br, User: &database.User{MXID: "@alice:example.com", ManagementRoom: "!mgmt:example.com"}}
	return commands.FormatHelp(&commands.Event{Processor: proc, Bridge: br, User: user, RoomID: "!mgmt:example.com"})
}

func TestHelpListsOnlySupportedCommands(t *testing.T) {
	help := helpBeforeLogin(t)
	// encrypt is listed only when the bridge has encryption (not here).
	for _, unsupported := range []string{"import-image-pack", "debug-register-push", "encrypt"} {
		if strings.Contains(help, "**"+unsupported+"**") {
			t.Errorf("help before login lists %s, which MSN does not support", unsupported)
		}
	}
	for _, supported := range []string{"login", "start-chat", "search", "resolve-identifier", "create-group", "mute", "block-user", "delete-chat", "contacts", "nudge"} {
		if !strings.Contains(help, "**"+supported+"**") {
			t.Errorf("help before login does not list %s", supported)
		}
	}
}

func TestLoginWithCredentialsOnOneLine(t *testing.T) {
	for msg, want := range map[string]bool{
		"login you@example.com hunter2":            true,
		"login password you@example.com hunter2":   true,
		"LOGIN  you@example.com  hunter2":          true,
		"relogin you@example.com password hunter2": true,
		"login":                            false,
		"login password":                   false,
		"contacts --login=you@example.com": false,
		"add-contact --login=you@example.com a@b.c": false,
	} {
		if got := loginWithCredentials(msg); got != want {
			t.Errorf("loginWithCredentials(%q) = %v, want %v", msg, got, want)
		}
	}
}
