package bridge

import (
	"math/rand/v2"
	"time"
)

// Reconnect backoff: a failed sign-in or a session that ended soon after it
// began waits longer each time, from backoffBase doubling up to backoffMax,
// with ±20% jitter so that many logins do not reconnect in step. Only a
// session that stayed up for stableSessionAfter resets the count: a server
// that accepts the login and then drops or signs out the session at once
// must not make the bridge do a full Passport login every few seconds (which
// can get the account locked).
const (
	backoffBase        = 2 * time.Second
	backoffMax         = 5 * time.Minute
	stableSessionAfter = time.Minute
)

// backoffDelay is the wait before reconnect attempt n (1-based).
func backoffDelay(n int) time.Duration {
	d := backoffBase
	for i := 1; i < n && d < backoffMax; i++ {
		d *= 2
	}
	d = min(d, backoffMax)
	jitter := time.Duration((rand.Float64()*0.4 - 0.2) * float64(d))
	return d + jitter
}

// reconnectFailures counts the consecutive failures of a connect loop.
type reconnectFailures struct {
	n         int
	stableFor time.Duration
}

// failed records a sign-in that failed and returns the attempt number to
// back off for.
func (f *reconnectFailures) failed() int {
	f.n++
	return f.n
}

// ended records a session that ended after lasting up; a session that
// stayed up for stableFor starts the count again.
func (f *reconnectFailures) ended(up time.Duration) int {
	if up >= f.stableFor {
		f.n = 0
	}
	f.n++
	return f.n
}
