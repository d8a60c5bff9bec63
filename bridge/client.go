package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/mautrix-msn/mautrix-msn/msnclient"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Bridge state error codes of MSN logins.
const (
	ErrCodeDisconnected          status.BridgeStateErrorCode = "msn-disconnected"
	ErrCodeConnectFailed         status.BridgeStateErrorCode = "msn-connect-failed"
	ErrCodeServerShutdown        status.BridgeStateErrorCode = "msn-server-shutdown"
	ErrCodeBadCredentials        status.BridgeStateErrorCode = "msn-bad-credentials"
	ErrCodeSignedInElsewhere     status.BridgeStateErrorCode = "msn-signed-in-elsewhere"
	ErrCodeNoCredentials         status.BridgeStateErrorCode = "msn-no-credentials"
	ErrCodeUnknownServerInConfig status.BridgeStateErrorCode = "msn-unknown-server"
)

func init() {
	status.BridgeStateHumanErrors.Update(status.BridgeStateErrorMap{
		ErrCodeDisconnected:   "Disconnected from MSN, reconnecting…",
		ErrCodeConnectFailed:  "Could not connect to the MSN server, retrying…",
		ErrCodeServerShutdown: "The MSN server is shutting down, reconnecting…",
		ErrCodeBadCredentials: "Wrong email or password. Use `relogin` to log in again.",
		ErrCodeSignedInElsewhere: "Signed in to MSN from another place, so the bridge was signed out. " +
			"It will not reconnect by itself; use `reconnect` (or `relogin`) to sign in from the bridge again.",
		ErrCodeNoCredentials: "The stored MSN password is missing or unreadable (was credentials_key changed?). " +
			"Use `relogin` to log in again.",
		ErrCodeUnknownServerInConfig: "The MSN server of this login is no longer in the bridge config. Use `relogin`.",
	})
}

// connectTimeout bounds one login attempt.
const connectTimeout = 2 * time.Minute

// MSNClient is the bridgev2.NetworkAPI of one MSN login.
type MSNClient struct {
	connector *Connector
	login     *bridgev2.UserLogin
	meta      *UserLoginMetadata
	log       zerolog.Logger

	mu         sync.Mutex
	sess       *session        // current connected session, nil when offline
	sessCtx    context.Context // lives as long as sess
	adopted    *session        // connected session handed over by the login process
	loopCancel context.CancelFunc
	loopDone   chan struct{}

	// stateSink receives bridge states (the login's queue; tests replace it).
	stateSink func(status.BridgeState)
	// cancelDisconnectNotice drops bridgev2's pending notice about a
	// transient disconnect once connected again (tests replace it).
	cancelDisconnectNotice func()
	// queueRemote hands remote events to bridgev2 (tests replace it).
	queueRemote func(bridgev2.RemoteEvent)
	// saveLogin stores the login row (tests replace it).
	saveLogin func(context.Context) error
	// backoff is the reconnect delay before attempt n (tests shorten it).
	backoff func(n int) time.Duration
	// stableSession is how long a session must stay up to reset the
	// backoff (tests shorten it).
	stableSession time.Duration
	// refreshEvery is how often online contacts' presence is re-sent
	// (config; tests shorten it).
	refreshEvery time.Duration

	// credsProblem is set while the login cannot sign in without the user
	// (password missing or rejected, signed in elsewhere): IsLoggedIn.
	credsProblem atomic.Bool
	// sessChanged is closed and replaced whenever the session changes.
	sessChanged chan struct{}
	// sendHold is how long a message waits for the session while
	// reconnecting (tests shorten it).
	sendHold time.Duration
	names    nameCache // email -> friendly name seen in messages and joins

	profileMu sync.Mutex // guards login.RemoteProfile
	syncMu    sync.Mutex // one contact list sync at a time
	// spaceMembersSynced: every forward-list contact joined the login's
	// space at a sync of this process (contacts.go).
	spaceMembersSynced atomic.Bool
	// contactDBMu orders writes to the stored contact snapshot: a sync reads
	// msnclient's list and stores it under it, and live presence is stored
	// under it, so a stale snapshot never overwrites newer presence.
	contactDBMu sync.Mutex

	notifiedMu sync.Mutex
	notified   map[string]bool // contact requests already announced

	// bg tracks the login's goroutines; side does the homeserver and
	// database work that follows MSN events, off the event goroutine.
	bg   background
	side *sideWork

	ownPic ownPicture // see avatar_own.go

	msgIDs   *messageIDGenerator
	typing   *typingSender
	presence *presenceBridge
	convs    *conversationTracker
	delivery deliveryTracker // sends awaiting a late acknowledgement

	offlineOnce   sync.Once
	offline       *offlineReceiver             // offline.go
	offlineModeMu sync.Mutex                   // guards offlineMode
	offlineMode   map[networkid.PortalKey]bool // last message to the portal went as an offline message

	circlesOnce sync.Once
	circleSt    *circleState // circles.go
}

var (
	_ bridgev2.NetworkAPI                    = (*MSNClient)(nil)
	_ bridgev2.TypingHandlingNetworkAPI      = (*MSNClient)(nil)
	_ bridgev2.IdentifierResolvingNetworkAPI = (*MSNClient)(nil)
	_ bridgev2.GhostDMCreatingNetworkAPI     = (*MSNClient)(nil)
	_ bridgev2.ContactListingNetworkAPI      = (*MSNClient)(nil)
	_ bridgev2.UserSearchingNetworkAPI       = (*MSNClient)(nil)
)

func newMSNClient(c *Connector, login *bridgev2.UserLogin, meta *UserLoginMetadata) *MSNClient {
	m := &MSNClient{
		connector: c,
		login:     login,
		meta:      meta,
		log:       login.Log.With().Str("component", "msn").Logger(),
		msgIDs:    newMessageIDGenerator(),
		convs:     newConversationTracker(),
		notified:  make(map[string]bool),
		backoff:   backoffDelay,

		stableSession: stableSessionAfter,
		sendHold:      sendHoldTimeout,
		sessChanged:   make(chan struct{}),

		refreshEvery: c.Config.presenceRefresh(),
	}
	m.stateSink = func(state status.BridgeState) {
		if login.BridgeState != nil {
			login.BridgeState.Send(state)
		}
	}
	// bridgev2 waits 3 minutes on a goroutine of the login after a
	// TRANSIENT_DISCONNECT before it notices the user, and does not stop
	// waiting when the login is CONNECTED again: after an MSN server
	// restart every login kept one more goroutine and timer for minutes.
	m.cancelDisconnectNotice = func() {
		if login.BridgeState != nil {
			login.BridgeState.StopUnknownErrorReconnect()
		}
	}
	m.queueRemote = func(evt bridgev2.RemoteEvent) { login.QueueRemoteEvent(evt) }
	m.saveLogin = login.Save
	m.side = newSideWork(m.log)
	m.side.applyName = m.updateGhostName
	m.side.storePresence = m.storePresence
	m.side.saveOwnName = m.saveOwnName
	m.typing = newTypingSender(typingRepeatInterval, m.sendTyping)
	m.presence = newPresenceBridge(c.Config.Presence.Enabled, c.Config.presenceInterval(), m.log, m.setGhostPresence)
	return m
}

// adoptSession gives the client an already connected session (from the
// login process) that Connect uses instead of signing in again.
func (m *MSNClient) adoptSession(sess *session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.adopted = sess
}

// Connect implements bridgev2.NetworkAPI. It returns at once; a goroutine
// signs in and keeps the session up.
func (m *MSNClient) Connect(ctx context.Context) {
	if m.startConnectLoop() {
		// Saved outside m.mu: no lock is held during database I/O.
		m.profileMu.Lock()
		defer m.profileMu.Unlock()
		if err := m.saveLogin(ctx); err != nil {
			m.log.Err(err).Msg("Failed to save new machine GUID")
		}
	}
}

// startConnectLoop starts the connect loop unless it runs already. It
// reports whether it gave the login a new machine GUID that must be saved.
func (m *MSNClient) startConnectLoop() (newGUID bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loopCancel != nil {
		return false
	}
	m.credsProblem.Store(false)
	adopted := m.adopted
	m.adopted = nil
	srv, ok := m.connector.Config.Server(m.meta.Server)
	if !ok {
		m.closeAdopted(adopted)
		m.sendState(status.StateBadCredentials, ErrCodeUnknownServerInConfig, nil)
		return
	}
	password, err := m.password()
	if err != nil {
		m.closeAdopted(adopted)
		m.log.Warn().Err(err).Msg("Stored password unusable")
		m.sendState(status.StateBadCredentials, ErrCodeNoCredentials, nil)
		return
	}
	if m.meta.MachineGUID == "" {
		m.meta.MachineGUID = msnp.NewGUID()
		newGUID = true
	}
	cfg := m.connector.loginConfig(srv, m.meta.Email, password, m.meta.MachineGUID)
	cfg.SwitchboardIdleTimeout = m.connector.Config.switchboardIdleTimeout()
	cfg.MaxPictureSize = m.connector.Config.Pictures.maxSize()
	cfg.MaxFileSize = m.connector.Config.maxFileSize()
	cfg.P2PTimeout = m.connector.Config.fileOfferTimeout()
	cfg.EndpointName = m.connector.Config.EndpointName
	// The library adds the account to the login's own logger; another
	// child logger here would cost each login half a KiB more.
	logger := m.log
	cfg.Logger = &logger

	loopCtx, cancel := context.WithCancel(m.log.WithContext(m.backgroundCtx()))
	m.loopCancel = cancel
	m.loopDone = make(chan struct{})
	m.side.start(loopCtx, &m.bg) // a worker runs while work is queued
	go m.connectLoop(loopCtx, cfg, adopted, m.loopDone)
	return newGUID
}

func (m *MSNClient) closeAdopted(sess *session) {
	if sess != nil {
		_ = sess.client.Close()
	}
}

func (m *MSNClient) backgroundCtx() context.Context {
	if m.connector.Bridge != nil && m.connector.Bridge.BackgroundCtx != nil {
		return m.connector.Bridge.BackgroundCtx
	}
	return context.Background()
}

// password decrypts the stored password.
func (m *MSNClient) password() (string, error) {
	if m.meta.EncryptedPassword == "" {
		return "", errors.New("no stored password")
	}
	return decryptPassword(m.connector.Config.credentialsKey, m.login.ID, m.meta.EncryptedPassword)
}

// dialSession creates a client and signs in.
func dialSession(ctx context.Context, cfg msnclient.Config) (*session, error) {
	sess := newSession()
	sess.client = msnclient.NewClient(cfg, sess.handle)
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := sess.client.Connect(ctx); err != nil {
		_ = sess.client.Close()
		return nil, fmt.Errorf("sign in to %s as %s: %w", cfg.Server, cfg.Email, err)
	}
	return sess, nil
}

// setSession makes sess the current session (nil: offline) and attaches
// the event handler, whose work lives no longer than ctx.
func (m *MSNClient) setSession(ctx context.Context, sess *session) {
	m.mu.Lock()
	m.sess, m.sessCtx = sess, ctx
	close(m.sessChanged)
	m.sessChanged = make(chan struct{})
	m.mu.Unlock()
	if sess != nil {
		m.presence.restart()
		sess.attach(func(evt any) { m.handleEvent(ctx, sess, evt) })
	} else {
		m.typing.stopAll()
	}
}

// client returns the connected msnclient, or ErrNotConnected.
func (m *MSNClient) client() (*msnclient.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sess == nil {
		return nil, msnclient.ErrNotConnected
	}
	return m.sess.client, nil
}

// Disconnect implements bridgev2.NetworkAPI: it signs out and stops the
// connect loop, waiting a few seconds at most.
func (m *MSNClient) Disconnect() {
	m.mu.Lock()
	cancel, done, sess, adopted := m.loopCancel, m.loopDone, m.sess, m.adopted
	m.loopCancel, m.loopDone, m.adopted = nil, nil, nil
	m.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if sess != nil {
		_ = sess.client.Close()
	}
	m.closeAdopted(adopted)
	if done != nil {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			m.log.Warn().Msg("Connect loop did not stop in time")
		}
	}
	if !m.bg.Wait(5 * time.Second) {
		m.log.Warn().Msg("Background work of the login did not stop in time")
	}
	m.typing.stopAll()
	m.presence.stop()
	m.connector.waitAvatars(5 * time.Second)
}

// IsLoggedIn implements bridgev2.NetworkAPI. bridgev2 asks whether the
// login can be used, not whether it is connected this instant: it is true
// unless the credentials are missing or were rejected (or the account was
// signed in elsewhere, which needs the user to act). Messages sent while
// reconnecting wait for the session (see waitConnected).
func (m *MSNClient) IsLoggedIn() bool {
	return !m.credsProblem.Load()
}

// LogoutRemote implements bridgev2.NetworkAPI: it signs out of MSN and
// forgets the stored password and our tables' data of the login.
func (m *MSNClient) LogoutRemote(ctx context.Context) {
	m.credsProblem.Store(true)
	// Disconnect stops the connect loop and waits for the login's
	// background work (contact syncs), so nothing writes rows back after
	// they are deleted below.
	m.Disconnect()
	m.side.reset()
	m.connector.metrics.LoginRemoved(string(m.login.ID))
	m.meta.EncryptedPassword = ""
	if m.connector.Bridge != nil { // nil outside a running bridge (tests)
		if err := m.login.Save(ctx); err != nil {
			m.log.Err(err).Msg("Failed to clear stored password")
		}
	}
	if err := m.connector.DB.Contact.DeleteAll(ctx, string(m.login.ID)); err != nil {
		m.log.Err(err).Msg("Failed to delete contact snapshot")
	}
	if err := m.connector.DB.GroupPortal.DeleteAll(ctx, string(m.login.ID)); err != nil {
		m.log.Err(err).Msg("Failed to delete group portal mappings")
	}
	m.deleteAllGroupSpaces(ctx)
	if err := m.connector.DB.Offline.DeleteAll(ctx, string(m.login.ID)); err != nil {
		m.log.Err(err).Msg("Failed to delete offline message records")
	}
}

// IsThisUser implements bridgev2.NetworkAPI.
func (m *MSNClient) IsThisUser(_ context.Context, userID networkid.UserID) bool {
	return userID == makeUserID(m.meta.Email)
}

// selfUserID is the ghost ID of the login's own account.
func (m *MSNClient) selfUserID() networkid.UserID {
	return makeUserID(m.meta.Email)
}

// sendState reports a bridge state of the login. err is only logged in the
// state's info, never a password.
func (m *MSNClient) sendState(evt status.BridgeStateEvent, code status.BridgeStateErrorCode, err error) {
	m.connector.metrics.LoginState(string(m.login.ID), string(evt))
	state := status.BridgeState{StateEvent: evt, Error: code}
	if err != nil {
		state.Info = map[string]any{"go_error": err.Error()}
	}
	if code == ErrCodeSignedInElsewhere || code == ErrCodeBadCredentials || code == ErrCodeNoCredentials {
		state.UserAction = status.UserActionRelogin
	}
	if evt == status.StateBadCredentials {
		m.credsProblem.Store(true)
	}
	m.stateSink(state)
	if evt == status.StateConnected {
		m.cancelDisconnectNotice()
	}
}

// sleepCtx waits d or until ctx is done; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// markRequestNotified records that a contact request from email was shown;
// it reports false when it already was.
func (m *MSNClient) markRequestNotified(email string) bool {
	m.notifiedMu.Lock()
	defer m.notifiedMu.Unlock()
	if m.notified[email] {
		return false
	}
	m.notified[email] = true
	return true
}

// unmarkRequestNotified forgets that a contact request was shown (its
// notice could not be queued).
func (m *MSNClient) unmarkRequestNotified(email string) {
	m.notifiedMu.Lock()
	defer m.notifiedMu.Unlock()
	delete(m.notified, email)
}

// currentSession returns the connected session, nil when offline.
func (m *MSNClient) currentSession() *session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sess
}
