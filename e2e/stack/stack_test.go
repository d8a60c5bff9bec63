package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestEditYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	orig := "homeserver:\n    address: http://example\n    domain: example.com\nlist: [1, 2]\n"
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	err := EditYAML(path, map[string]any{
		"homeserver.address":     "http://127.0.0.1:1",
		"network.presence.every": 0,
		"bridge.permissions":     map[string]any{"*": "relay"},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Homeserver struct{ Address, Domain string }
		Network    struct{ Presence struct{ Every *int } }
		Bridge     struct{ Permissions map[string]string }
		List       []int
	}
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatalf("edited file is not YAML: %v\n%s", err, data)
	}
	if got.Homeserver.Address != "http://127.0.0.1:1" || got.Homeserver.Domain != "example.com" {
		t.Errorf("homeserver = %+v: edit lost or neighbour changed", got.Homeserver)
	}
	if got.Network.Presence.Every == nil || *got.Network.Presence.Every != 0 {
		t.Error("missing nested maps were not created")
	}
	if got.Bridge.Permissions["*"] != "relay" || len(got.List) != 2 {
		t.Errorf("bridge %+v list %v", got.Bridge, got.List)
	}

	err = EditYAML(path, map[string]any{"list.x": 1})
	if err == nil || !strings.Contains(err.Error(), "not a map") {
		t.Errorf("editing inside a list: %v, want a not-a-map error", err)
	}
	if err := EditYAML(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Error("editing a missing file succeeded")
	}
}

func TestReadRSS(t *testing.T) {
	kib, err := ReadRSSKiB(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if kib < 1024 {
		t.Errorf("RSS of the test process = %d KiB, implausibly small", kib)
	}
	if _, err := ReadRSSKiB(-1); err == nil {
		t.Error("RSS of a nonexistent process succeeded")
	}
}

func TestDoublePuppetRegistrationIsYAML(t *testing.T) {
	reg := []byte(strings.ReplaceAll(doublePuppetRegistration, "%q", `"x"`))
	reg = []byte(strings.ReplaceAll(string(reg), "%s", quoteRegexp("example.com")))
	var doc struct {
		ID         string
		URL        *string
		ASToken    string `yaml:"as_token"`
		Namespaces struct {
			Users []struct {
				Regex     string
				Exclusive bool
			}
		}
	}
	if err := yaml.Unmarshal(reg, &doc); err != nil {
		t.Fatalf("registration is not YAML: %v\n%s", err, reg)
	}
	if doc.ID != "doublepuppet" || doc.URL != nil || doc.ASToken != "x" {
		t.Errorf("registration = %+v", doc)
	}
	if len(doc.Namespaces.Users) != 1 || doc.Namespaces.Users[0].Regex != `@.*:example\.com` || doc.Namespaces.Users[0].Exclusive {
		t.Errorf("user namespace = %+v", doc.Namespaces.Users)
	}
}
