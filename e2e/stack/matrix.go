package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/synapseadmin"
)

// RegisterUser creates a Matrix account with shared-secret registration and
// returns a logged-in client.
func RegisterUser(ctx context.Context, hsURL, sharedSecret, username, password string) (*mautrix.Client, error) {
	anon, err := mautrix.NewClient(hsURL, "", "")
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	anon.Client = &http.Client{Timeout: 60 * time.Second}
	admin := synapseadmin.Client{Client: anon}
	resp, err := admin.SharedSecretRegister(ctx, sharedSecret, synapseadmin.ReqSharedSecretRegister{
		Username: username,
		Password: password,
	})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", username, err)
	}
	cli, err := mautrix.NewClient(hsURL, resp.UserID, resp.AccessToken)
	if err != nil {
		return nil, fmt.Errorf("create client for %s: %w", resp.UserID, err)
	}
	cli.Client = &http.Client{Timeout: 60 * time.Second}
	return cli, nil
}

// SeenEvent is an event seen in /sync, with the room it came from and when
// the client saw it.
type SeenEvent struct {
	*event.Event
	Seen  time.Time
	Index int // position in the user's event log; Index+1 is the cursor after it
}

// User is a Matrix account whose /sync runs in the background. It joins every
// room it is invited to, like a person accepting the bridge's invites, and
// keeps every timeline and state event for the Wait* helpers.
type User struct {
	*mautrix.Client

	mu       sync.Mutex
	events   []SeenEvent
	changed  chan struct{} // closed and replaced whenever events grows
	syncErr  error
	joinErrs []error

	cancel context.CancelFunc
	done   chan struct{}
}

// NewUser starts syncing for cli. Stop it with Close.
func NewUser(cli *mautrix.Client) *User {
	ctx, cancel := context.WithCancel(context.Background())
	u := &User{Client: cli, changed: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	go u.syncLoop(ctx)
	return u
}

// Close stops the sync loop.
func (u *User) Close() {
	u.cancel()
	<-u.done
}

func (u *User) syncLoop(ctx context.Context) {
	defer close(u.done)
	since := ""
	failures := 0
	for ctx.Err() == nil {
		resp, err := u.SyncRequest(ctx, 10000, since, "", false, event.PresenceOnline)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			if failures > 30 {
				u.fail(fmt.Errorf("sync keeps failing: %w", err))
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		failures = 0
		since = resp.NextBatch
		u.record(resp)
		for roomID := range resp.Rooms.Invite {
			if _, err := u.JoinRoomByID(ctx, roomID); err != nil && ctx.Err() == nil {
				// Not fatal (the room may be gone already); kept for reports.
				u.mu.Lock()
				u.joinErrs = append(u.joinErrs, fmt.Errorf("join %s: %w", roomID, err))
				u.mu.Unlock()
			}
		}
	}
}

func (u *User) fail(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.syncErr == nil {
		u.syncErr = err
	}
	close(u.changed)
	u.changed = make(chan struct{})
}

// recordEvent keeps one event (the encrypting user's syncer hands them over
// one by one, decrypted ones included).
func (u *User) recordEvent(evt *event.Event) {
	if evt.Content.Parsed == nil {
		_ = evt.Content.ParseRaw(evt.Type)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.events = append(u.events, SeenEvent{Event: evt, Seen: time.Now()})
	close(u.changed)
	u.changed = make(chan struct{})
}

func (u *User) record(resp *mautrix.RespSync) {
	now := time.Now()
	var got []SeenEvent
	add := func(roomID id.RoomID, evts []*event.Event) {
		for _, evt := range evts {
			evt.RoomID = roomID
			if evt.Content.Parsed == nil {
				_ = evt.Content.ParseRaw(evt.Type)
			}
			got = append(got, SeenEvent{Event: evt, Seen: now})
		}
	}
	for roomID, room := range resp.Rooms.Join {
		add(roomID, room.State.Events)
		add(roomID, room.Timeline.Events)
	}
	for roomID, room := range resp.Rooms.Invite {
		add(roomID, room.State.Events)
	}
	for roomID, room := range resp.Rooms.Leave {
		add(roomID, room.Timeline.Events)
	}
	for _, evt := range resp.Presence.Events {
		got = append(got, SeenEvent{Event: evt, Seen: now})
		if evt.Content.Parsed == nil {
			_ = evt.Content.ParseRaw(evt.Type)
		}
	}
	if len(got) == 0 {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.events = append(u.events, got...)
	close(u.changed)
	u.changed = make(chan struct{})
}

// JoinErrors returns the invites that could not be accepted.
func (u *User) JoinErrors() []error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]error(nil), u.joinErrs...)
}

// Events returns a copy of everything seen so far.
func (u *User) Events() []SeenEvent {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]SeenEvent(nil), u.events...)
}

// Cursor marks the current end of the seen events; WaitEventAfter looks only
// at events seen later.
func (u *User) Cursor() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.events)
}

// ErrWaitTimeout is returned when an awaited event did not come.
var ErrWaitTimeout = errors.New("event did not arrive in time")

// WaitEvent waits for any seen event (past or future) matching match.
func (u *User) WaitEvent(ctx context.Context, timeout time.Duration, match func(*event.Event) bool) (SeenEvent, error) {
	return u.WaitEventAfter(ctx, 0, timeout, match)
}

// WaitEventAfter waits for an event seen after cursor matching match.
func (u *User) WaitEventAfter(ctx context.Context, cursor int, timeout time.Duration, match func(*event.Event) bool) (SeenEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	next := cursor
	for {
		u.mu.Lock()
		evts := u.events[next:]
		changed := u.changed
		syncErr := u.syncErr
		u.mu.Unlock()
		for i, evt := range evts {
			if match(evt.Event) {
				evt.Index = next + i
				return evt, nil
			}
		}
		next += len(evts)
		if syncErr != nil {
			return SeenEvent{}, syncErr
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return SeenEvent{}, fmt.Errorf("%w (%s)", ErrWaitTimeout, timeout)
		}
	}
}
