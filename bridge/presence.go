package bridge

import (
	"context"
	"errors"
	"net/http"
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
	err = putPresence(ctx, intent.Matrix.Client, presence, msg)
	if err != nil {
		m.log.Debug().Err(err).Str("contact", email).Msg("Failed to set ghost presence")
	}
	return err
}

// presenceRequest is the body of a presence update. Unlike
// mautrix.ReqPresence it always has status_msg: an empty one clears the
// previous status message ("Away", an old personal message), which the
// homeserver would otherwise keep.
type presenceRequest struct {
	Presence  event.Presence `json:"presence"`
	StatusMsg string         `json:"status_msg"`
}

// putPresence sets the presence of cli's user, always with its status
// message.
func putPresence(ctx context.Context, cli *mautrix.Client, presence event.Presence, statusMsg string) error {
	u := cli.BuildClientURL("v3", "presence", cli.UserID, "status")
	_, err := cli.MakeRequest(ctx, http.MethodPut, u, presenceRequest{Presence: presence, StatusMsg: statusMsg}, nil)
	return err
}

// startPresenceRefresh periodically re-sends online contacts' presence
// while a session is up; between sessions the statuses are not known, so
// nothing is re-sent and the homeserver lets them expire. It runs on a
// timer, not a goroutine of its own: an idle goroutine per login costs
// more memory than the whole timer. The returned function stops it.
func (m *MSNClient) startPresenceRefresh(every time.Duration) (stop func()) {
	if every <= 0 || !m.connector.Config.Presence.Enabled {
		return func() {}
	}
	var (
		mu      sync.Mutex
		stopped bool
		timer   *time.Timer
	)
	tick := func() {
		if m.currentSession() != nil { // connected now (IsLoggedIn is about credentials)
			m.presence.refresh()
		}
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			timer.Reset(every)
		}
	}
	mu.Lock()
	timer = time.AfterFunc(every, tick)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		timer.Stop()
	}
}
