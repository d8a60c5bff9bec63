package bridge

import (
	"os"
	"path/filepath"
	"testing"
)

// Every login of the bridge signs in with the same web-service HTTP client
// (one per CA file), so sign-ins reuse its root certificates and kept-alive
// connections instead of building their own.
func TestLoginsShareWebClient(t *testing.T) {
	c := &Connector{}
	srv := &ServerConfig{Name: "test"}
	a := c.loginConfig(srv, "a@x.com", "pw", "")
	b := c.loginConfig(srv, "b@x.com", "pw", "")
	if a.HTTPClient == nil || a.HTTPClient != b.HTTPClient {
		t.Fatalf("two logins got web clients %p and %p, want one shared client", a.HTTPClient, b.HTTPClient)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := c.loginConfig(&ServerConfig{Name: "other", CAFile: ca}, "c@x.com", "pw", "")
	if other.HTTPClient != nil {
		t.Error("a CA file without certificates gave a client; msnclient should report it at sign-in")
	}
	if other.CAFile != ca {
		t.Errorf("CAFile = %q, want it kept for msnclient's error", other.CAFile)
	}
}
