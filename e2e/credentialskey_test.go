package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
)

// TestUnsavedGeneratedCredentialsKey runs the bridge binary with
// "credentials_key: generate" and a config it may not save (--no-update):
// it must refuse to start with a clear message, instead of running with a
// new random key at every start (which makes stored passwords unreadable).
func TestUnsavedGeneratedCredentialsKey(t *testing.T) {
	e := newEnv(t, stack.SQLite())
	if err := e.br.Stop(); err != nil {
		t.Fatal(err)
	}
	original, err := os.ReadFile(e.br.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := stack.EditYAML(e.br.ConfigPath, map[string]any{"network.credentials_key": "generate"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.br.Opts.Bin, "-c", e.br.ConfigPath, "-r", e.br.RegistrationPath,
		"--ignore-unsupported-server", "--no-update")
	cmd.Dir = e.br.Opts.Dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the bridge ran with a generated key it could not save (stopped after 2 minutes)")
	}
	if err == nil {
		t.Fatalf("the bridge exited successfully; output:\n%s", tail(string(out), 20))
	}
	if !strings.Contains(string(out), "could not be saved to the config") {
		t.Errorf("no clear message about the unsaved key; output:\n%s", tail(string(out), 20))
	}
	if data, _ := os.ReadFile(e.br.ConfigPath); !strings.Contains(string(data), "credentials_key: generate") {
		t.Error("the config was changed despite --no-update")
	}

	// Back to the saved key: the bridge starts (and the test's cleanup
	// stops it as usual).
	if err := os.WriteFile(e.br.ConfigPath, original, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.br.Start(ctx); err != nil {
		t.Fatalf("restart with the saved key: %v", err)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
