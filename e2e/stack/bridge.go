package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// BuildBridge compiles ./cmd/mautrix-msn (cgo, -tags goolm) into dir and
// returns the binary path. moduleDir is the repository root.
func BuildBridge(ctx context.Context, moduleDir, dir string) (string, error) {
	bins, err := BuildCommands(ctx, moduleDir, dir, "mautrix-msn")
	if err != nil {
		return "", err
	}
	return bins[0], nil
}

// BuildCommands compiles ./cmd/<name> for each name (cgo, -tags goolm) in
// one go build run into dir and returns the binary paths in order.
func BuildCommands(ctx context.Context, moduleDir, dir string, names ...string) ([]string, error) {
	args := []string{"build", "-tags", "goolm", "-o", dir + string(filepath.Separator)}
	bins := make([]string, len(names))
	for i, name := range names {
		args = append(args, "./cmd/"+name)
		bins[i] = filepath.Join(dir, name)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", strings.Join(names, " "), err, out)
	}
	return bins, nil
}

// ModuleDir finds the repository root (the directory of go.mod).
func ModuleDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the mautrix-msn module")
	}
	return filepath.Dir(gomod), nil
}

// Database selects the bridge database.
type Database struct {
	Type string // "sqlite3-fk-wal" or "postgres"
	URI  string
}

// SQLite is the bridge database in a file of the bridge directory.
func SQLite() Database {
	return Database{Type: "sqlite3-fk-wal", URI: "file:mautrix-msn.db?_txlock=immediate"}
}

// BridgeOptions configures one bridge instance.
type BridgeOptions struct {
	Bin               string // mautrix-msn binary
	Dir               string // working directory: config, registration, database, log
	HomeserverURL     string
	ServerName        string // default "localhost"
	Port              int    // appservice port on 127.0.0.1; 0 picks a free one
	DB                Database
	DoublePuppetToken string // as_token of the homeserver's double-puppet appservice; empty: off
	// Edits are applied last, as dotted config paths ("network.servers" or
	// "bridge.permissions") to values.
	Edits map[string]any
}

// Bridge is a configured mautrix-msn instance that can be started and
// stopped any number of times.
type Bridge struct {
	Opts             BridgeOptions
	ConfigPath       string
	RegistrationPath string
	LogPath          string
	BotMXID          id.UserID
	UsernamePrefix   string // ghost localparts are UsernamePrefix + escaped email
	URL              string // appservice address
	proc             *Process
}

// PrepareBridge writes the example config with -e, edits it for a loopback
// homeserver and generates the appservice registration with -g.
func PrepareBridge(ctx context.Context, opts BridgeOptions) (*Bridge, error) {
	if opts.ServerName == "" {
		opts.ServerName = "localhost"
	}
	if opts.DB.Type == "" {
		opts.DB = SQLite()
	}
	if opts.Port == 0 {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		opts.Port = port
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create bridge dir: %w", err)
	}
	b := &Bridge{
		Opts:             opts,
		ConfigPath:       filepath.Join(opts.Dir, "config.yaml"),
		RegistrationPath: filepath.Join(opts.Dir, "registration.yaml"),
		LogPath:          filepath.Join(opts.Dir, "bridge.log"),
		URL:              fmt.Sprintf("http://127.0.0.1:%d", opts.Port),
	}
	if err := b.run(ctx, "-e", "-c", b.ConfigPath); err != nil {
		return nil, fmt.Errorf("generate example config: %w", err)
	}
	if err := EditYAML(b.ConfigPath, b.configEdits()); err != nil {
		return nil, err
	}
	if err := b.run(ctx, "-g", "-c", b.ConfigPath, "-r", b.RegistrationPath); err != nil {
		return nil, fmt.Errorf("generate registration: %w", err)
	}
	if err := b.readIdentity(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Bridge) configEdits() map[string]any {
	o := b.Opts
	edits := map[string]any{
		"homeserver.address":               o.HomeserverURL,
		"homeserver.domain":                o.ServerName,
		"homeserver.software":              "standard",
		"appservice.address":               b.URL,
		"appservice.hostname":              "127.0.0.1",
		"appservice.port":                  o.Port,
		"database.type":                    o.DB.Type,
		"database.uri":                     o.DB.URI,
		"bridge.permissions":               map[string]any{"*": "relay", o.ServerName: "admin"},
		"logging.min_level":                "debug",
		"logging.writers":                  []any{map[string]any{"type": "stdout", "format": "json"}},
		"encryption.allow":                 false,
		"backfill.enabled":                 false,
		"provisioning.shared_secret":       msnp.RandomHex(16),
		"matrix.message_status_events":     true,
		"matrix.message_error_notices":     true,
		"double_puppet.servers":            map[string]any{},
		"double_puppet.secrets":            map[string]any{},
		"bridge.personal_filtering_spaces": true,
	}
	if o.DoublePuppetToken != "" {
		edits["double_puppet.secrets"] = map[string]any{o.ServerName: "as_token:" + o.DoublePuppetToken}
	}
	for k, v := range o.Edits {
		edits[k] = v
	}
	return edits
}

func (b *Bridge) readIdentity() error {
	var cfg struct {
		AppService struct {
			Bot struct {
				Username string `yaml:"username"`
			} `yaml:"bot"`
			UsernameTemplate string `yaml:"username_template"`
		} `yaml:"appservice"`
	}
	data, err := os.ReadFile(b.ConfigPath)
	if err != nil {
		return fmt.Errorf("read bridge config: %w", err)
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("parse bridge config: %w", err)
	}
	if cfg.AppService.Bot.Username == "" {
		return fmt.Errorf("bridge config has no appservice.bot.username")
	}
	b.BotMXID = id.NewUserID(cfg.AppService.Bot.Username, b.Opts.ServerName)
	prefix, _, ok := strings.Cut(cfg.AppService.UsernameTemplate, "{{.}}")
	if !ok {
		return fmt.Errorf("unexpected username_template %q", cfg.AppService.UsernameTemplate)
	}
	b.UsernamePrefix = prefix
	return nil
}

// GhostMXID is the Matrix ID of the ghost of an MSN email (ghost IDs are the
// lower-cased email, escaped as a Matrix localpart).
func (b *Bridge) GhostMXID(email string) id.UserID {
	return id.NewUserID(b.UsernamePrefix+id.EncodeUserLocalpart(strings.ToLower(email)), b.Opts.ServerName)
}

// Registration returns the generated appservice registration.
func (b *Bridge) Registration() ([]byte, error) {
	data, err := os.ReadFile(b.RegistrationPath)
	if err != nil {
		return nil, fmt.Errorf("read registration: %w", err)
	}
	return data, nil
}

// run runs the bridge binary to completion (for -e and -g).
func (b *Bridge) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, b.Opts.Bin, args...)
	cmd.Dir = b.Opts.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(b.Opts.Bin), strings.Join(args, " "), err, out)
	}
	return nil
}

// Start runs the bridge (with --ignore-unsupported-server: Dendrite
// advertises an older spec version) and waits until it reports ready.
func (b *Bridge) Start(ctx context.Context) error {
	proc, err := StartProcess("mautrix-msn", b.Opts.Dir, b.LogPath, b.Opts.Bin,
		"-c", b.ConfigPath, "-r", b.RegistrationPath, "--ignore-unsupported-server")
	if err != nil {
		return err
	}
	b.proc = proc
	if err := waitHTTP(ctx, proc, b.URL+"/_matrix/mau/ready", 60*time.Second); err != nil {
		_ = proc.Stop(5 * time.Second)
		return fmt.Errorf("bridge did not become ready (log %s): %w", b.LogPath, err)
	}
	return nil
}

// Process is the running bridge process (nil before Start).
func (b *Bridge) Process() *Process { return b.proc }

// Stop stops the running bridge, if any.
func (b *Bridge) Stop() error {
	if b.proc == nil {
		return nil
	}
	return b.proc.Stop(10 * time.Second)
}

// Kill kills the running bridge with SIGKILL, as a crash.
func (b *Bridge) Kill() error {
	if b.proc == nil {
		return nil
	}
	return b.proc.Kill()
}

// EditYAML sets dotted paths in a YAML file, creating missing maps.
func EditYAML(path string, edits map[string]any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	doc := map[string]any{}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	for key, value := range edits {
		if err := setPath(doc, key, value); err != nil {
			return fmt.Errorf("edit %s: %w", path, err)
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func setPath(doc map[string]any, path string, value any) error {
	parts := strings.Split(path, ".")
	cur := doc
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p]
		if !ok || next == nil {
			m := map[string]any{}
			cur[p] = m
			cur = m
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %q is not a map", path, p)
		}
		cur = m
	}
	cur[parts[len(parts)-1]] = value
	return nil
}
