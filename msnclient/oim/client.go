package oim

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// MaxText is the largest text (UTF-8 bytes) of one offline message: its
// base64 body and headers stay under the 1,664 bytes of content the MSN
// service accepted. Longer texts are sent as several messages of one run.
const MaxText = 1024

// maxBody bounds a response body.
const maxBody = 256 << 10

// SOAP actions and namespaces: MSNP13+ (WLM) used Store2 of the live.com
// namespace, earlier clients Store of the msn.com one.
const (
	nsMSN       = "http://messenger.msn.com/ws/2004/09/oim/"
	nsLive      = "http://messenger.live.com/ws/2006/09/oim/"
	actionStore = nsMSN + "Store"
	actionLive  = nsLive + "Store2"
	nsRM        = "http://schemas.xmlsoap.org/ws/2003/03/rm"
	nsUtility   = "http://schemas.xmlsoap.org/ws/2002/07/utility"
)

// Fault codes (the local part of faultcode).
const (
	FaultAuthenticationFailed = "AuthenticationFailed"
	FaultUnavailable          = "Fault.unavailable" // recipient unknown, blocked us, or we are not the sender
	FaultInvalidContent       = "Fault.invalidcontent"
	FaultThrottle             = "SystemUnavailable"
)

var (
	// ErrNoTicket means the ticket getter returned an empty ticket.
	ErrNoTicket = errors.New("oim: no ticket (log in first)")
	// ErrLockKey means the service kept refusing our lock key.
	ErrLockKey = errors.New("oim: lock key challenge not accepted")
)

// Config configures a Client.
type Config struct {
	HTTPClient *http.Client // required
	URL        string       // …/OimWS/oim.asmx
	// Ticket returns the current Passport ticket: the
	// messengersecure.live.com ticket (MSNP15+) or the Tweener ticket.
	Ticket func() string
	Email  string // the sender, as logged in
	// Version is the MSNP dialect of the session (13 and later): it picks
	// the SOAP action, the product id and key of the lock key, and the
	// msnpVer/buildVer announced.
	Version      int
	ClientBuild  string // buildVer, e.g. "8.5.1302"
	FriendlyName func() string
}

// Message is one offline message to store.
type Message struct {
	To       string // recipient email
	Text     string // at most MaxText bytes of UTF-8
	RunID    string // one GUID per batch to one recipient (see NewRunID)
	Sequence int    // 1, 2, … within the run
}

// Client stores offline messages for one account. It is safe for
// concurrent use.
type Client struct {
	cfg     Config
	product msnp.Product

	mu      sync.Mutex
	lockKey string // answer to the last challenge, reused until a new one
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.HTTPClient == nil {
		return nil, errors.New("oim: no HTTP client")
	}
	if cfg.Ticket == nil {
		return nil, errors.New("oim: no ticket getter")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("oim: URL must be http(s), got %q", cfg.URL)
	}
	if !strings.Contains(cfg.Email, "@") {
		return nil, fmt.Errorf("oim: invalid sender %q", cfg.Email)
	}
	return &Client{cfg: cfg, product: msnp.ProductFor(max(cfg.Version, 11))}, nil
}

// NewRunID returns a new run id "{XXXXXXXX-…}".
func NewRunID() string { return strings.ToUpper(msnp.NewGUID()) }

// Fault is a SOAP fault of the store.
type Fault struct {
	HTTPStatus int
	Code       string // local part of faultcode, e.g. "AuthenticationFailed"
	Reason     string
	// LockKeyChallenge is set with AuthenticationFailed.
	LockKeyChallenge string
}

func (f *Fault) Error() string {
	if f.Reason != "" {
		return fmt.Sprintf("oim: Store fault %s: %s", f.Code, f.Reason)
	}
	return "oim: Store fault " + f.Code
}

// IsFault reports whether err is (or wraps) a *Fault with the code.
func IsFault(err error, code string) bool {
	var f *Fault
	return errors.As(err, &f) && strings.EqualFold(f.Code, code)
}

// StatusError is an HTTP error without a SOAP fault.
type StatusError struct{ StatusCode int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("oim: Store: HTTP %d without SOAP fault", e.StatusCode)
}

// Store stores one offline message. A lock-key challenge is answered and
// the request sent again once; the key is kept for the next messages.
func (c *Client) Store(ctx context.Context, msg Message) error {
	if len(msg.Text) > MaxText {
		return fmt.Errorf("oim: text of %d bytes, limit %d", len(msg.Text), MaxText)
	}
	if msg.Sequence < 1 || msg.RunID == "" {
		return errors.New("oim: message without run id or sequence number")
	}
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		key := c.lockKey
		c.mu.Unlock()
		err := c.store(ctx, msg, key)
		var f *Fault
		if !errors.As(err, &f) || !strings.EqualFold(f.Code, FaultAuthenticationFailed) || f.LockKeyChallenge == "" {
			return err
		}
		if attempt > 0 {
			return fmt.Errorf("%w: %w", ErrLockKey, err)
		}
		answer := msnp.ChallengeMSNP11(f.LockKeyChallenge, c.product.ID, c.product.Key)
		zerolog.Ctx(ctx).Debug().Msg("Answering offline message lock key challenge")
		c.mu.Lock()
		c.lockKey = answer
		c.mu.Unlock()
	}
}

func (c *Client) store(ctx context.Context, msg Message, lockKey string) error {
	ticket := c.cfg.Ticket()
	if ticket == "" {
		return ErrNoTicket
	}
	esc := func(s string) (string, error) { return xmlsafe.Escape(s) }
	vals := []string{c.cfg.Email, friendlyName(c.cfg.FriendlyName), ticket, c.product.ID, lockKey, msg.To}
	for i, v := range vals {
		e, err := esc(v)
		if err != nil {
			return fmt.Errorf("oim: Store: %w", err)
		}
		vals[i] = e
	}
	member, name, passport, appID, lock, to := vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
	content, err := esc(Content(msg))
	if err != nil {
		return fmt.Errorf("oim: Store: %w", err)
	}
	ns := nsMSN
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	b.WriteString(`<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">`)
	b.WriteString(`<soap:Header>`)
	fmt.Fprintf(&b, `<From memberName="%s" friendlyName="%s" xml:lang="en-US" proxy="MSNMSGR" xmlns="%s" msnpVer="MSNP%d" buildVer="%s"/>`,
		member, name, ns, c.cfg.Version, c.cfg.ClientBuild)
	fmt.Fprintf(&b, `<To memberName="%s" xmlns="%s"/>`, to, ns)
	fmt.Fprintf(&b, `<Ticket passport="%s" appid="%s" lockkey="%s" xmlns="%s"/>`, passport, appID, lock, ns)
	fmt.Fprintf(&b, `<Sequence xmlns="%s"><Identifier xmlns="%s">http://messenger.msn.com</Identifier><MessageNumber>%d</MessageNumber></Sequence>`,
		nsRM, nsUtility, msg.Sequence)
	b.WriteString(`</soap:Header><soap:Body>`)
	fmt.Fprintf(&b, `<MessageType xmlns="%s">text</MessageType><Content xmlns="%s">%s</Content>`, ns, ns, content)
	b.WriteString(`</soap:Body></soap:Envelope>`)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, strings.NewReader(b.String()))
	if err != nil {
		return fmt.Errorf("oim: Store: build request: %w", err)
	}
	action := actionStore
	if c.cfg.Version >= 13 {
		action = actionLive
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+action+`"`)
	zerolog.Ctx(ctx).Debug().Str("url", c.cfg.URL).Int("sequence", msg.Sequence).Msg("Storing offline message")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("oim: Store: %w", err)
	}
	defer resp.Body.Close()
	data, err := xmlsafe.ReadAll(resp.Body, maxBody)
	if err != nil {
		return fmt.Errorf("oim: Store (HTTP %d): %w", resp.StatusCode, err)
	}
	return decodeResponse(resp.StatusCode, data)
}

// friendlyName RFC 2047-encodes our name for the From header.
func friendlyName(get func() string) string {
	if get == nil {
		return ""
	}
	name := strings.Join(strings.Fields(msnp.CleanText(get())), " ")
	if name == "" {
		return ""
	}
	return "=?utf-8?B?" + base64.StdEncoding.EncodeToString([]byte(name)) + "?="
}

// Content is the MIME text of one offline message: base64 of the UTF-8
// text in lines of 76 characters.
func Content(msg Message) string {
	var b strings.Builder
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=UTF-8\r\n")
	b.WriteString("Content-Transfer-Encoding: base64\r\n")
	b.WriteString("X-OIM-Message-Type: OfflineMessage\r\n")
	b.WriteString("X-OIM-Run-Id: " + msg.RunID + "\r\n")
	b.WriteString("X-OIM-Sequence-Num: " + strconv.Itoa(msg.Sequence) + "\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(msg.Text))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.String()
}

type faultXML struct {
	Code      string `xml:"faultcode"`
	Reason    string `xml:"faultstring"`
	Challenge string `xml:"detail>LockKeyChallenge"`
}

func decodeResponse(status int, data []byte) error {
	var env struct {
		Fault *faultXML `xml:"Body>Fault"`
		Store *struct{} `xml:"Body>StoreResponse"`
	}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := xmlsafe.Unmarshal(data, &env); err != nil {
			if status != http.StatusOK {
				return &StatusError{StatusCode: status}
			}
			return fmt.Errorf("oim: Store: parse response: %w", err)
		}
	}
	if f := env.Fault; f != nil {
		code := strings.TrimSpace(f.Code)
		if i := strings.LastIndexByte(code, ':'); i >= 0 {
			code = code[i+1:]
		}
		return &Fault{HTTPStatus: status, Code: code, Reason: strings.TrimSpace(f.Reason), LockKeyChallenge: strings.TrimSpace(f.Challenge)}
	}
	if status != http.StatusOK {
		return &StatusError{StatusCode: status}
	}
	if env.Store == nil {
		return errors.New("oim: Store: response without StoreResponse")
	}
	return nil
}
