package bridge

import (
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/template"
	"time"

	up "go.mau.fi/util/configupgrade"
	"gopkg.in/yaml.v3"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// ExampleConfig is the network section of the example config.
//
//go:embed example-config.yaml
var ExampleConfig string

// fullExampleConfig is the network section of the example config, with the
// metrics part kept next to its code in metrics.go.
func fullExampleConfig() string {
	return ExampleConfig + "\n" + MetricsExampleConfig + "\n" + LoginRateExampleConfig + "\n" + SignInGCExampleConfig
}

// ServerConfig is one MSN server users can log in to.
type ServerConfig struct {
	Name               string   `yaml:"name"`
	NotificationServer string   `yaml:"notification_server"`
	NexusURL           string   `yaml:"nexus_url"`
	LoginURL           string   `yaml:"login_url"`
	RSTURL             string   `yaml:"rst_url"`
	RST2URL            string   `yaml:"rst2_url"`
	ABServiceURL       string   `yaml:"abservice_url"`
	SharingServiceURL  string   `yaml:"sharing_service_url"`
	RSIURL             string   `yaml:"rsi_url"`
	OIMURL             string   `yaml:"oim_url"`
	ProtocolVersions   []int    `yaml:"protocol_versions"`
	CAFile             string   `yaml:"ca_file"`
	AllowedHosts       []string `yaml:"allowed_hosts"`
	AllowPlainHTTP     bool     `yaml:"allow_plain_http"`
}

// PresenceConfig configures contact presence bridging.
type PresenceConfig struct {
	Enabled                bool `yaml:"enabled"`
	MinIntervalSeconds     int  `yaml:"min_interval_seconds"`
	RefreshIntervalSeconds int  `yaml:"refresh_interval_seconds"`
}

// GroupsConfig configures how MSN contact groups appear on Matrix.
type GroupsConfig struct {
	// Spaces makes every contact group a child space of the login's space.
	Spaces bool `yaml:"spaces"`
	// RefreshIntervalSeconds is how often the address book (MSNP13+) is
	// re-read to pick up changes other clients made (servers do not push
	// group changes). 0 disables.
	RefreshIntervalSeconds int `yaml:"refresh_interval_seconds"`
}

// CirclesConfig is the MSNP18 circles part of the config.
type CirclesConfig struct {
	// LeaveOnRoomLeave leaves the circle on MSN as soon as the user leaves
	// its Matrix room; false asks for confirmation with leave-circle.
	LeaveOnRoomLeave bool `yaml:"leave_on_room_leave"`
}

// Config is the network section of the bridge config.
type Config struct {
	Servers                       []ServerConfig `yaml:"servers"`
	DisplaynameTemplate           string         `yaml:"displayname_template"`
	Presence                      PresenceConfig `yaml:"presence"`
	SwitchboardIdleTimeoutSeconds int            `yaml:"switchboard_idle_timeout_seconds"`
	EndpointName                  string         `yaml:"endpoint_name"`
	MaxMessageLength              int            `yaml:"max_message_length"`
	EmoticonsToEmoji              bool           `yaml:"emoticons_to_emoji"`
	CredentialsKey                string         `yaml:"credentials_key"`
	Metrics                       MetricsConfig  `yaml:"metrics"`
	Pictures                      PicturesConfig `yaml:"pictures"`
	MaxFileSize                   int64          `yaml:"max_file_size"`
	FileOfferTimeoutSeconds       int            `yaml:"file_offer_timeout_seconds"`
	MediaFallback                 bool           `yaml:"media_fallback"`
	ContactGroups                 GroupsConfig   `yaml:"contact_groups"`
	Circles                       CirclesConfig  `yaml:"circles"`

	// CustomEmoticons configures inline custom emoticons (emoticons.go).
	CustomEmoticons EmoticonsConfig `yaml:"custom_emoticons"`

	// LoginRate caps sign-ins per second (loginrate.go).
	LoginRate LoginRateConfig `yaml:"login_rate"`

	// SignInGCPercent is the GOGC percentage while sign-ins run; 0 leaves
	// the garbage collector alone (gcpacer.go).
	SignInGCPercent int `yaml:"sign_in_gc_percent"`

	displaynameTemplate *template.Template
	credentialsKey      []byte
}

type umConfig Config

// UnmarshalYAML decodes the config and compiles the parts that need it.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	if err := node.Decode((*umConfig)(c)); err != nil {
		return err
	}
	return c.compile()
}

// compile parses the displayname template and the credentials key. A bad
// value is reported by ValidateConfig, so errors here are not fatal for
// example config generation.
func (c *Config) compile() error {
	tpl, err := template.New("displayname").Parse(c.DisplaynameTemplate)
	if err != nil {
		return fmt.Errorf("parse displayname_template: %w", err)
	}
	c.displaynameTemplate = tpl
	if key, err := decodeCredentialsKey(c.CredentialsKey); err == nil {
		c.credentialsKey = key
	}
	return nil
}

// Validate checks the config and returns a clear error for bad values.
func (c *Config) Validate() error {
	if len(c.Servers) == 0 {
		return errors.New("network.servers: at least one MSN server is required")
	}
	seen := make(map[string]bool)
	for i, srv := range c.Servers {
		if srv.Name == "" {
			return fmt.Errorf("network.servers[%d].name is empty", i)
		}
		if seen[srv.Name] {
			return fmt.Errorf("network.servers: duplicate name %q", srv.Name)
		}
		seen[srv.Name] = true
		if !strings.Contains(srv.NotificationServer, ":") {
			return fmt.Errorf("network.servers[%d].notification_server %q is not host:port", i, srv.NotificationServer)
		}
	}
	if c.displaynameTemplate == nil {
		if err := c.compile(); err != nil {
			return err
		}
	}
	if _, err := decodeCredentialsKey(c.CredentialsKey); err != nil {
		return fmt.Errorf("network.credentials_key: %w", err)
	}
	if err := c.Metrics.Validate(); err != nil {
		return fmt.Errorf("network.%w", err)
	}
	if err := c.LoginRate.Validate(); err != nil {
		return fmt.Errorf("network.%w", err)
	}
	if c.SignInGCPercent < 0 {
		return fmt.Errorf("network.sign_in_gc_percent must not be negative, got %d", c.SignInGCPercent)
	}
	if err := c.CustomEmoticons.validate(); err != nil {
		return err
	}
	if c.MaxMessageLength < 0 || c.Presence.MinIntervalSeconds < 0 || c.SwitchboardIdleTimeoutSeconds < 0 ||
		c.Pictures.MaxSize < 0 || c.Pictures.MaxConcurrentFetches < 0 ||
		c.ContactGroups.RefreshIntervalSeconds < 0 {
		return errors.New("network: negative lengths and intervals are not allowed")
	}
	return nil
}

// Server returns the server with this name; "" is the first one.
func (c *Config) Server(name string) (*ServerConfig, bool) {
	if len(c.Servers) == 0 {
		return nil, false
	}
	if name == "" {
		return &c.Servers[0], true
	}
	for i := range c.Servers {
		if c.Servers[i].Name == name {
			return &c.Servers[i], true
		}
	}
	return nil, false
}

// ServerNames lists the configured server names.
func (c *Config) ServerNames() []string {
	names := make([]string, len(c.Servers))
	for i, srv := range c.Servers {
		names[i] = srv.Name
	}
	return names
}

// DisplaynameParams are the fields of displayname_template.
type DisplaynameParams struct {
	FriendlyName string
	Email        string
}

// FormatDisplayname renders displayname_template for a contact.
func (c *Config) FormatDisplayname(friendlyName, email string) string {
	if c.displaynameTemplate == nil {
		if err := c.compile(); err != nil {
			return friendlyName
		}
	}
	var sb strings.Builder
	err := c.displaynameTemplate.Execute(&sb, DisplaynameParams{FriendlyName: friendlyName, Email: email})
	if err != nil || strings.TrimSpace(sb.String()) == "" {
		if friendlyName != "" {
			return friendlyName
		}
		return email
	}
	return sb.String()
}

// presenceInterval is the minimum time between two presence updates of one contact.
func (c *Config) presenceInterval() time.Duration {
	return time.Duration(c.Presence.MinIntervalSeconds) * time.Second
}

func (c *Config) presenceRefresh() time.Duration {
	return time.Duration(c.Presence.RefreshIntervalSeconds) * time.Second
}

func (c *Config) switchboardIdleTimeout() time.Duration {
	return time.Duration(c.SwitchboardIdleTimeoutSeconds) * time.Second
}

// PicturesConfig configures display pictures.
type PicturesConfig struct {
	MaxSize              int64 `yaml:"max_size"`
	MaxConcurrentFetches int   `yaml:"max_concurrent_fetches"`
}

func (p PicturesConfig) maxSize() int64 {
	if p.MaxSize <= 0 {
		return defaultMaxPictureSize
	}
	return p.MaxSize
}

func (p PicturesConfig) maxConcurrent() int {
	if p.MaxConcurrentFetches <= 0 {
		return defaultMaxConcurrentFetches
	}
	return p.MaxConcurrentFetches
}

// clientConfig builds the msnclient config of a login on srv.
func (srv *ServerConfig) clientConfig(email, password, machineGUID string) msnclient.Config {
	return msnclient.Config{
		Email:             email,
		Password:          password,
		Server:            srv.NotificationServer,
		NexusURL:          srv.NexusURL,
		LoginURL:          srv.LoginURL,
		RSTURL:            srv.RSTURL,
		RST2URL:           srv.RST2URL,
		ABServiceURL:      srv.ABServiceURL,
		SharingServiceURL: srv.SharingServiceURL,
		RSIURL:            srv.serviceURL(srv.RSIURL, "/rsi/rsi.asmx"),
		OIMURL:            srv.serviceURL(srv.OIMURL, "/OimWS/oim.asmx"),
		Versions:          srv.ProtocolVersions,
		CAFile:            srv.CAFile,
		MachineGUID:       machineGUID,
		AllowedHosts:      srv.AllowedHosts,
		AllowPlainHTTP:    srv.AllowPlainHTTP,
	}
}

// serviceURL returns configured, or when empty the URL of path on the host
// of the address book service (Escargot serves every web service from one
// host), or "" when neither is known.
func (srv *ServerConfig) serviceURL(configured, path string) string {
	if configured != "" {
		return configured
	}
	u, err := url.Parse(srv.ABServiceURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host + path
}

// upgradeConfig upgrades the network section; it returns the credentials
// key it generated ("" when the config had one).
func upgradeConfig(helper up.Helper) (generatedKey string) {
	fillBotAvatar(helper)
	helper.Copy(up.List, "servers")
	helper.Copy(up.Str, "displayname_template")
	helper.Copy(up.Bool, "presence", "enabled")
	helper.Copy(up.Int, "presence", "min_interval_seconds")
	helper.Copy(up.Int, "presence", "refresh_interval_seconds")
	helper.Copy(up.Int, "switchboard_idle_timeout_seconds")
	helper.Copy(up.Str, "endpoint_name")
	helper.Copy(up.Int, "max_message_length")
	helper.Copy(up.Bool, "emoticons_to_emoji")
	helper.Copy(up.Int, "pictures", "max_size")
	helper.Copy(up.Int, "pictures", "max_concurrent_fetches")
	helper.Copy(up.Int, "max_file_size")
	helper.Copy(up.Int, "file_offer_timeout_seconds")
	helper.Copy(up.Bool, "media_fallback")
	helper.Copy(up.Float|up.Int, "custom_emoticons", "max_wait_seconds")
	helper.Copy(up.Bool, "metrics", "enabled")
	helper.Copy(up.Str, "metrics", "listen")
	helper.Copy(up.Bool, "contact_groups", "spaces")
	helper.Copy(up.Int, "contact_groups", "refresh_interval_seconds")
	helper.Copy(up.Bool, "circles", "leave_on_room_leave")
	upgradeLoginRate(helper)
	helper.Copy(up.Int, "sign_in_gc_percent")
	if key, ok := helper.Get(up.Str, "credentials_key"); !ok || key == "generate" {
		generatedKey = generateCredentialsKey()
		helper.Set(up.Str, generatedKey, "credentials_key")
	} else {
		helper.Copy(up.Str, "credentials_key")
	}
	return generatedKey
}

// generateCredentialsKey returns a new random 256-bit key, base64-encoded.
func generateCredentialsKey() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(key)
}

func decodeCredentialsKey(s string) ([]byte, error) {
	if s == "" || s == "generate" {
		return nil, errors.New("not set: put \"generate\" and let the bridge update the config, or a base64 32-byte key")
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not valid base64: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("must be 32 bytes, got %d", len(key))
	}
	return key, nil
}
