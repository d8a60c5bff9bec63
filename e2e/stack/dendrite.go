package stack

import (
	"context"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// DendriteVersion is the Dendrite release the tests and the demo run.
const DendriteVersion = "v0.13.8"

// ErrNoDendrite means no Dendrite binary was found.
var ErrNoDendrite = errors.New("dendrite binary not found (set DENDRITE_BIN or run `make dendrite`)")

// FindDendrite returns the Dendrite binary: $DENDRITE_BIN, then
// $(go env GOPATH)/bin/dendrite, then dendrite on PATH.
func FindDendrite() (string, error) {
	if bin := os.Getenv("DENDRITE_BIN"); bin != "" {
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			bin := filepath.Join(dir, "bin", "dendrite")
			if _, err := os.Stat(bin); err == nil {
				return bin, nil
			}
		}
	}
	if bin, err := exec.LookPath("dendrite"); err == nil {
		return bin, nil
	}
	return "", ErrNoDendrite
}

// InstallDendrite runs `go install` for DendriteVersion and returns the binary.
func InstallDendrite(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/matrix-org/dendrite/cmd/dendrite@"+DendriteVersion)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install dendrite: %w\n%s", err, out)
	}
	return FindDendrite()
}

// DendriteOptions configures a Dendrite homeserver.
type DendriteOptions struct {
	Bin        string // Dendrite binary
	Dir        string // working directory (databases, key, logs); created if missing
	Port       int    // client API port on 127.0.0.1; 0 picks a free one
	ServerName string // default "localhost"
	// AppServices are appservice registration files (YAML) to load. A
	// double-puppeting registration is always added.
	AppServices [][]byte
}

// Dendrite is a running Dendrite homeserver on loopback.
type Dendrite struct {
	URL               string // http://127.0.0.1:port
	ServerName        string
	SharedSecret      string // shared-secret registration secret
	DoublePuppetToken string // as_token of the double-puppeting appservice
	Dir               string
	proc              *Process
}

// DendriteURL returns the address a Dendrite started with port will have.
func DendriteURL(port int) string { return fmt.Sprintf("http://127.0.0.1:%d", port) }

// NewDoublePuppetToken makes a random token for the double-puppeting appservice.
func NewDoublePuppetToken() string { return msnp.RandomHex(24) }

// StartDendrite writes the config and the signing key, starts Dendrite and
// waits until its client API answers. doublePuppetToken may be empty.
func StartDendrite(ctx context.Context, opts DendriteOptions, doublePuppetToken string) (*Dendrite, error) {
	if opts.ServerName == "" {
		opts.ServerName = "localhost"
	}
	if opts.Port == 0 {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		opts.Port = port
	}
	if doublePuppetToken == "" {
		doublePuppetToken = NewDoublePuppetToken()
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create dendrite dir: %w", err)
	}
	d := &Dendrite{
		URL:               DendriteURL(opts.Port),
		ServerName:        opts.ServerName,
		SharedSecret:      msnp.RandomHex(16),
		DoublePuppetToken: doublePuppetToken,
		Dir:               opts.Dir,
	}
	var regFiles []string
	for i, reg := range opts.AppServices {
		name := fmt.Sprintf("appservice-%d.yaml", i)
		if err := os.WriteFile(filepath.Join(opts.Dir, name), reg, 0o600); err != nil {
			return nil, fmt.Errorf("write appservice registration: %w", err)
		}
		regFiles = append(regFiles, name)
	}
	dp := fmt.Sprintf(doublePuppetRegistration, doublePuppetToken, msnp.RandomHex(24), quoteRegexp(opts.ServerName))
	if err := os.WriteFile(filepath.Join(opts.Dir, "appservice-doublepuppet.yaml"), []byte(dp), 0o600); err != nil {
		return nil, fmt.Errorf("write double puppet registration: %w", err)
	}
	regFiles = append(regFiles, "appservice-doublepuppet.yaml")
	if err := writeSigningKey(filepath.Join(opts.Dir, "matrix_key.pem")); err != nil {
		return nil, err
	}
	config := fmt.Sprintf(dendriteConfig, opts.ServerName, d.SharedSecret, strings.Join(regFiles, ", "))
	if err := os.WriteFile(filepath.Join(opts.Dir, "dendrite.yaml"), []byte(config), 0o600); err != nil {
		return nil, fmt.Errorf("write dendrite config: %w", err)
	}
	proc, err := StartProcess("dendrite", opts.Dir, filepath.Join(opts.Dir, "dendrite.log"), opts.Bin,
		"-config", "dendrite.yaml", "-http-bind-address", fmt.Sprintf("127.0.0.1:%d", opts.Port))
	if err != nil {
		return nil, err
	}
	d.proc = proc
	if err := waitHTTP(ctx, proc, d.URL+"/_matrix/client/versions", 60*time.Second); err != nil {
		_ = proc.Stop(5 * time.Second)
		return nil, fmt.Errorf("dendrite did not come up (log %s): %w", proc.LogPath, err)
	}
	return d, nil
}

// Process is the Dendrite child process.
func (d *Dendrite) Process() *Process { return d.proc }

// Stop stops Dendrite.
func (d *Dendrite) Stop() error { return d.proc.Stop(5 * time.Second) }

// waitHTTP polls url until it answers 200, the process exits or timeout passes.
func waitHTTP(ctx context.Context, proc *Process, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("build request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-proc.Done():
			return fmt.Errorf("%s exited with code %d", proc.Name, proc.ExitCode())
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", url, ctx.Err())
		case <-tick.C:
		}
	}
}

func writeSigningKey(path string) error {
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write signing key: %w", err)
	}
	defer f.Close()
	block := &pem.Block{Type: "MATRIX PRIVATE KEY", Headers: map[string]string{"Key-ID": "ed25519:e2e"}, Bytes: seed}
	if err := pem.Encode(f, block); err != nil {
		return fmt.Errorf("write signing key: %w", err)
	}
	return nil
}

func quoteRegexp(s string) string { return strings.ReplaceAll(s, ".", `\\.`) }

// The tested minimal config from the project's Dendrite notes: SQLite with
// one file per component, loopback only, no federation, shared-secret
// registration, small cache.
const dendriteConfig = `version: 2
global:
  server_name: %s
  private_key: matrix_key.pem
  disable_federation: true
  presence: {enable_inbound: true, enable_outbound: true}
  jetstream: {in_memory: true, storage_path: ./}
  cache: {max_size_estimated: 64mb}
client_api:
  registration_disabled: true
  registration_shared_secret: %q
  rate_limiting: {enabled: false}
app_service_api:
  config_files: [%s]
federation_api:
  key_perspectives: []
  database: {connection_string: "file:federationapi.db"}
key_server: {database: {connection_string: "file:keyserver.db"}}
media_api:
  base_path: ./media
  database: {connection_string: "file:mediaapi.db"}
room_server: {database: {connection_string: "file:roomserver.db"}}
sync_api:
  search: {enabled: false}
  database: {connection_string: "file:syncapi.db"}
user_api:
  bcrypt_cost: 4
  account_database: {connection_string: "file:userapi.db"}
relay_api: {database: {connection_string: "file:relayapi.db"}}
mscs: {database: {connection_string: "file:mscs.db"}}
logging: [{type: std, level: warn}]
`

const doublePuppetRegistration = `id: doublepuppet
url:
as_token: %q
hs_token: %q
sender_localpart: doublepuppetbot
rate_limited: false
namespaces:
  users:
    - {regex: "@.*:%s", exclusive: false}
`
