package bridge

import (
	"context"
	"errors"
	"fmt"

	up "go.mau.fi/util/configupgrade"
	"golang.org/x/time/rate"
)

// LoginRateConfig is the `login_rate` part of the network config section:
// a cap on how fast the bridge signs logins in to MSN, so that a server
// restart (or a bridge restart) under thousands of logins does not turn
// into a storm of Passport logins all at the same second.
type LoginRateConfig struct {
	// MaxPerSecond is the most MSN sign-ins the bridge starts per second
	// over all logins; 0 means no cap.
	MaxPerSecond float64 `yaml:"max_per_second"`
}

// DefaultMaxLoginsPerSecond is the cap when the config has none.
const DefaultMaxLoginsPerSecond = 50

// LoginRateExampleConfig is the example YAML of LoginRateConfig, for the
// network section of example-config.yaml.
const LoginRateExampleConfig = `# Sign-ins to MSN are spread over time: after the MSN server restarts,
# every login reconnects after its own randomised delay (2 s +-20% at
# first, then longer), and the bridge starts at most this many sign-ins
# per second over all logins (each one is a Passport login plus the
# contact list download). 0 disables the cap.
login_rate:
    max_per_second: 50
`

// Validate rejects a negative rate.
func (lc LoginRateConfig) Validate() error {
	if lc.MaxPerSecond < 0 {
		return fmt.Errorf("login_rate.max_per_second must not be negative, got %v", lc.MaxPerSecond)
	}
	return nil
}

func upgradeLoginRate(helper up.Helper) {
	helper.Copy(up.Int|up.Float, "login_rate", "max_per_second")
}

// loginLimiter spaces out sign-ins. A nil *loginLimiter lets every sign-in
// through at once.
type loginLimiter struct {
	limiter *rate.Limiter
}

// newLoginLimiter returns the limiter of cfg, or nil when it has no cap.
func newLoginLimiter(cfg LoginRateConfig) *loginLimiter {
	if cfg.MaxPerSecond <= 0 {
		return nil
	}
	// A small burst lets a handful of logins start together; the rest
	// follow at the configured rate.
	burst := max(1, int(cfg.MaxPerSecond/10))
	return &loginLimiter{limiter: rate.NewLimiter(rate.Limit(cfg.MaxPerSecond), burst)}
}

// Wait blocks until this sign-in may start, or ctx ends.
func (l *loginLimiter) Wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	if err := l.limiter.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.Join(errLoginRateWait, err)
	}
	return nil
}

var errLoginRateWait = errors.New("wait for a sign-in slot")
