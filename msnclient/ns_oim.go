package msnclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
	"github.com/mautrix-msn/mautrix-msn/msnclient/oim"
	"github.com/mautrix-msn/mautrix-msn/msnclient/passport"
	"github.com/mautrix-msn/mautrix-msn/msnclient/rsi"
)

// Offline messages (OIM): the notification server announces waiting ones
// in Mail-Data notifications (MSNP11+); they are fetched and deleted with
// the RSI web service (package rsi) and sent with the OIM store (package
// oim) or, on MSNP18 without a store URL, with UUM.

// Errors of offline messages.
var (
	// ErrOfflineMessagesUnsupported means the dialect has no offline
	// messages (MSNP8-12 cannot send them).
	ErrOfflineMessagesUnsupported = errors.New("msn: offline messages need MSNP13 or later")
	// ErrNoOfflineService means no RSI or OIM store URL is configured.
	ErrNoOfflineService = errors.New("msn: no offline message service configured")
)

// maxOfflineParts bounds the offline messages one text is split into.
const maxOfflineParts = 16

// uumTextLimit is the largest text of one UUM (its payload stays under the
// 1,664 bytes Escargot accepts).
const uumTextLimit = 1400

// OfflineMessagesWaiting is sent when the server lists offline messages
// waiting for us: at login (Initial) and when a new one arrives.
type OfflineMessagesWaiting struct {
	Initial  bool
	Messages []OfflineMessageInfo
	// Complete is false when the server did not list them all ("too-large",
	// or a list that could not be read): call OfflineMessages for the list.
	Complete bool
}

// OfflineMessageInfo describes one waiting offline message.
type OfflineMessageInfo struct {
	ID       string
	From     string    // lower-cased email
	FromName string    // may be empty
	Time     time.Time // zero when the notification did not say
}

// OfflineMessage is one fetched offline message.
type OfflineMessage struct {
	ID       string
	From     string
	FromName string
	Time     time.Time // when it was sent; zero if unknown
	Text     string
	RunID    string // messages of one run belong together, in Sequence order
	Sequence int
}

// webTickets are the tickets of the offline message services.
type webTickets struct {
	rsi   string // messenger.msn.com (SSO) or the Tweener ticket
	store string // messengersecure.live.com (SSO) or the Tweener ticket
}

// ssoWebTickets picks the service tickets of an RST response; any ticket
// works on Escargot, so the NS ticket is the fallback. The tickets still
// point into the response (see keepTickets).
func ssoWebTickets(tokens *passport.Tokens, fallback string) webTickets {
	t := webTickets{rsi: tokens.Ticket(passport.AddrMessenger), store: tokens.Ticket(passport.AddrMessengerSecure)}
	if t.rsi == "" {
		t.rsi = fallback
	}
	if t.store == "" {
		t.store = fallback
	}
	return t
}

// keepTickets copies the tickets kept for the session out of the response
// they were parsed from, one copy per distinct ticket: Escargot gives
// every service the same ticket, which a session then holds once instead
// of three times (about 1 KiB each).
func keepTickets(tickets ...*string) {
	var kept []string
	for _, t := range tickets {
		i := slices.Index(kept, *t)
		if i < 0 {
			i = len(kept)
			kept = append(kept, strings.Clone(*t))
		}
		*t = kept[i]
	}
}

// handleMailData handles the Hotmail notifications about offline messages.
// It reports whether ct was one of them.
func (s *session) handleMailData(ct string, payload []byte) bool {
	initial := strings.Contains(ct, "text/x-msmsgsinitialmdatanotification")
	live := strings.Contains(ct, "text/x-msmsgsoimnotification")
	switch {
	case strings.Contains(ct, "text/x-msmsgsactivemailnotification"):
		s.c.log.Debug().Msg("Offline messages were moved or deleted")
		return true
	case !initial && !live:
		return false
	case !s.d.oimNotify:
		return true
	}
	value, found := mailDataValue(payload)
	evt := &OfflineMessagesWaiting{Initial: initial}
	if !found {
		s.c.log.Warn().Msg("Mail notification without Mail-Data; will ask the server for the list")
		s.emit(evt)
		return true
	}
	md, err := rsi.ParseMailData(value)
	switch {
	case err != nil:
		s.c.log.Warn().Err(err).Int("length", len(value)).Msg("Malformed Mail-Data; will ask the server for the list")
	case md.TooLarge:
		s.c.log.Debug().Msg("Too many offline messages for Mail-Data; will ask the server for the list")
	default:
		if md.Skipped > 0 {
			s.c.log.Warn().Int("skipped", md.Skipped).Msg("Skipped malformed Mail-Data entries")
		}
		evt.Complete = md.Skipped == 0
		for _, m := range md.Messages {
			evt.Messages = append(evt.Messages, infoFromMetadata(m))
		}
		if len(evt.Messages) == 0 && evt.Complete {
			return true // nothing waiting
		}
	}
	s.emit(evt)
	return true
}

// mailDataValue finds the Mail-Data header in a Hotmail notification's
// body.
func mailDataValue(payload []byte) (string, bool) {
	for _, line := range strings.Split(string(payload), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Mail-Data") {
			return strings.TrimSpace(value), true
		}
	}
	return "", false
}

func infoFromMetadata(m rsi.Metadata) OfflineMessageInfo {
	return OfflineMessageInfo{ID: m.ID, From: m.From, FromName: m.FromName, Time: m.Received}
}

// rsiClient returns an RSI client bound to the current session's ticket.
func (c *Client) rsiClient() (*rsi.Client, error) {
	s, err := c.connected()
	if err != nil {
		return nil, err
	}
	if !s.d.oimNotify {
		return nil, fmt.Errorf("%w (MSNP%d has no offline messages)", ErrOfflineMessagesUnsupported, s.d.version)
	}
	if c.cfg.RSIURL == "" {
		return nil, ErrNoOfflineService
	}
	hc, err := c.http()
	if err != nil {
		return nil, err
	}
	return rsi.New(rsi.Config{HTTPClient: hc, URL: c.cfg.RSIURL, Ticket: func() string {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.web.rsi
	}})
}

// OfflineMessages asks the server for every waiting offline message, oldest
// first (RSI GetMetadata).
func (c *Client) OfflineMessages(ctx context.Context) ([]OfflineMessageInfo, error) {
	cl, err := c.rsiClient()
	if err != nil {
		return nil, fmt.Errorf("list offline messages: %w", err)
	}
	md, err := cl.GetMetadata(c.log.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list offline messages: %w", err)
	}
	out := make([]OfflineMessageInfo, len(md))
	for i, m := range md {
		out[i] = infoFromMetadata(m)
	}
	return out, nil
}

// FetchOfflineMessage fetches and decodes one offline message without
// deleting it or marking it read. A message that cannot be decoded gives an
// error wrapping rsi.ErrBadMessage.
func (c *Client) FetchOfflineMessage(ctx context.Context, id string) (*OfflineMessage, error) {
	cl, err := c.rsiClient()
	if err != nil {
		return nil, fmt.Errorf("fetch offline message: %w", err)
	}
	m, err := cl.GetMessage(c.log.WithContext(ctx), id)
	if err != nil {
		return nil, fmt.Errorf("fetch offline message: %w", err)
	}
	return &OfflineMessage{ID: id, From: m.From, FromName: m.FromName, Time: m.Time, Text: m.Text, RunID: m.RunID, Sequence: m.Sequence}, nil
}

// DeleteOfflineMessages deletes offline messages on the server.
func (c *Client) DeleteOfflineMessages(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	cl, err := c.rsiClient()
	if err != nil {
		return fmt.Errorf("delete offline messages: %w", err)
	}
	if err := cl.DeleteMessages(c.log.WithContext(ctx), ids); err != nil {
		return fmt.Errorf("delete offline messages: %w", err)
	}
	return nil
}

// CanSendOfflineMessages reports whether the current session can leave
// offline messages (MSNP13+ with an OIM store, or MSNP18).
func (c *Client) CanSendOfflineMessages() bool {
	s, err := c.connected()
	if err != nil {
		return false
	}
	return s.d.oimSend && (c.cfg.OIMURL != "" || s.d.uum)
}

// SendOfflineMessage leaves text as an offline message for a contact who is
// not signed in (or appears offline); the server delivers it when they
// sign in. Long texts are sent as several messages of one run. It returns
// when the server stored every part (OIM store), or when the UUM lines
// were written (MSNP18 without a store URL: the server never answers).
func (c *Client) SendOfflineMessage(ctx context.Context, to, text string) error {
	s, err := c.connected()
	if err != nil {
		return fmt.Errorf("send offline message: %w", err)
	}
	if !s.d.oimSend {
		return fmt.Errorf("send offline message: %w (MSNP%d)", ErrOfflineMessagesUnsupported, s.d.version)
	}
	to, err = checkEmail(to)
	if err != nil {
		return fmt.Errorf("send offline message: %w", err)
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	if strings.TrimSpace(text) == "" {
		return errors.New("send offline message: empty text")
	}
	switch {
	case c.cfg.OIMURL != "":
		return c.storeOffline(ctx, s, to, text)
	case s.d.uum:
		return c.sendUUM(s, to, text)
	default:
		return fmt.Errorf("send offline message: %w", ErrNoOfflineService)
	}
}

// storeOffline sends text through the OIM store.
func (c *Client) storeOffline(ctx context.Context, s *session, to, text string) error {
	parts := splitText(text, oim.MaxText)
	if len(parts) > maxOfflineParts {
		return fmt.Errorf("send offline message: text too long (%d parts, limit %d)", len(parts), maxOfflineParts)
	}
	cl, err := c.offlineStore(s)
	if err != nil {
		return fmt.Errorf("send offline message: %w", err)
	}
	ctx = c.log.WithContext(ctx)
	runID := oim.NewRunID()
	for i, part := range parts {
		if err := cl.Store(ctx, oim.Message{To: to, Text: part, RunID: runID, Sequence: i + 1}); err != nil {
			if i > 0 {
				return &PartlyStoredError{Stored: i, Total: len(parts), Err: err}
			}
			return fmt.Errorf("send offline message: %w", err)
		}
	}
	return nil
}

// PartlyStoredError is an offline message of several parts of which only
// the first Stored reached the server: sending it again would deliver
// those twice.
type PartlyStoredError struct {
	Stored, Total int
	Err           error
}

func (e *PartlyStoredError) Error() string {
	return fmt.Sprintf("send offline message: stored %d of %d parts: %v", e.Stored, e.Total, e.Err)
}

func (e *PartlyStoredError) Unwrap() error { return e.Err }

// offlineStore returns the session's OIM store client, made on first use.
func (c *Client) offlineStore(s *session) (*oim.Client, error) {
	s.mu.Lock()
	cl := s.oim
	s.mu.Unlock()
	if cl != nil {
		return cl, nil
	}
	hc, err := c.http()
	if err != nil {
		return nil, err
	}
	cl, err = oim.New(oim.Config{
		HTTPClient:   hc,
		URL:          c.cfg.OIMURL,
		Email:        c.cfg.Email,
		Version:      s.d.version,
		ClientBuild:  s.d.clientVersion,
		FriendlyName: c.FriendlyName,
		Ticket: func() string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.web.store
		},
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oim == nil {
		s.oim = cl
	}
	return s.oim, nil
}

// sendUUM sends text with MSNP18 UUM, which Escargot stores as an offline
// message when the recipient is offline. The Dest-Agent header is required
// (Escargot quirk 38).
func (c *Client) sendUUM(s *session, to, text string) error {
	parts := splitText(text, uumTextLimit)
	if len(parts) > maxOfflineParts {
		return fmt.Errorf("send offline message: text too long (%d parts, limit %d)", len(parts), maxOfflineParts)
	}
	for _, part := range parts {
		payload := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nDest-Agent: client\r\n\r\n" + part
		if err := s.conn.send(msnp.NewPayload("UUM", []byte(payload), to, "1", "1")); err != nil {
			return fmt.Errorf("send offline message: %w", err)
		}
	}
	return nil
}
