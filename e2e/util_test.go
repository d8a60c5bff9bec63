package e2e

import (
	"fmt"
	"os"
	"testing"
)

// recordFigure logs a measured figure and, when MSN_E2E_FIGURES names a
// file, appends it there as "name value".
func recordFigure(t *testing.T, name, value string) {
	t.Helper()
	t.Logf("FIGURE %s = %s", name, value)
	path := os.Getenv("MSN_E2E_FIGURES")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Errorf("record figure: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s %s\n", name, value); err != nil {
		t.Errorf("record figure: %v", err)
	}
}
