package passport

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// Debug logging must show what happens but never passwords or tickets.
func TestLogsHaveNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf).Level(zerolog.TraceLevel)
	ctx := log.WithContext(testCtx(t))
	const password = "hunter2-secret"

	_, sts := startSTS(t, http.StatusOK, escargotRST(true))
	if _, err := RequestSecurityTokens(ctx, sts.Client(), sts.URL+"/RST2.srf", true, "a@b.c", password, "MBI_KEY"); err != nil {
		t.Fatal(err)
	}
	_, fault := startSTS(t, http.StatusOK, rst2AuthFailed)
	_, _ = RequestSecurityTokens(ctx, fault.Client(), fault.URL+"/RST2.srf", true, "a@b.c", password, "MBI_KEY")
	login := httptest.NewServer(newLoginServer(t, "a@b.c", password))
	t.Cleanup(login.Close)
	if _, err := TweenerLogin(ctx, login.Client(), "", login.URL+"/login", "a@b.c", password, testChallenge); err != nil {
		t.Fatal(err)
	}

	out := buf.String()
	if !strings.Contains(out, "Got security tokens") || !strings.Contains(out, "Sending Tweener login request") {
		t.Errorf("expected debug logs, got:\n%s", out)
	}
	for _, secret := range []string{password, testPPToken, testSecret, "hunter2"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains secret %q:\n%s", secret, out)
		}
	}
}
