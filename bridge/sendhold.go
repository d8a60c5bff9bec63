package bridge

import (
	"context"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// sendHoldTimeout is how long a Matrix message waits for the MSN session
// while the bridge reconnects, before it is reported failed (retriable).
const sendHoldTimeout = 20 * time.Second

// waitConnected returns the connected msnclient, waiting up to sendHold
// for the session to come back while the connect loop is reconnecting. It
// returns ErrNotConnected at once when no connect loop runs (stopped, or it
// gave up for good) and after the wait.
func (m *MSNClient) waitConnected(ctx context.Context) (*msnclient.Client, error) {
	timer := time.NewTimer(m.sendHold)
	defer timer.Stop()
	for {
		m.mu.Lock()
		sess, running, changed := m.sess, m.loopCancel != nil, m.sessChanged
		if running {
			select {
			case <-m.loopDone:
				running = false // the loop gave up for good
			default:
			}
		}
		m.mu.Unlock()
		if sess != nil {
			return sess.client, nil
		}
		if !running || m.credsProblem.Load() {
			return nil, msnclient.ErrNotConnected
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil, msnclient.ErrNotConnected
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
