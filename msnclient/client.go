package msnclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Config configures one Client (one MSN account).
type Config struct {
	Email    string
	Password string

	Server            string // notification server host:port
	NexusURL          string // Tweener nexus (…/rdr/pprdr.asp); empty: use LoginURL directly
	LoginURL          string // Tweener login (…/login2.srf or Escargot's /login)
	RSTURL            string // SSO RST.srf (MSNP15-17)
	RST2URL           string // SSO RST2.srf (MSNP18); falls back to RSTURL
	ABServiceURL      string // address book service (…/abservice/abservice.asmx)
	SharingServiceURL string // sharing service (…/abservice/SharingService.asmx)
	RSIURL            string // offline message retrieval (…/rsi/rsi.asmx); empty: offline messages are not fetched
	OIMURL            string // offline message store (…/OimWS/oim.asmx); empty: MSNP18 sends them with UUM

	Versions    []int        // dialects to offer, highest first; default 18 down to 8
	CAFile      string       // PEM file of extra root CAs for HTTPS
	HTTPClient  *http.Client // overrides CAFile when set
	MachineGUID string       // MSNP16+ endpoint id "{…}"; keep it stable per account

	InitialStatus Status // status set after login; default online

	// AllowedHosts lists hosts (names or IPs) besides the host of Server
	// that the server may send us to: switchboards (XFR SB, RNG) and
	// other notification servers (XFR NS). Addresses elsewhere are
	// refused and logged. The host the notification-server connection
	// reached is always allowed.
	AllowedHosts []string
	// AllowPlainHTTP permits http:// URLs for the login services that
	// receive the password (LoginURL, the nexus's DALogin, RSTURL,
	// RST2URL). Off, only HTTPS is used. Meant for test servers on
	// loopback.
	AllowPlainHTTP bool

	// EndpointName is the name of this endpoint shown by the account's
	// other MSNP16+ clients in their list of signed-in places (UUX
	// PrivateEndpointData); default "Matrix bridge".
	EndpointName string

	DialTimeout            time.Duration // default 15s
	RequestTimeout         time.Duration // per request; default 30s
	DeadTimeout            time.Duration // no traffic for this long: dead; default 90s
	PingInterval           time.Duration // PNG interval; default: the server's QNG value, else 50s
	SwitchboardIdleTimeout time.Duration // idle conversations closed after; default 5m

	MaxPictureSize int64         // largest display picture fetched or served; default 1 MiB
	DisplayPicture []byte        // our display picture (PNG) from login on; see SetDisplayPictureData
	P2PTimeout     time.Duration // a whole P2P transfer; default 2m

	// Files contacts send are accepted up to MaxFileSize bytes (default
	// DefaultMaxFileSize) and streamed into anonymous temporary files in
	// TempDir (default os.TempDir()); a transfer with no data for
	// FileStallTimeout (default DefaultFileStallTimeout) fails.
	MaxFileSize      int64
	TempDir          string
	FileStallTimeout time.Duration

	Logger *zerolog.Logger // nil: no logging
}

// withDefaults fills in the defaults of unset fields.
func (cfg Config) withDefaults() Config {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 15 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.DeadTimeout <= 0 {
		cfg.DeadTimeout = 90 * time.Second
	}
	if cfg.SwitchboardIdleTimeout <= 0 {
		cfg.SwitchboardIdleTimeout = 5 * time.Minute
	}
	if cfg.InitialStatus == "" || cfg.InitialStatus == StatusOffline {
		cfg.InitialStatus = StatusOnline
	}
	if cfg.RST2URL == "" {
		cfg.RST2URL = cfg.RSTURL
	}
	if cfg.EndpointName == "" {
		cfg.EndpointName = "Matrix bridge"
	}
	cfg.Email = strings.TrimSpace(cfg.Email)
	return cfg
}

// Client is one MSN account's session. Its methods are safe for concurrent
// use.
type Client struct {
	cfg    Config
	log    zerolog.Logger
	events *eventQueue
	sb     *switchboards
	guid   string

	connectMu sync.Mutex // one Connect at a time

	mu           sync.Mutex
	abortConnect context.CancelCauseFunc // cancels the Connect in progress; nil when none
	sess         *session                // current session, nil when disconnected
	dia          *dialect                // dialect of the last session
	httpClient   *http.Client
	list         contactList
	own          ownState

	circles    circleSet  // MSNP18 circles (ns_circles.go), guarded by mu
	circleSync sync.Mutex // one circle sync at a time

	p2pOnce sync.Once
	p2p     *p2pState // see sb_p2p.go
}

// ownState is what we know of our own presence and profile.
type ownState struct {
	status       Status
	friendlyName string
	psm          string
	media        string
	msnObject    string
}

// NewClient creates a client; Connect logs in.
func NewClient(cfg Config, handler EventHandler) *Client {
	cfg = cfg.withDefaults()
	c := &Client{cfg: cfg}
	if cfg.Logger != nil {
		c.log = cfg.Logger.With().Str("msn_account", strings.ToLower(cfg.Email)).Logger()
	} else {
		c.log = zerolog.Nop()
	}
	c.events = newEventQueue(handler, c.log)
	c.guid = cfg.MachineGUID
	if c.guid == "" {
		c.guid = msnp.NewGUID()
	}
	c.list.init()
	c.sb = newSwitchboards(c)
	c.initDisplayPicture()
	return c
}

// Logger returns the client's logger (derived from Config.Logger; a no-op
// logger when none was given).
func (c *Client) Logger() *zerolog.Logger { return &c.log }

// Connect logs in and returns when the contact list is loaded and the initial
// status set. It may be called again after a disconnect.
func (c *Client) Connect(ctx context.Context) error {
	c.connectMu.Lock()
	defer c.connectMu.Unlock()
	if s := c.session(); s != nil && !s.isEnded() {
		return errors.New("msn: already connected")
	}
	if _, err := checkEmail(c.cfg.Email); err != nil {
		return fmt.Errorf("msn: config Email: %w", err)
	}
	if c.cfg.Server == "" {
		return errors.New("msn: config needs Server")
	}
	// The web-service client is not worth its memory between the rare SOAP
	// calls of a session.
	defer c.releaseHTTP()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c.mu.Lock()
	c.abortConnect = cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.abortConnect = nil
		c.mu.Unlock()
	}()
	s, err := c.login(ctx)
	if err != nil {
		return closedDuringConnect(ctx, err)
	}
	if err := c.startSession(ctx, s); err != nil {
		s.end(ReasonConnectionLost, err)
		return closedDuringConnect(ctx, err)
	}
	return nil
}

// errClosedDuringConnect ends a Connect that Close interrupted.
var errClosedDuringConnect = errors.New("msn: client closed while connecting")

// closedDuringConnect returns errClosedDuringConnect if Close aborted the
// Connect of ctx (err is then only a consequence), else err.
func closedDuringConnect(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errClosedDuringConnect) {
		return errClosedDuringConnect
	}
	return err
}

// startSession loads the contact list, sets the initial status and announces
// the session.
func (c *Client) startSession(ctx context.Context, s *session) error {
	if err := c.loadContacts(ctx, s); err != nil {
		return fmt.Errorf("load contact list: %w", err)
	}
	if err := c.sendStatus(ctx, s, c.cfg.InitialStatus); err != nil {
		return fmt.Errorf("set initial status: %w", err)
	}
	if !s.markConnected() {
		return fmt.Errorf("msn: connection lost during login: %w", s.conn.closedErr())
	}
	c.emitPendingRequests()
	s.startKeepalive()
	return nil
}

// Close signs out (OUT) and closes every connection. It emits
// Disconnected{ReasonClosed} if a session was up. A Connect in progress is
// aborted and returns an error.
func (c *Client) Close() error {
	c.mu.Lock()
	abort := c.abortConnect
	c.mu.Unlock()
	if abort != nil {
		abort(errClosedDuringConnect)
	}
	s := c.session()
	if s == nil {
		c.sb.closeAll()
		return nil
	}
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	_ = s.conn.signOut(c.sb.closeTimeout)
	s.end(ReasonClosed, nil)
	return nil
}

// releaseHTTP drops our own web-service HTTP client (its root pool and idle
// connections cost tens of KiB per account); the next SOAP call builds a new
// one. A client given in Config.HTTPClient is kept (it may be shared).
func (c *Client) releaseHTTP() {
	c.mu.Lock()
	hc := c.httpClient
	if hc != c.cfg.HTTPClient {
		c.httpClient = nil
	}
	c.mu.Unlock()
	if hc != nil && hc != c.cfg.HTTPClient {
		hc.CloseIdleConnections()
	}
}

// session returns the current session or nil.
func (c *Client) session() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// connected returns the current session if login has completed.
func (c *Client) connected() (*session, error) {
	s := c.session()
	if s == nil || !s.isConnected() {
		return nil, ErrNotConnected
	}
	return s, nil
}

// Version returns the negotiated dialect number, 0 before login.
func (c *Client) Version() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dia == nil {
		return 0
	}
	return c.dia.version
}

// dialect returns the dialect of the current (or last) session, nil before
// the first login.
func (c *Client) dialect() *dialect {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dia
}

// Email returns the account's email, lower-cased.
func (c *Client) Email() string { return strings.ToLower(c.cfg.Email) }

// MachineGUID returns the MSNP16+ endpoint GUID in use.
func (c *Client) MachineGUID() string { return c.guid }

// emit queues an event for the handler without blocking the caller.
func (c *Client) emit(evt any) { c.events.push(evt) }

// UseEscargotURLs sets every HTTP service URL from one base URL
// ("https://host", no trailing slash needed) with the paths an Escargot
// server serves them on: /rdr/pprdr.asp, /login, /RST.srf, /RST2.srf,
// /abservice/abservice.asmx, /abservice/SharingService.asmx, /rsi/rsi.asmx and
// /OimWS/oim.asmx.
func (cfg *Config) UseEscargotURLs(base string) {
	base = strings.TrimRight(base, "/")
	cfg.NexusURL = base + "/rdr/pprdr.asp"
	cfg.LoginURL = base + "/login"
	cfg.RSTURL = base + "/RST.srf"
	cfg.RST2URL = base + "/RST2.srf"
	cfg.ABServiceURL = base + "/abservice/abservice.asmx"
	cfg.SharingServiceURL = base + "/abservice/SharingService.asmx"
	cfg.RSIURL = base + "/rsi/rsi.asmx"
	cfg.OIMURL = base + "/OimWS/oim.asmx"
}
