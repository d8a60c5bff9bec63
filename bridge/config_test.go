package bridge

import (
	"strings"
	"testing"

	up "go.mau.fi/util/configupgrade"
	"gopkg.in/yaml.v3"
)

func exampleConfig(t *testing.T) *Config {
	t.Helper()
	var cfg Config
	if err := yaml.Unmarshal([]byte(fullExampleConfig()), &cfg); err != nil {
		t.Fatalf("example config does not parse: %v", err)
	}
	return &cfg
}

func TestExampleConfig(t *testing.T) {
	cfg := exampleConfig(t)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "credentials_key") {
		t.Errorf("example config with credentials_key=generate validated: %v", err)
	}
	cfg.CredentialsKey = generateCredentialsKey()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("example config invalid: %v", err)
	}
	srv, ok := cfg.Server("")
	if !ok || srv.Name != "escargot" || !strings.HasSuffix(srv.NotificationServer, ":1863") {
		t.Errorf("default server = %+v", srv)
	}
	if !strings.HasPrefix(srv.RST2URL, "https://") || !strings.HasSuffix(srv.ABServiceURL, "/abservice/abservice.asmx") {
		t.Errorf("default URLs = %+v", srv)
	}
	if !cfg.Presence.Enabled || cfg.Presence.MinIntervalSeconds <= 0 {
		t.Errorf("presence defaults = %+v", cfg.Presence)
	}
	if got := cfg.FormatDisplayname("Alice", "alice@hotmail.com"); got != "Alice (MSN)" {
		t.Errorf("displayname = %q", got)
	}
	if got := cfg.FormatDisplayname("", "alice@hotmail.com"); got != "alice@hotmail.com (MSN)" {
		t.Errorf("displayname without name = %q", got)
	}
}

// Every key of the example config is copied by the upgrader, so a user's
// values survive upgrades; credentials_key "generate" becomes a real key.
func TestConfigUpgrader(t *testing.T) {
	user := strings.NewReplacer(
		"name: escargot", "name: mine",
		"m1.escargot.log1p.xyz:1863", "msn.example.org:1863",
		"min_interval_seconds: 10", "min_interval_seconds: 42",
		"emoticons_to_emoji: false", "emoticons_to_emoji: true",
		`displayname_template: "{{or .FriendlyName .Email}} (MSN)"`, `displayname_template: "{{.Email}}"`,
		"listen: 127.0.0.1:29341", "listen: 127.0.0.1:9999",
	).Replace(fullExampleConfig())
	var base, cfgNode yaml.Node
	if err := yaml.Unmarshal([]byte(fullExampleConfig()), &base); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(user), &cfgNode); err != nil {
		t.Fatal(err)
	}
	helper := up.NewHelper(&base, &cfgNode)
	upgradeConfig(helper)
	var cfg Config
	if err := base.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Servers[0].Name != "mine" || cfg.Servers[0].NotificationServer != "msn.example.org:1863" {
		t.Errorf("servers not copied: %+v", cfg.Servers)
	}
	if cfg.Metrics.Listen != "127.0.0.1:9999" {
		t.Errorf("metrics listen not copied: %+v", cfg.Metrics)
	}
	if cfg.Presence.MinIntervalSeconds != 42 || !cfg.EmoticonsToEmoji || cfg.DisplaynameTemplate != "{{.Email}}" {
		t.Errorf("values not copied: %+v", cfg)
	}
	if _, err := decodeCredentialsKey(cfg.CredentialsKey); err != nil {
		t.Errorf("credentials_key not generated: %q: %v", cfg.CredentialsKey, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("upgraded config invalid: %v", err)
	}

	// A second upgrade keeps the generated key.
	var base2 yaml.Node
	_ = yaml.Unmarshal([]byte(fullExampleConfig()), &base2)
	upgradeConfig(up.NewHelper(&base2, &base))
	var cfg2 Config
	if err := base2.Decode(&cfg2); err != nil {
		t.Fatal(err)
	}
	if cfg2.CredentialsKey != cfg.CredentialsKey {
		t.Error("credentials_key changed on the second upgrade")
	}
}

func TestConfigValidateErrors(t *testing.T) {
	key := generateCredentialsKey()
	tests := map[string]Config{
		"no servers":     {CredentialsKey: key},
		"no name":        {CredentialsKey: key, Servers: []ServerConfig{{NotificationServer: "a:1"}}},
		"duplicate name": {CredentialsKey: key, Servers: []ServerConfig{{Name: "a", NotificationServer: "a:1"}, {Name: "a", NotificationServer: "b:1"}}},
		"no port":        {CredentialsKey: key, Servers: []ServerConfig{{Name: "a", NotificationServer: "a"}}},
		"bad template":   {CredentialsKey: key, DisplaynameTemplate: "{{", Servers: []ServerConfig{{Name: "a", NotificationServer: "a:1"}}},
	}
	for name, cfg := range tests {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
}

func TestServerSelection(t *testing.T) {
	cfg := Config{Servers: []ServerConfig{{Name: "one"}, {Name: "two"}}}
	if s, ok := cfg.Server("two"); !ok || s.Name != "two" {
		t.Error("server two not found")
	}
	if _, ok := cfg.Server("three"); ok {
		t.Error("unknown server found")
	}
	if names := cfg.ServerNames(); len(names) != 2 || names[0] != "one" {
		t.Errorf("ServerNames = %v", names)
	}
}
