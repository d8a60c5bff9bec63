// Package e2e runs the real mautrix-msn binary against a real homeserver
// (Dendrite) and the fake MSN server, driving both sides as people would.
//
// Dendrite is found through $DENDRITE_BIN or $(go env GOPATH)/bin/dendrite
// (`make dendrite` installs it). Without it the tests are skipped, except
// with CI=true, where a missing Dendrite is a failure.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
)

// Generous timeouts: CI is a loaded 2-core machine.
const (
	msgTimeout   = 30 * time.Second
	setupTimeout = 3 * time.Minute
)

// suite holds what TestMain prepared once for every test.
var suite struct {
	bridgeBin   string
	demoBin     string
	dendriteBin string
	moduleDir   string
	skipReason  string
}

func TestMain(m *testing.M) {
	start := time.Now()
	dir, err := setupSuite()
	exit := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
	} else {
		exit = m.Run()
		fmt.Printf("e2e suite wall time: %s\n", time.Since(start).Round(time.Millisecond))
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(exit)
}

// setupSuite builds the bridge and finds Dendrite. It returns the temp dir
// holding the binaries.
func setupSuite() (string, error) {
	dir, err := os.MkdirTemp("", "mautrix-msn-e2e-bin-")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	suite.moduleDir, err = stack.ModuleDir()
	if err != nil {
		return dir, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bins, err := stack.BuildCommands(ctx, suite.moduleDir, dir, "mautrix-msn", "msn-demo")
	if err != nil {
		return dir, err
	}
	suite.bridgeBin, suite.demoBin = bins[0], bins[1]
	suite.dendriteBin, err = stack.FindDendrite()
	switch {
	case errors.Is(err, stack.ErrNoDendrite) && os.Getenv("CI") != "true":
		suite.skipReason = err.Error()
	case err != nil:
		return dir, fmt.Errorf("CI=true but %w", err)
	}
	return dir, nil
}

// needStack skips the test when Dendrite is not installed (never in CI).
func needStack(t *testing.T) {
	t.Helper()
	if suite.skipReason != "" {
		t.Skip(suite.skipReason)
	}
}
