package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPicture: msncli fetches a contact's display picture into a file.
func TestPicture(t *testing.T) {
	srv := startServer(t)
	bob, _ := connectBob(t, srv)
	pic := bytes.Repeat([]byte("bob's picture "), 300)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if _, err := bob.SetDisplayPictureData(ctx, pic); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "bob.png")
	stdout, stderr, code := runCLI(t, "pw-alice@example.com", append(cliArgs(srv, "18"), "picture", "bob@example.com", out)...)
	if code != 0 {
		t.Fatalf("picture exited %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "bytes written") {
		t.Errorf("stdout %q", stdout)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, pic) {
		t.Fatalf("file has %d bytes (%v), want bob's %d", len(got), err, len(pic))
	}
	// A contact without a picture: a clear failure.
	if _, stderr, code := runCLI(t, "pw-alice@example.com", append(cliArgs(srv, "18"), "-timeout", "8s", "picture", "nobody@example.com", out)...); code != 1 || !strings.Contains(stderr, "display picture") {
		t.Errorf("picture of a stranger exited %d: %s", code, stderr)
	}
}
