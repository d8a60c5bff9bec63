package bridge

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// connectRun is the connect loop of one login: it signs in, waits for the
// session to end and signs in again with backoff, until stopped or the
// server refuses us for good. A goroutine runs only while signing in or
// backing off; while a session is up nothing waits on a stack (an idle
// login would pay a goroutine stack for it): the session's end and the
// loop's context call back into the loop instead.
type connectRun struct {
	m        *MSNClient
	ctx      context.Context
	cfg      msnclient.Config
	failures reconnectFailures
	// stopRefresh stops the presence refresh, which re-sends online
	// presence and so lives no longer than the loop.
	stopRefresh func()
	done        chan struct{} // closed when the loop has ended
}

// connectLoop starts the connect loop; done is closed when it has ended.
// sess is a session already connected by the login process, or nil.
func (m *MSNClient) connectLoop(ctx context.Context, cfg msnclient.Config, sess *session, done chan struct{}) {
	r := &connectRun{
		m:        m,
		ctx:      ctx,
		cfg:      cfg,
		failures: reconnectFailures{stableFor: m.stableSession},
		done:     done,
	}
	r.stopRefresh = m.startPresenceRefresh(m.refreshEvery)
	r.run(sess)
}

// finish ends the loop. Contacts are only known to be online while a
// session is up: when the loop ends by itself (signed in elsewhere, bad
// credentials, closed), they are shown offline instead of being left
// online for ever.
func (r *connectRun) finish() {
	r.stopRefresh()
	if r.ctx.Err() == nil {
		r.m.presence.markAllOffline()
	}
	close(r.done)
}

// run signs in unless sess is connected already, retrying with backoff,
// and returns once the session is up (its end is awaited without a
// goroutine) or the loop has ended.
func (r *connectRun) run(sess *session) {
	m, ctx := r.m, r.ctx
	for sess == nil {
		m.sendState(status.StateConnecting, "", nil)
		if m.connector.logins.Wait(ctx) != nil {
			r.finish()
			return
		}
		m.connector.metrics.SignInStarted()
		r.cfg.InitialStatus = m.ownProfile().initialStatus() // never online first when invisible
		r.cfg.DisplayPicture = m.ownPicture()
		var err error
		signedIn := m.connector.gc.begin()
		sess, err = dialSession(ctx, r.cfg)
		signedIn()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			r.finish()
			return
		}
		switch {
		case errors.Is(err, msnclient.ErrBadCredentials):
			m.sendState(status.StateBadCredentials, ErrCodeBadCredentials, err)
			r.finish()
			return
		case errors.Is(err, msnclient.ErrSignedInElsewhere):
			m.sendState(status.StateBadCredentials, ErrCodeSignedInElsewhere, err)
			r.finish()
			return
		}
		n := r.failures.failed()
		delay := m.backoff(n)
		m.log.Warn().Err(err).Int("failures", n).Stringer("retry_in", delay).Msg("Failed to connect to MSN")
		m.sendState(status.StateTransientDisconnect, ErrCodeConnectFailed, err)
		if !sleepCtx(ctx, delay) {
			r.finish()
			return
		}
	}
	r.connected(sess)
}

// connected makes sess the login's session and arranges for its end (or
// the loop's) to call back: the first of the two wins.
func (r *connectRun) connected(sess *session) {
	m, ctx := r.m, r.ctx
	connectedAt := time.Now()
	// Work of this session (event handling, contact syncs) ends with it: a
	// stale session never writes over a newer one.
	sessCtx, endSession := context.WithCancel(ctx)
	m.setSession(sessCtx, sess)
	m.sendState(status.StateConnected, "", nil)
	m.bg.Go(func() {
		synced := m.connector.gc.begin()
		defer synced()
		m.syncAfterConnect(sessCtx, sess)
	})
	m.bg.Go(func() { m.afterSignIn(sessCtx, sess) })

	var fired atomic.Bool
	stopWaitingCtx := context.AfterFunc(ctx, func() {
		if fired.CompareAndSwap(false, true) {
			endSession()
			m.setSession(ctx, nil)
			_ = sess.client.Close()
			r.finish()
		}
	})
	sess.afterDone(func() {
		if fired.CompareAndSwap(false, true) {
			stopWaitingCtx()
			endSession()
			m.setSession(ctx, nil)
			r.ended(sess.reason(), time.Since(connectedAt))
		}
	})
}

// ended handles the end of a session that lasted up: it reconnects after
// the backoff unless the end was final.
func (r *connectRun) ended(reason *msnclient.Disconnected, up time.Duration) {
	m := r.m
	switch reason.Reason {
	case msnclient.ReasonClosed:
		r.finish()
		return
	case msnclient.ReasonOtherLogin:
		m.log.Warn().Msg("Signed in from another place; not reconnecting")
		m.sendState(status.StateBadCredentials, ErrCodeSignedInElsewhere, nil)
		r.finish()
		return
	case msnclient.ReasonServerShutdown:
		m.sendState(status.StateTransientDisconnect, ErrCodeServerShutdown, reason.Err)
	default:
		m.sendState(status.StateTransientDisconnect, ErrCodeDisconnected, reason.Err)
	}
	n := r.failures.ended(up)
	delay := m.backoff(n)
	m.log.Warn().Err(reason.Err).Int("reason", int(reason.Reason)).Int("failures", n).Stringer("retry_in", delay).
		Msg("Disconnected from MSN, reconnecting")
	if !sleepCtx(r.ctx, delay) {
		r.finish()
		return
	}
	r.run(nil)
}
