// Package bridge is the bridgev2 network connector of mautrix-msn: it maps
// MSN accounts (msnclient) to Matrix logins, portals and ghosts.
package bridge

import (
	"context"
	"fmt"
	"sync"
	"time"

	up "go.mau.fi/util/configupgrade"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/mautrix-msn/mautrix-msn/database"
)

// Connector is the MSN network connector.
type Connector struct {
	Bridge *bridgev2.Bridge
	Config Config
	DB     *database.Database

	// metrics is nil (recording nothing) unless metrics are enabled.
	metrics *Metrics
	// logins spaces out sign-ins (nil: no cap); made in Start.
	logins *loginLimiter

	avatarOnce sync.Once
	avatars    *avatarFetcher // see avatar.go

	media       mediaDownloader // see media.go; nil: the bridge bot
	publicMedia publicMedia     // see media.go; nil: the bridge's Matrix connector
}

var (
	_ bridgev2.NetworkConnector            = (*Connector)(nil)
	_ bridgev2.ConfigValidatingNetwork     = (*Connector)(nil)
	_ bridgev2.IdentifierValidatingNetwork = (*Connector)(nil)
	_ bridgev2.StoppableNetwork            = (*Connector)(nil)
)

// NewConnector returns a connector; mxmain fills its config.
func NewConnector() *Connector {
	return &Connector{}
}

// Init implements bridgev2.NetworkConnector.
func (c *Connector) Init(br *bridgev2.Bridge) {
	c.Bridge = br
	c.DB = database.New(br.DB.Database, br.Log.With().Str("db_section", "msn").Logger())
	if proc, ok := br.Commands.(*commands.Processor); ok {
		proc.AddHandlers(c.commandHandlers()...)
		proc.AddHandlers(c.groupCommandHandlers()...)
	}
}

// Start implements bridgev2.NetworkConnector: it upgrades our tables.
func (c *Connector) Start(ctx context.Context) error {
	if err := c.DB.Upgrade(ctx); err != nil {
		return bridgev2.DBUpgradeError{Err: err, Section: "msn"}
	}
	c.logins = newLoginLimiter(c.Config.LoginRate)
	if c.Config.Metrics.Enabled {
		metrics := NewMetrics(c.openSwitchboards)
		if err := metrics.Start(c.Config.Metrics, c.Bridge.Log.With().Str("component", "metrics").Logger()); err != nil {
			return fmt.Errorf("start metrics: %w", err)
		}
		c.metrics = metrics
	}
	return nil
}

// Stop implements bridgev2.StoppableNetwork: it closes the metrics endpoint.
func (c *Connector) Stop() {
	if c.metrics == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.metrics.Stop(ctx); err != nil {
		c.Bridge.Log.Err(err).Msg("Failed to stop metrics endpoint")
	}
}

// ValidateConfig implements bridgev2.ConfigValidatingNetwork.
func (c *Connector) ValidateConfig() error {
	return c.Config.Validate()
}

// ValidateUserID implements bridgev2.IdentifierValidatingNetwork.
func (c *Connector) ValidateUserID(id networkid.UserID) bool {
	return validEmail(string(id)) && normalizeEmail(string(id)) == string(id)
}

// GetName implements bridgev2.NetworkConnector.
func (c *Connector) GetName() bridgev2.BridgeName {
	return bridgev2.BridgeName{
		DisplayName:          "MSN",
		NetworkURL:           "https://escargot.chat",
		NetworkID:            "msn",
		BeeperBridgeType:     "msn",
		DefaultPort:          29340,
		DefaultCommandPrefix: "!msn",
	}
}

// GetConfig implements bridgev2.NetworkConnector.
func (c *Connector) GetConfig() (string, any, up.Upgrader) {
	example := fullExampleConfig()
	return example, &c.Config, &up.StructUpgrader{
		SimpleUpgrader: up.SimpleUpgrader(upgradeConfig),
		Base:           example,
	}
}

// GetBridgeInfoVersion implements bridgev2.NetworkConnector. Bump the second
// value whenever capabilities change.
func (c *Connector) GetBridgeInfoVersion() (info, caps int) {
	return 1, 1
}

// LoadUserLogin implements bridgev2.NetworkConnector. It only builds the
// client; Connect does the network work.
func (c *Connector) LoadUserLogin(_ context.Context, login *bridgev2.UserLogin) error {
	meta, ok := login.Metadata.(*UserLoginMetadata)
	if !ok {
		return fmt.Errorf("login %s has no MSN metadata", login.ID)
	}
	login.Client = newMSNClient(c, login, meta)
	return nil
}

// openSwitchboards counts the open switchboards of all logins (metrics).
func (c *Connector) openSwitchboards() int {
	return openSwitchboardsOf(c.Bridge.GetAllCachedUserLogins())
}

// openSwitchboardsOf sums the open switchboards of the connected logins.
func openSwitchboardsOf(logins []*bridgev2.UserLogin) int {
	n := 0
	for _, login := range logins {
		m, ok := login.Client.(*MSNClient)
		if !ok {
			continue
		}
		if cl, err := m.client(); err == nil {
			n += cl.OpenSwitchboards()
		}
	}
	return n
}
