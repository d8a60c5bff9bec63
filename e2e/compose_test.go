package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"gopkg.in/yaml.v3"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
)

// composeEnvPrefix is the env_config_prefix docker-compose.yml's recipe
// tells the admin to set.
const composeEnvPrefix = "MSN_CONFIG_"

// TestDockerIgnoreKeepsSecretsOut checks, with Docker's own matcher, that
// `COPY . .` sends the sources into the image build and none of a local
// deployment's configs, registrations, databases, .env or build outputs.
func TestDockerIgnoreKeepsSecretsOut(t *testing.T) {
	f, err := os.Open(filepath.Join(suite.moduleDir, ".dockerignore"))
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{
		"config.yaml", "registration.yaml", "mautrix-msn.db", "mautrix-msn.db-wal", ".env",
		"data/bridge/config.yaml", "data/bridge/registration.yaml", "data/bridge/mautrix-msn.db",
		"data/synapse/homeserver.yaml", "data/synapse/example.com.signing.key",
		"bridge/config.yaml", "bridge/registration.yaml", // compose's data dir before it moved to ./data
		".demo/bridge/config.yaml", "bin/mautrix-msn", "mautrix-msn", "msncli", ".git/config",
	} {
		if excluded, err := pm.MatchesOrParentMatches(secret); err != nil || !excluded {
			t.Errorf("%s would be sent into the image build (%v)", secret, err)
		}
	}
	for _, source := range []string{"go.mod", "go.sum", "cmd/mautrix-msn/main.go", "bridge/example-config.yaml", "docker/run.sh", "msnclient/client.go"} {
		if excluded, _ := pm.MatchesOrParentMatches(source); excluded {
			t.Errorf("%s is left out of the image build", source)
		}
	}
}

// TestComposeDatabaseFromEnvironment checks docker-compose.yml's database
// recipe: the bridge service sets database.type and database.uri through
// environment variables with the password from .env, and the bridge reads
// them when its config has env_config_prefix set as the recipe says.
func TestComposeDatabaseFromEnvironment(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(suite.moduleDir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	env := compose.Services["mautrix-msn"].Environment
	if env[composeEnvPrefix+"DATABASE__TYPE"] != "postgres" ||
		!strings.Contains(env[composeEnvPrefix+"DATABASE__URI"], "${MSN_POSTGRES_PASSWORD") {
		t.Errorf("the bridge service's environment %v does not set the database from MSN_POSTGRES_PASSWORD", env)
	}
	if !strings.Contains(compose.Services["postgres"].Environment["POSTGRES_PASSWORD"], "${MSN_POSTGRES_PASSWORD") {
		t.Error("PostgreSQL's password does not come from MSN_POSTGRES_PASSWORD")
	}
	if !strings.Contains(string(data), "env_config_prefix: "+composeEnvPrefix) {
		t.Errorf("the compose walkthrough does not say to set env_config_prefix: %s", composeEnvPrefix)
	}

	// The bridge honours the prefix: the database named in the environment
	// is the one it creates (it upgrades it before it reaches the
	// homeserver, which is not there).
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	run := func(env []string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, suite.bridgeBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(nil, "-e", "-c", config); err != nil {
		t.Fatalf("-e: %v\n%s", err, out)
	}
	err = stack.EditYAML(config, map[string]any{
		"homeserver.address": "http://127.0.0.1:1",
		"homeserver.domain":  "example.test",
		"env_config_prefix":  composeEnvPrefix,
		"bridge.permissions": map[string]any{"example.test": "user"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run(nil, "-g", "-c", config, "-r", filepath.Join(dir, "registration.yaml")); err != nil {
		t.Fatalf("-g: %v\n%s", err, out)
	}
	fromEnv := filepath.Join(dir, "from-environment.db")
	cmd := exec.Command(suite.bridgeBin, "-c", config, "-r", filepath.Join(dir, "registration.yaml"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		composeEnvPrefix+"DATABASE__TYPE=sqlite3-fk-wal",
		composeEnvPrefix+"DATABASE__URI=file:"+fromEnv+"?_txlock=immediate")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	err = eventually(context.Background(), msgTimeout, func() error {
		_, err := os.Stat(fromEnv)
		return err
	})
	if err != nil {
		t.Errorf("the bridge did not use the database from the environment: %v", err)
	}
}
