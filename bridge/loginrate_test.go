package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2/status"
)

func TestLoginRateConfig(t *testing.T) {
	cfg := exampleConfig(t)
	if cfg.LoginRate.MaxPerSecond != DefaultMaxLoginsPerSecond {
		t.Errorf("example login_rate.max_per_second = %v, want %v", cfg.LoginRate.MaxPerSecond, DefaultMaxLoginsPerSecond)
	}
	cfg.CredentialsKey = generateCredentialsKey()
	cfg.LoginRate.MaxPerSecond = -1
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "login_rate") {
		t.Errorf("negative rate validated: %v", err)
	}
	if newLoginLimiter(LoginRateConfig{}) != nil {
		t.Error("a zero rate made a limiter")
	}
	var none *loginLimiter
	if err := none.Wait(context.Background()); err != nil {
		t.Errorf("nil limiter: %v", err)
	}
}

// The limiter never lets sign-ins through faster than the configured rate
// (after the small burst). Only a lower bound on time is asserted, so a
// loaded machine cannot make it fail.
func TestLoginLimiterSpacesSignIns(t *testing.T) {
	l := newLoginLimiter(LoginRateConfig{MaxPerSecond: 20}) // burst 2
	start := time.Now()
	for range 8 {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// 2 at once, then 6 more at 20/s: at least 300 ms.
	if elapsed := time.Since(start); elapsed < 250*time.Millisecond {
		t.Errorf("8 sign-ins at 20/s took %v", elapsed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx); err == nil {
		t.Error("Wait with a cancelled context returned nil")
	}
}

// The connect loop takes a slot before each sign-in: with none free, it
// stays CONNECTING and does not sign in; with one, it connects.
func TestConnectWaitsForLoginSlot(t *testing.T) {
	srv, c := testServer(t)
	c.logins = newLoginLimiter(LoginRateConfig{MaxPerSecond: 0.5}) // burst 1, then one per 2 s
	if err := c.logins.Wait(context.Background()); err != nil {    // take the burst
		t.Fatal(err)
	}
	m, states := testClient(t, c, testPassword)
	m.Connect(context.Background())
	expectState(t, states, status.StateConnecting, "")
	time.Sleep(500 * time.Millisecond)
	if srv.IsOnline(testEmail) {
		t.Fatal("signed in without a free slot")
	}
	expectState(t, states, status.StateConnected, "")
}
