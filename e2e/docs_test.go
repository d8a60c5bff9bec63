package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readDoc returns a file of the repository with comment markers and line
// breaks folded into single spaces, so that wording can be compared.
func readDoc(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(suite.moduleDir, path))
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^\s*#\s?`).ReplaceAllString(string(data), "")
	return strings.Join(strings.Fields(text), " ")
}

// TestDocsAgree checks that the places a newcomer reads say the same thing
// as each other (and as the program, which other tests check).
func TestDocsAgree(t *testing.T) {
	readme := readDoc(t, "README.md")
	configDoc := readDoc(t, "docs/configuration.md")
	example := readDoc(t, "bridge/example-config.yaml")
	commands := readDoc(t, "docs/commands.md")

	const keyRule = "replaced by a random key the first time the bridge loads the config"
	for name, text := range map[string]string{"README.md": readme, "docs/configuration.md": configDoc, "the example config": example} {
		if !strings.Contains(text, keyRule) {
			t.Errorf("%s does not say that credentials_key: generate is %s", name, keyRule)
		}
	}
	for name, text := range map[string]string{"README.md": readme, "docs/commands.md": commands} {
		if !strings.Contains(text, "as an emote") || strings.Contains(text, "nudge shows as a notice") {
			t.Errorf("%s does not say that an incoming nudge arrives as an emote", name)
		}
	}
	for name, text := range map[string]string{"README.md": readme, "docs/configuration.md": configDoc} {
		if !strings.Contains(text, "exit code 20") || !strings.Contains(text, "rewrites `config.yaml`") {
			t.Errorf("%s does not say that -g needs the domain and rewrites config.yaml", name)
		}
	}
	for _, cmd := range []string{"start-chat", "search", "resolve-identifier", "mute", "block-user", "delete-chat", "encrypt"} {
		if !strings.Contains(commands, "`"+cmd) {
			t.Errorf("docs/commands.md does not document %s", cmd)
		}
	}
	if !strings.Contains(readme, "start-chat") {
		t.Error("README.md does not mention start-chat")
	}

	// README's prerequisites name what CI installs to build and test.
	ci, err := os.ReadFile(filepath.Join(suite.moduleDir, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"build-essential", "git", "ca-certificates"} {
		if !strings.Contains(string(ci), pkg) {
			t.Errorf(".ci/run no longer installs %s: update README's prerequisites", pkg)
		}
		if !strings.Contains(readme, pkg) {
			t.Errorf("README.md's prerequisites do not name %s, which .ci/run installs", pkg)
		}
	}
	if !strings.Contains(readme, "proxy.golang.org") {
		t.Error("README.md does not say that make reaches the Go module proxy")
	}
}
