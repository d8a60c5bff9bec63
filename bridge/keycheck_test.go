package bridge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	up "go.mau.fi/util/configupgrade"
	"gopkg.in/yaml.v3"
)

// asNetworkSection nests a network config under "network:" as in the
// bridge's config file.
func asNetworkSection(network string) string {
	return "network:\n    " + strings.ReplaceAll(strings.TrimSpace(network), "\n", "\n    ") + "\n"
}

// With "credentials_key: generate" and a config the bridge cannot save
// (read-only, --no-update), startup fails with a clear message instead of
// running with a key that changes at every start.
func TestGeneratedCredentialsKeyMustBeSaved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	original := asNetworkSection(fullExampleConfig())
	if !strings.Contains(original, "credentials_key: generate") {
		t.Fatal("the example config does not generate its key")
	}
	if err := os.WriteFile(path, []byte(original), 0o600); err != nil {
		t.Fatal(err)
	}
	c := NewConnector()
	_, _, upgrader := c.GetConfig()
	out, err := up.DoBytes([]byte(fullExampleConfig()), upgrader.(up.BaseUpgrader))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(out, &c.Config); err != nil {
		t.Fatal(err)
	}
	if c.generatedKey == "" || c.Config.CredentialsKey != c.generatedKey {
		t.Fatalf("upgrade did not record the generated key: %q vs %q", c.generatedKey, c.Config.CredentialsKey)
	}
	c.ConfigPath = path

	// The file was not updated (it could not be saved).
	err = c.checkGeneratedKeySaved()
	if err == nil || !strings.Contains(err.Error(), "could not be saved") || !strings.Contains(err.Error(), "openssl rand") {
		t.Fatalf("unsaved generated key: %v, want a clear startup error", err)
	}
	if strings.Contains(err.Error(), c.generatedKey) {
		t.Error("the error shows the key")
	}

	// Saved: the bridge starts.
	if err := os.WriteFile(path, []byte(asNetworkSection(string(out))), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.checkGeneratedKeySaved(); err != nil {
		t.Errorf("saved generated key refused: %v", err)
	}
	// A key set in the config is never a problem.
	c2 := NewConnector()
	c2.Config.CredentialsKey = generateCredentialsKey()
	c2.ConfigPath = filepath.Join(t.TempDir(), "missing.yaml")
	if err := c2.checkGeneratedKeySaved(); err != nil {
		t.Errorf("configured key refused: %v", err)
	}
}
