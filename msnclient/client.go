package msnclient

// SKELETON written by the lead to fix the contract between helpers; the NS
// helper owns this file and replaces the bodies.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/rs/zerolog"
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

	Versions    []int        // dialects to offer, highest first; default 18 down to 8
	CAFile      string       // PEM file of extra root CAs for HTTPS
	HTTPClient  *http.Client // overrides CAFile when set
	MachineGUID string       // MSNP16+ endpoint id "{…}"; keep it stable per account

	InitialStatus Status // status set after login; default online

	DialTimeout            time.Duration // default 15s
	RequestTimeout         time.Duration // per request; default 30s
	DeadTimeout            time.Duration // no traffic for this long: dead; default 90s
	SwitchboardIdleTimeout time.Duration // idle conversations closed after; default 5m

	Logger *zerolog.Logger // nil: no logging
}

// Client is one MSN account's session.
type Client struct {
	cfg     Config
	handler EventHandler
	sb      *switchboards
}

// NewClient creates a client; Connect logs in.
func NewClient(cfg Config, handler EventHandler) *Client {
	c := &Client{cfg: cfg, handler: handler}
	c.sb = newSwitchboards(c)
	return c
}

// Connect logs in and returns when the contact list is loaded and the initial
// status set.
func (c *Client) Connect(ctx context.Context) error { return errors.New("not yet") }

// Close signs out (OUT) and closes every connection.
func (c *Client) Close() error { return nil }

// Version returns the negotiated dialect number, 0 before login.
func (c *Client) Version() int { return 0 }

// Email returns the account's email, lower-cased.
func (c *Client) Email() string { return c.cfg.Email }

// MachineGUID returns the MSNP16+ endpoint GUID in use.
func (c *Client) MachineGUID() string { return c.cfg.MachineGUID }

// Contacts returns a copy of the contact list.
func (c *Client) Contacts() []Contact { return nil }

// Contact returns one contact.
func (c *Client) Contact(email string) (Contact, bool) { return Contact{}, false }

// Groups returns the contact groups.
func (c *Client) Groups() []Group { return nil }

// SetStatus sets our presence status.
func (c *Client) SetStatus(ctx context.Context, status Status) error { return nil }

// SetDisplayPicture sets our MSNObject (XML, or "" for none).
func (c *Client) SetDisplayPicture(ctx context.Context, msnObject string) error { return nil }

// SetFriendlyName sets our friendly name.
func (c *Client) SetFriendlyName(ctx context.Context, name string) error { return nil }

// SetPersonalMessage sets our personal message and current media.
func (c *Client) SetPersonalMessage(ctx context.Context, message, currentMedia string) error {
	return nil
}

// AddContact adds email to the forward and allow lists.
func (c *Client) AddContact(ctx context.Context, email string) error { return nil }

// RemoveContact removes email from the forward list.
func (c *Client) RemoveContact(ctx context.Context, email string) error { return nil }

// BlockContact moves email to the block list.
func (c *Client) BlockContact(ctx context.Context, email string) error { return nil }

// UnblockContact moves email back to the allow list.
func (c *Client) UnblockContact(ctx context.Context, email string) error { return nil }

// AcceptContact accepts a pending request: allow list and forward list.
func (c *Client) AcceptContact(ctx context.Context, email string) error { return nil }

// emit queues an event for the handler without blocking the caller.
func (c *Client) emit(evt any) {}

// transferToSwitchboard asks the NS for a new switchboard (XFR SB) and returns
// its address and cookie.
func (c *Client) transferToSwitchboard(ctx context.Context) (addr, cookie string, err error) {
	return "", "", errors.New("not yet")
}
