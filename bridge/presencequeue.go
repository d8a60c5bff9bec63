package bridge

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// Failed presence updates are retried with exponential backoff, from
// presenceRetryBase up to presenceRetryMax, at most presenceMaxRetries
// times; after that the next change or refresh tries again.
const (
	presenceRetryBase  = 2 * time.Second
	presenceRetryMax   = time.Minute
	presenceMaxRetries = 6
)

// presenceRetryDelay is the wait before retry number attempt (1-based).
func presenceRetryDelay(attempt int) time.Duration {
	d := presenceRetryBase
	for i := 1; i < attempt && d < presenceRetryMax; i++ {
		d *= 2
	}
	return min(d, presenceRetryMax)
}

// presenceBridge coalesces contact presence changes: at most one update per
// contact per interval, the last value winning. It owns the presence shown
// on Matrix and orders its sources: live changes (update) always apply,
// while values from a contact list snapshot (updateSnapshot) never
// overwrite a live change that happened after the snapshot was taken.
type presenceBridge struct {
	enabled  bool
	interval time.Duration
	apply    func(ctx context.Context, email string, p contactPresence) error
	log      zerolog.Logger

	retryDelay func(attempt int) time.Duration
	maxRetries int

	epoch time.Time // origin of the presenceState times

	mu       sync.Mutex
	contacts map[string]*presenceState
	stopped  bool
	version  uint64 // counts live changes
}

// presenceState is one contact's presence; every login keeps one per
// contact, so it is kept small (times as offsets from the bridge's epoch,
// the flags together, the retry time derived): 96 bytes instead of 160.
type presenceState struct {
	current contactPresence
	sent    contactPresence // last value applied
	changed uint64          // version of the last live change
	timer   *time.Timer

	lastSent time.Duration // since pb.epoch; 0: never
	failures int32         // consecutive failed attempts (the last at lastSent)

	hasSent bool
	resend  bool // refresh asked to send again even if unchanged
	sending bool
}

func newPresenceBridge(enabled bool, interval time.Duration, log zerolog.Logger, apply func(context.Context, string, contactPresence) error) *presenceBridge {
	return &presenceBridge{
		enabled:    enabled,
		interval:   interval,
		apply:      apply,
		log:        log,
		retryDelay: presenceRetryDelay,
		maxRetries: presenceMaxRetries,
		epoch:      time.Now(),
		contacts:   make(map[string]*presenceState),
	}
}

// now is the current time as an offset from pb.epoch (never 0).
func (pb *presenceBridge) now() time.Duration {
	return max(time.Since(pb.epoch), 1)
}

// until is the time left until offset d (0: none) from pb.epoch.
func (pb *presenceBridge) until(d time.Duration) time.Duration {
	if d == 0 {
		return 0
	}
	return d - time.Since(pb.epoch)
}

// mark returns the ordering point for a contact list snapshot: take it
// before reading the snapshot and pass it to updateSnapshot.
func (pb *presenceBridge) mark() uint64 {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return pb.version
}

// update applies a live change to a contact's presence and schedules the
// update.
func (pb *presenceBridge) update(email string, fn func(*contactPresence)) {
	pb.change(email, 0, true, fn)
}

// updateSnapshot applies a value read from a contact list snapshot taken
// after mark returned since, unless a live change arrived after that: the
// live change is newer than the snapshot.
func (pb *presenceBridge) updateSnapshot(email string, since uint64, fn func(*contactPresence)) {
	pb.change(email, since, false, fn)
}

func (pb *presenceBridge) change(email string, since uint64, live bool, fn func(*contactPresence)) {
	if !pb.enabled {
		return
	}
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if pb.stopped {
		return
	}
	st, ok := pb.contacts[email]
	if !ok {
		st = &presenceState{}
		pb.contacts[email] = st
	}
	if !live && st.changed > since {
		return
	}
	fn(&st.current)
	if live {
		pb.version++
		st.changed = pb.version
	}
	pb.scheduleLocked(email, st)
}

// retryAt is the earliest retry after a failed attempt, since pb.epoch;
// 0: none.
func (pb *presenceBridge) retryAt(st *presenceState) time.Duration {
	if st.failures == 0 {
		return 0
	}
	return st.lastSent + pb.retryDelay(int(st.failures))
}

func (pb *presenceBridge) scheduleLocked(email string, st *presenceState) {
	if st.timer != nil || st.sending || (st.hasSent && !st.resend && st.sent == st.current) {
		return
	}
	var sinceSent time.Duration // the interval counts from the last send
	if st.lastSent != 0 {
		sinceSent = pb.until(st.lastSent + pb.interval)
	}
	delay := max(sinceSent, pb.until(pb.retryAt(st)), 0)
	st.timer = time.AfterFunc(delay, func() { pb.flush(email) })
}

// flush sends the contact's current presence, retrying with backoff when
// it fails.
func (pb *presenceBridge) flush(email string) {
	pb.mu.Lock()
	st, ok := pb.contacts[email]
	if !ok || pb.stopped {
		pb.mu.Unlock()
		return
	}
	st.timer = nil
	value := st.current
	st.sending, st.resend = true, false
	pb.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := pb.apply(ctx, email, value)
	cancel()

	pb.mu.Lock()
	defer pb.mu.Unlock()
	st.sending = false
	st.lastSent = pb.now()
	if err == nil {
		st.sent, st.hasSent = value, true
		st.failures = 0
	} else {
		st.hasSent = false
		st.failures++
		if int(st.failures) > pb.maxRetries {
			pb.log.Warn().Err(err).Str("contact", email).Int32("attempts", st.failures).
				Msg("Giving up setting ghost presence until the next change")
			st.failures = 0
			return
		}
	}
	if !pb.stopped {
		pb.scheduleLocked(email, st)
	}
}

// refresh re-sends the presence of every contact that is not offline, since
// homeservers expire the presence of users that do not sync.
func (pb *presenceBridge) refresh() {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	for email, st := range pb.contacts {
		if st.current.Status != msnclient.StatusOffline && st.current.Status != "" {
			st.resend = true
			pb.scheduleLocked(email, st)
		}
	}
}

// markAllOffline shows every contact offline (keeping their personal
// message), as a live change: used when the login's session ends for good
// and their real status is no longer known. A later refresh sends nothing.
func (pb *presenceBridge) markAllOffline() {
	if !pb.enabled {
		return
	}
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if pb.stopped {
		return
	}
	for email, st := range pb.contacts {
		if st.current.Status == msnclient.StatusOffline || st.current.Status == "" {
			continue // already shown offline
		}
		st.current.Status = msnclient.StatusOffline
		pb.version++
		st.changed = pb.version
		pb.scheduleLocked(email, st)
	}
}

// stop cancels pending updates; later updates are ignored.
func (pb *presenceBridge) stop() {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	pb.stopped = true
	for _, st := range pb.contacts {
		if st.timer != nil {
			st.timer.Stop()
			st.timer = nil
		}
	}
}

// restart accepts updates again after stop (on reconnect).
func (pb *presenceBridge) restart() {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	pb.stopped = false
}
