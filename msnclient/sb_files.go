package msnclient

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// Defaults of the file-transfer settings of Config.
const (
	DefaultMaxFileSize      = 100 << 20
	DefaultFileStallTimeout = time.Minute
)

// Reasons a file could not be received (FileFailed.Err wraps one).
var (
	ErrFileTooLarge     = errors.New("the file is over the bridge's size limit")
	ErrFileEmpty        = errors.New("the file is empty")
	ErrFileBadOffer     = errors.New("the file offer could not be read")
	ErrFileSizeMismatch = errors.New("the sender sent a different number of bytes than announced")
	// ErrFileNeedsDirect is the reason of MSNP8-style file offers
	// (text/x-msmsgsinvite): they need a direct TCP connection between the
	// two computers, which the bridge cannot offer.
	ErrFileNeedsDirect = errors.New("the sender's client offered it over a direct connection, which the bridge cannot accept; it needs a client that sends files through the server (MSN 6 or later)")
)

// FileReceived is a file a contact sent (P2P file transfer), complete.
// File is an anonymous temporary file (already removed from its
// directory) positioned at its start, of Size bytes: the event handler
// owns it and must close it.
type FileReceived struct {
	ConversationEvent
	From string
	Name string // cleaned: no path, no control characters (p2p.CleanFileName)
	Size int64
	File *os.File
	// Preview is the small PNG the sender's client attached (WLM shows
	// it in the offer), nil when none.
	Preview []byte
}

// FileFailed is a file a contact offered that did not arrive: declined by
// the client (Declined: too large, empty, unreadable offer, MSNP8 direct
// transfer) or a transfer that broke off, stalled, or was cancelled by the
// sender. Err says why.
type FileFailed struct {
	ConversationEvent
	From     string
	Name     string // cleaned, "" when unknown
	Size     int64  // announced size, 0 when unknown
	Declined bool
	Err      error
}

// maxFileSize returns the configured limit of received files.
func (c *Client) maxFileSize() int64 {
	if c.cfg.MaxFileSize > 0 {
		return c.cfg.MaxFileSize
	}
	return DefaultMaxFileSize
}

// p2pConversation returns the conversation event of P2P traffic from peer:
// the participants of the switchboard it last came on, else the peer alone.
func (c *Client) p2pConversation(peer string) ConversationEvent {
	st := c.p2pApps()
	st.routeMu.Lock()
	sb := st.route[peer]
	st.routeMu.Unlock()
	if sb != nil {
		if parts := sb.members(); len(parts) > 0 {
			return ConversationEvent{Participants: parts}
		}
	}
	return ConversationEvent{Participants: []string{peer}}
}

// handleFileInvite answers a P2P file-transfer invitation: files up to
// Config.MaxFileSize are accepted and streamed into a temporary file,
// others are declined; either way the outcome is emitted.
func (c *Client) handleFileInvite(_ context.Context, peer string, inv *p2p.Invite) p2p.Answer {
	ce := c.p2pConversation(peer)
	fail := func(name string, size int64, declined bool, err error) {
		c.emit(&FileFailed{ConversationEvent: ce, From: peer, Name: name, Size: size, Declined: declined, Err: err})
	}
	fc, err := p2p.ParseFileContext(inv.Context)
	if err != nil {
		c.log.Warn().Err(err).Str("peer", peer).Msg("Declining file offer with a bad context")
		fail("", 0, true, fmt.Errorf("%w: %w", ErrFileBadOffer, err))
		return p2p.Answer{}
	}
	name := p2p.CleanFileName(fc.Name)
	size := int64(min(fc.Size, 1<<62))
	log := c.log.With().Str("peer", peer).Str("file", name).Int64("size", size).Logger()
	switch limit := c.maxFileSize(); {
	case fc.Size > uint64(limit):
		log.Info().Int64("limit", limit).Msg("Declining file over the size limit")
		fail(name, size, true, fmt.Errorf("%w (%d bytes, limit %d)", ErrFileTooLarge, size, limit))
		return p2p.Answer{}
	case fc.Size == 0:
		// Nothing would be sent: a zero-length P2P message is not data.
		fail(name, 0, true, ErrFileEmpty)
		return p2p.Answer{}
	}
	f, err := os.CreateTemp(c.cfg.TempDir, "msn-file-*")
	if err != nil {
		log.Err(err).Msg("Declining file: no temporary file")
		fail(name, size, true, fmt.Errorf("store the file: %w", err))
		return p2p.Answer{}
	}
	// Anonymous from now on: nothing is left behind whatever happens.
	_ = os.Remove(f.Name())
	w := &countingWriter{w: bufio.NewWriterSize(f, 64<<10)}
	stall := c.cfg.FileStallTimeout
	if stall <= 0 {
		stall = DefaultFileStallTimeout
	}
	log.Debug().Msg("Receiving file")
	return p2p.Answer{
		Accept:       true,
		Receive:      true,
		MaxSize:      size,
		Sink:         w,
		StallTimeout: stall,
		OnData: func(_ []byte, err error) {
			if err == nil && w.n != size {
				err = fmt.Errorf("%w: %d of %d bytes", ErrFileSizeMismatch, w.n, size)
			}
			if err == nil {
				err = w.w.Flush()
			}
			if err == nil {
				_, err = f.Seek(0, io.SeekStart)
			}
			if err != nil {
				_ = f.Close()
				if errors.Is(err, p2p.ErrTooLarge) {
					err = fmt.Errorf("%w: %w", ErrFileSizeMismatch, err)
				}
				log.Warn().Err(err).Int64("received", w.n).Msg("File transfer failed")
				fail(name, size, false, err)
				return
			}
			log.Debug().Msg("File received")
			c.emit(&FileReceived{ConversationEvent: ce, From: peer, Name: name, Size: size, File: f, Preview: fc.Preview})
		},
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n += int64(n)
	return n, err
}

// handleLegacyInvite answers an MSNP8-style invitation
// (text/x-msmsgsinvite): a file offer is declined at once (it needs a
// direct connection) and reported as a FileFailed; other applications
// (NetMeeting, voice) are declined as not installed and reported as an
// UnknownMessage. Answers to invitations (ACCEPT, CANCEL) are ignored.
func (c *Client) handleLegacyInvite(sb *sbConn, from string, payload []byte) {
	m := parseMessage(payload)
	f := m.bodyFields()
	command := strings.TrimSpace(f.Get("Invitation-Command"))
	if !strings.EqualFold(command, "INVITE") || sb.self == from {
		c.log.Debug().Str("from", from).Str("command", truncateLog(command)).
			Str("cancel_code", truncateLog(f.Get("Cancel-Code"))).Msg("Ignoring invitation answer")
		return
	}
	cookie := strings.TrimSpace(f.Get("Invitation-Cookie"))
	if _, err := strconv.ParseUint(cookie, 10, 32); err == nil {
		// The cookie is digits only: nothing can be injected with it.
		cancel := "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\n" +
			"Invitation-Command: CANCEL\r\nInvitation-Cookie: " + cookie + "\r\nCancel-Code: REJECT_NOT_INSTALLED\r\n\r\n"
		go func() {
			ctx, done := context.WithTimeout(context.Background(), c.sb.requestTimeout())
			defer done()
			if err := sb.sendMessage(ctx, "N", []byte(cancel), 0); err != nil {
				c.log.Debug().Err(err).Str("from", from).Msg("Could not decline invitation")
			}
		}()
	}
	ce := ConversationEvent{Participants: sb.members()}
	if !strings.EqualFold(strings.Trim(f.Get("Application-GUID"), " {}"), "5D3E02AB-6190-11D3-BBBB-00C04F795683") &&
		f.Get("Application-File") == "" {
		c.emit(&UnknownMessage{ConversationEvent: ce, From: from, ContentType: m.ContentType(), Raw: payload})
		return
	}
	size, _ := strconv.ParseInt(strings.TrimSpace(f.Get("Application-FileSize")), 10, 64)
	c.emit(&FileFailed{ConversationEvent: ce, From: from, Name: p2p.CleanFileName(f.Get("Application-File")),
		Size: max(size, 0), Declined: true, Err: ErrFileNeedsDirect})
}

// isLegacyInvite reports whether a switchboard payload is an MSNP8-style
// invitation.
func isLegacyInvite(payload []byte) bool {
	head, _, _ := bytes.Cut(payload, []byte("\r\n\r\n"))
	if !bytes.Contains(bytes.ToLower(head), []byte("text/x-msmsgsinvite")) {
		return false
	}
	return strings.HasPrefix(parseMessage(payload).ContentType(), "text/x-msmsgsinvite")
}

// File is a file to send with SendFile.
type File struct {
	Name    string    // shown to the contact; cleaned with p2p.CleanFileName
	Size    int64     // exactly the bytes Reader yields
	Reader  io.Reader // read a chunk at a time while sending
	Preview []byte    // optional small PNG shown by clients (96x96)
}

// SendFile offers a file to a contact (P2P file transfer through the
// switchboard) and sends it once accepted. It returns nil when the
// contact received the whole file, and otherwise an error wrapping
// ErrFileDeclined (the contact said no), ErrFileNoAnswer (no answer within
// Config.P2PTimeout), ErrFileCancelled (the contact cancelled while it
// was sent), ErrFileStalled (accepted, then not acknowledged) or the
// switchboard error (offline contact, lost connection).
func (c *Client) SendFile(ctx context.Context, to string, f File) error {
	to = strings.ToLower(strings.TrimSpace(to))
	if _, err := checkEmail(to); err != nil {
		return fmt.Errorf("send file: %w", err)
	}
	if f.Size <= 0 {
		return fmt.Errorf("send file: %w", ErrFileEmpty)
	}
	if _, err := c.connected(); err != nil {
		return fmt.Errorf("send file: %w", err)
	}
	fc := &p2p.FileContext{Name: p2p.CleanFileName(f.Name), Size: uint64(f.Size), Preview: f.Preview}
	err := c.p2pApps().m.Offer(ctx, to, p2p.Offer{
		EUFGUID:   p2p.EUFGUIDFile,
		AppID:     p2p.AppIDFile,
		Context:   fc.Marshal(),
		DataFlags: p2p.FlagFileData,
		Reader:    f.Reader,
		Size:      f.Size,
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, p2p.ErrDeclined):
		err = fmt.Errorf("%w: %w", ErrFileDeclined, err)
	case errors.Is(err, p2p.ErrClosed), errors.Is(err, p2p.ErrPeerError):
		err = fmt.Errorf("%w: %w", ErrFileCancelled, err)
	case errors.Is(err, p2p.ErrStalled):
		err = fmt.Errorf("%w: %w", ErrFileStalled, err)
	case errors.Is(err, p2p.ErrTimeout):
		err = fmt.Errorf("%w: %w", ErrFileNoAnswer, err)
	}
	return fmt.Errorf("send file %q to %s: %w", fc.Name, to, err)
}

// Reasons SendFile fails.
var (
	ErrFileDeclined  = errors.New("the contact declined the file")
	ErrFileNoAnswer  = errors.New("the contact did not answer the file offer in time")
	ErrFileCancelled = errors.New("the contact cancelled the transfer")
	// ErrFileStalled: the contact accepted, then their client stopped
	// acknowledging the data.
	ErrFileStalled = errors.New("the contact's client stopped taking the file")
)

// truncateLog bounds a peer's text in a log line.
func truncateLog(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.ToValidUTF8(s, "?")
}
