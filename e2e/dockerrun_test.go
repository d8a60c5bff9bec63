package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
)

// runEntry runs docker/run.sh with the built bridge and data dir, as the
// container would, returning its output and exit code.
func runEntry(t *testing.T, data string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{filepath.Join(suite.moduleDir, "docker", "run.sh")}, args...)...)
	cmd.Env = append(os.Environ(), "MAUTRIX_MSN_BINARY="+suite.bridgeBin, "MAUTRIX_MSN_DATA="+data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if exitErr, ok := err.(*exec.ExitError); ok {
			return string(out), exitErr.ExitCode()
		}
		t.Fatalf("run docker/run.sh: %v", err)
	}
	return string(out), 0
}

// TestDockerEntryScript walks through the container's first starts with a
// temporary /data: config, then registration, then the bridge itself.
func TestDockerEntryScript(t *testing.T) {
	data := t.TempDir()
	config := filepath.Join(data, "config.yaml")
	registration := filepath.Join(data, "registration.yaml")

	out, code := runEntry(t, filepath.Join(data, "missing"))
	if code == 0 || !strings.Contains(out, "not writable") {
		t.Errorf("missing data dir: exit %d, output %q; want a clear error", code, out)
	}

	// 1. No config: the example config is written, then the script stops.
	out, code = runEntry(t, data)
	if code != 0 || !strings.Contains(out, "Wrote an example config") {
		t.Fatalf("first start: exit %d, output %q", code, out)
	}
	if _, err := os.Stat(config); err != nil {
		t.Fatalf("first start wrote no config: %v", err)
	}
	if _, err := os.Stat(registration); err == nil {
		t.Fatal("first start already wrote a registration")
	}
	var cfg map[string]any
	data1, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data1, &cfg); err != nil {
		t.Fatalf("example config is not YAML: %v", err)
	}
	network, ok := cfg["network"].(map[string]any)
	if !ok {
		t.Fatal("example config has no network section")
	}
	// As documented: -e writes "generate", the first load replaces it.
	if network["credentials_key"] != "generate" {
		t.Errorf("-e wrote credentials_key %v, want generate", network["credentials_key"])
	}

	// The admin edits the config.
	err = stack.EditYAML(config, map[string]any{
		"homeserver.address": "http://127.0.0.1:1",
		"homeserver.domain":  "example.test",
		"appservice.address": "http://127.0.0.1:29340",
		"database.type":      "sqlite3-fk-wal",
		"database.uri":       "file:mautrix-msn.db?_txlock=immediate",
		"bridge.permissions": map[string]any{"example.test": "user"},
	})
	if err != nil {
		t.Fatal(err)
	}

	// 2. No registration: it is generated, tokens are saved, the script stops.
	out, code = runEntry(t, data)
	if code != 0 || !strings.Contains(out, "Generated") {
		t.Fatalf("second start: exit %d, output %q", code, out)
	}
	if strings.Contains(out, "Ignoring incorrect config field type") {
		t.Errorf("loading the generated config warns about it: %q", out)
	}
	reg, err := os.ReadFile(registration)
	if err != nil {
		t.Fatalf("second start wrote no registration: %v", err)
	}
	var regDoc struct {
		ID      string `yaml:"id"`
		ASToken string `yaml:"as_token"`
		URL     string `yaml:"url"`
	}
	if err := yaml.Unmarshal(reg, &regDoc); err != nil {
		t.Fatalf("registration is not YAML: %v", err)
	}
	if regDoc.ASToken == "" || regDoc.URL != "http://127.0.0.1:29340" {
		t.Errorf("registration %+v lacks the token or the edited address", regDoc)
	}
	saved, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(saved), regDoc.ASToken) {
		t.Error("the registration's as_token was not saved into config.yaml")
	}
	if strings.Contains(string(saved), "credentials_key: generate") || !strings.Contains(string(saved), "credentials_key:") {
		t.Error("-g did not replace credentials_key: generate with a key")
	}

	// 3. Both present: the script execs the bridge with them and passes
	// extra arguments through (--version exits at once).
	out, code = runEntry(t, data, "--version")
	if code != 0 || !strings.Contains(out, "mautrix-msn") {
		t.Fatalf("third start: exit %d, output %q; want the bridge's version", code, out)
	}
	if after, err := os.ReadFile(registration); err != nil || string(after) != string(reg) {
		t.Error("the third start changed the registration")
	}
}
