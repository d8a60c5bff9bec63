package bridge

import (
	"context"
	"errors"
	"sync"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// contactPresence is what we show of a contact on Matrix.
type contactPresence struct {
	Status msnclient.Status
	PSM    string
}

// statusNames are the MSN states shown in the Matrix status message.
var statusNames = map[msnclient.Status]string{
	msnclient.StatusOnline:      "Online",
	msnclient.StatusBusy:        "Busy",
	msnclient.StatusIdle:        "Idle",
	msnclient.StatusBeRightBack: "Be right back",
	msnclient.StatusAway:        "Away",
	msnclient.StatusOnThePhone:  "On the phone",
	msnclient.StatusOutToLunch:  "Out to lunch",
	msnclient.StatusInvisible:   "Offline",
	msnclient.StatusOffline:     "Offline",
}

// matrixPresence maps an MSN status and personal message to Matrix presence.
func matrixPresence(p contactPresence) (event.Presence, string) {
	switch p.Status {
	case msnclient.StatusOnline:
		return event.PresenceOnline, p.PSM
	case msnclient.StatusOffline, msnclient.StatusInvisible, "":
		return event.PresenceOffline, p.PSM
	}
	name, ok := statusNames[p.Status]
	if !ok {
		name = string(p.Status)
	}
	if p.PSM == "" {
		return event.PresenceUnavailable, name
	}
	return event.PresenceUnavailable, name + " - " + p.PSM
}

// presenceBridge coalesces contact presence changes: at most one update per
// contact per interval, the last value winning.
type presenceBridge struct {
	enabled  bool
	interval time.Duration
	apply    func(ctx context.Context, email string, p contactPresence) error

	mu       sync.Mutex
	contacts map[string]*presenceState
	stopped  bool
}

type presenceState struct {
	current  contactPresence
	sent     contactPresence
	hasSent  bool
	lastSent time.Time
	timer    *time.Timer
	sending  bool
}

func newPresenceBridge(enabled bool, interval time.Duration, apply func(context.Context, string, contactPresence) error) *presenceBridge {
	return &presenceBridge{
		enabled:  enabled,
		interval: interval,
		apply:    apply,
		contacts: make(map[string]*presenceState),
	}
}

// update changes a contact's presence with fn and schedules the update.
func (pb *presenceBridge) update(email string, fn func(*contactPresence)) {
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
	fn(&st.current)
	pb.scheduleLocked(email, st)
}

func (pb *presenceBridge) scheduleLocked(email string, st *presenceState) {
	if st.timer != nil || st.sending || (st.hasSent && st.sent == st.current) {
		return
	}
	delay := time.Until(st.lastSent.Add(pb.interval))
	st.timer = time.AfterFunc(max(delay, 0), func() { pb.flush(email) })
}

// flush sends the contact's current presence.
func (pb *presenceBridge) flush(email string) {
	pb.mu.Lock()
	st, ok := pb.contacts[email]
	if !ok || pb.stopped {
		pb.mu.Unlock()
		return
	}
	st.timer = nil
	value := st.current
	st.sending = true
	pb.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := pb.apply(ctx, email, value)
	cancel()

	pb.mu.Lock()
	defer pb.mu.Unlock()
	st.sending = false
	st.lastSent = time.Now()
	if err == nil {
		st.sent, st.hasSent = value, true
	}
	if !pb.stopped && err == nil {
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
			st.hasSent = false
			pb.scheduleLocked(email, st)
		}
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

// setGhostPresence sets a contact ghost's Matrix presence.
func (m *MSNClient) setGhostPresence(ctx context.Context, email string, p contactPresence) error {
	if m.connector.Bridge == nil {
		return errors.New("bridge not running")
	}
	ghost, err := m.connector.Bridge.GetGhostByID(ctx, makeUserID(email))
	if err != nil {
		return err
	}
	intent, ok := ghost.Intent.(*matrix.ASIntent)
	if !ok {
		return errors.New("ghost intent is not an appservice intent")
	}
	if err := intent.Matrix.EnsureRegistered(ctx); err != nil {
		return err
	}
	presence, msg := matrixPresence(p)
	err = intent.Matrix.SetPresence(ctx, mautrix.ReqPresence{Presence: presence, StatusMsg: msg})
	if err != nil {
		m.log.Debug().Err(err).Str("contact", email).Msg("Failed to set ghost presence")
	}
	return err
}

// presenceRefreshLoop periodically re-sends online contacts' presence.
func (m *MSNClient) presenceRefreshLoop(ctx context.Context, every time.Duration) {
	if every <= 0 || !m.connector.Config.Presence.Enabled {
		return
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			m.presence.refresh()
		}
	}
}
