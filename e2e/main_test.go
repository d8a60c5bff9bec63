// Package e2e runs the real mautrix-msn binary against a real homeserver
// (Dendrite) and the fake MSN server, driving both sides as people would.
//
// Dendrite is found through $DENDRITE_BIN or $(go env GOPATH)/bin/dendrite
// (`make dendrite` installs it; `make test` does so when it is missing).
// Without it the package fails: a run that did not test the bridge end to
// end must not print "ok". MSN_E2E_SKIP=1 skips the tests on purpose
// (never in CI), with a loud line saying so.
package e2e

import (
	"context"
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
	if suite.skipReason != "" {
		fmt.Fprintf(os.Stderr, "\n!!! END-TO-END TESTS SKIPPED (MSN_E2E_SKIP=1): %s\n!!! This run did not test the bridge end to end.\n\n", suite.skipReason)
	}
	os.Exit(exit)
}

// setupSuite finds Dendrite and builds the bridge. It returns the temp dir
// holding the binaries.
func setupSuite() (string, error) {
	var err error
	suite.dendriteBin, err = stack.FindDendrite()
	switch {
	case err == nil:
	case os.Getenv("CI") == "true":
		return "", fmt.Errorf("CI=true but %w", err)
	case os.Getenv("MSN_E2E_SKIP") == "1":
		suite.skipReason = err.Error()
	default:
		return "", fmt.Errorf("%w; `make test` installs it, or set MSN_E2E_SKIP=1 to skip the end-to-end tests on purpose", err)
	}
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
	return dir, nil
}

// needStack skips the test when the end-to-end tests are skipped on
// purpose (MSN_E2E_SKIP=1 without Dendrite).
func needStack(t *testing.T) {
	t.Helper()
	if suite.skipReason != "" {
		t.Skip(suite.skipReason)
	}
}
