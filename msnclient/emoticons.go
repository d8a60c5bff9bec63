package msnclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// Content types of custom emoticon definitions. MSNPSharp 3.x sends the
// animated kind with a typo ("text-/x-mms-animemoticon"), taken as well.
const (
	ctEmoticon         = "text/x-mms-emoticon"
	ctAnimEmoticon     = "text/x-mms-animemoticon"
	ctAnimEmoticonTypo = "text-/x-mms-animemoticon"
)

// Limits of custom emoticon definitions.
const (
	// maxEmoticonBody bounds the body of one definition message. Escargot
	// relays at most 1,664 bytes per MSG (about four definitions); this
	// leaves room for chunked messages of other servers.
	maxEmoticonBody = 16 << 10
	// MaxEmoticonsPerMessage bounds the definitions of one message, and
	// those kept for the next text of one sender.
	MaxEmoticonsPerMessage = 32
	// maxShortcutRunes bounds a shortcut (WLM allows 7 characters, Pidgin
	// more).
	maxShortcutRunes = 32
)

// ErrBadEmoticons is wrapped by every error of ParseEmoticonHeader.
var ErrBadEmoticons = errors.New("msnclient: malformed custom emoticon definitions")

// Emoticon is a custom emoticon a contact defined for the text message that
// follows: the shortcut in the text is to be shown as the image of the
// MSNObject, which the contact serves over P2P (Client.FetchEmoticon).
type Emoticon struct {
	Shortcut  string // the text the image replaces, e.g. ":cat:"
	MSNObject string // the msnobj element, as sent (percent-decoded)
	SHA1D     string // base64 SHA-1 of the image: the same image has the same SHA1D
	Size      int64  // announced size in bytes (0: not given)
	Animated  bool   // defined by a text/x-mms-animemoticon message
}

// isEmoticonType reports whether a content type is an emoticon definition,
// and whether of animated emoticons.
func isEmoticonType(ct string) (ok, animated bool) {
	switch ct {
	case ctEmoticon:
		return true, false
	case ctAnimEmoticon, ctAnimEmoticonTypo:
		return true, true
	}
	return false, false
}

// ParseEmoticonHeader parses the body of a custom emoticon definition
// message (text/x-mms-emoticon or text/x-mms-animemoticon): shortcut and
// MSNObject pairs separated by tabs, with a trailing tab (WLM, MSNPSharp)
// or without (Pidgin). The MSNObject is raw XML, or percent-encoded as
// some clients send it.
//
// A body that is too large, not UTF-8, holds CR, LF or NUL, an odd number
// of fields or too many pairs is refused whole. A pair with an empty or
// over-long shortcut, a shortcut with control characters or an invalid
// MSNObject is skipped: the other pairs are returned with an error naming
// what was skipped. Every error wraps ErrBadEmoticons. A shortcut defined
// twice keeps its last definition.
func ParseEmoticonHeader(body []byte, animated bool) ([]Emoticon, error) {
	if len(body) > maxEmoticonBody {
		return nil, fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrBadEmoticons, len(body), maxEmoticonBody)
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrBadEmoticons)
	}
	if i := bytes.IndexAny(body, "\r\n\x00"); i >= 0 {
		return nil, fmt.Errorf("%w: control character %q at byte %d", ErrBadEmoticons, body[i], i)
	}
	text := strings.TrimSuffix(string(body), "\t")
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("%w: no definitions", ErrBadEmoticons)
	}
	fields := strings.Split(text, "\t")
	if len(fields)%2 != 0 {
		return nil, fmt.Errorf("%w: %d tab-separated fields, want shortcut and MSNObject pairs", ErrBadEmoticons, len(fields))
	}
	if len(fields)/2 > MaxEmoticonsPerMessage {
		return nil, fmt.Errorf("%w: %d definitions, over the limit of %d", ErrBadEmoticons, len(fields)/2, MaxEmoticonsPerMessage)
	}
	var out []Emoticon
	var errs []error
	for i := 0; i < len(fields); i += 2 {
		e, err := parseEmoticon(fields[i], fields[i+1], animated)
		if err != nil {
			errs = append(errs, fmt.Errorf("definition %d: %w", i/2+1, err))
			continue
		}
		out = withoutShortcut(out, e.Shortcut)
		out = append(out, e)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%w: %w", ErrBadEmoticons, errors.Join(errs...))
	}
	return out, nil
}

// withoutShortcut removes the definition of shortcut from list.
func withoutShortcut(list []Emoticon, shortcut string) []Emoticon {
	for i := range list {
		if list[i].Shortcut == shortcut {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

func parseEmoticon(shortcut, obj string, animated bool) (Emoticon, error) {
	shortcut = strings.Trim(shortcut, " ")
	switch n := utf8.RuneCountInString(shortcut); {
	case n == 0:
		return Emoticon{}, errors.New("empty shortcut")
	case n > maxShortcutRunes:
		return Emoticon{}, fmt.Errorf("shortcut of %d characters, over the limit of %d", n, maxShortcutRunes)
	}
	if strings.IndexFunc(shortcut, unicode.IsControl) >= 0 {
		return Emoticon{}, fmt.Errorf("shortcut %q has control characters", shortcut)
	}
	obj = strings.TrimSpace(obj)
	if strings.HasPrefix(obj, "%") {
		dec, err := url.PathUnescape(obj)
		if err != nil {
			return Emoticon{}, fmt.Errorf("shortcut %q: bad percent-encoded MSNObject: %w", shortcut, err)
		}
		obj = dec
	}
	if !utf8.ValidString(obj) || strings.ContainsAny(obj, "\r\n\x00") {
		return Emoticon{}, fmt.Errorf("shortcut %q: MSNObject has control characters or is not UTF-8", shortcut)
	}
	parsed, err := p2p.ParseMSNObject(obj)
	if err != nil {
		return Emoticon{}, fmt.Errorf("shortcut %q: %w", shortcut, err)
	}
	if parsed.Type != p2p.ObjectEmoticon && parsed.Type != 0 {
		return Emoticon{}, fmt.Errorf("shortcut %q: MSNObject of type %d, not an emoticon (2)", shortcut, parsed.Type)
	}
	return Emoticon{Shortcut: shortcut, MSNObject: obj, SHA1D: parsed.SHA1D, Size: parsed.Size, Animated: animated}, nil
}

// emoticonDefs keeps, per sender of a switchboard, the custom emoticons
// defined for their next text message.
type emoticonDefs struct {
	mu       sync.Mutex
	bySender map[string][]Emoticon
}

// define adds definitions of sender; the oldest are dropped past
// MaxEmoticonsPerMessage.
func (d *emoticonDefs) define(sender string, defs []Emoticon) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bySender == nil {
		d.bySender = make(map[string][]Emoticon)
	}
	list := d.bySender[sender]
	for _, e := range defs {
		list = withoutShortcut(list, e.Shortcut)
		list = append(list, e)
	}
	if over := len(list) - MaxEmoticonsPerMessage; over > 0 {
		list = append([]Emoticon(nil), list[over:]...)
	}
	d.bySender[sender] = list
}

// take returns the definitions of sender whose shortcut is in text, and
// forgets all of sender's definitions: they are for this message only.
func (d *emoticonDefs) take(sender, text string) []Emoticon {
	d.mu.Lock()
	list := d.bySender[sender]
	delete(d.bySender, sender)
	d.mu.Unlock()
	var used []Emoticon
	for _, e := range list {
		if strings.Contains(text, e.Shortcut) {
			used = append(used, e)
		}
	}
	// Longest shortcuts first: the order in which a text is matched.
	sort.SliceStable(used, func(i, j int) bool { return len(used[i].Shortcut) > len(used[j].Shortcut) })
	return used
}

// handleEmoticonPayload keeps the custom emoticons a message defines for
// the sender's next text. It reports whether payload was such a message.
// Malformed definitions are logged; the text that follows arrives with
// the emoticons that could be read.
func (sb *sbConn) handleEmoticonPayload(from string, payload []byte) bool {
	head, _, _ := bytes.Cut(payload, []byte("\r\n\r\n"))
	if !bytes.Contains(bytes.ToLower(head), []byte("x-mms-")) {
		return false // cheap test first: most messages are text
	}
	m := parseMessage(payload)
	ok, animated := isEmoticonType(m.ContentType())
	if !ok {
		return false
	}
	defs, err := ParseEmoticonHeader(m.Body, animated)
	if err != nil {
		sb.log.Warn().Err(err).Str("from", from).Int("kept", len(defs)).Msg("Malformed custom emoticon definitions")
	}
	if len(defs) > 0 {
		sb.emoticons.define(from, defs)
		if from != sb.self {
			// Ask for the images where the definitions came from, as
			// Pidgin does: the sender is there, and no new switchboard
			// has to be opened while the message waits for them.
			sb.s.c.routeP2P(from, sb)
		}
	}
	return true
}

// routeP2P makes sb the switchboard P2P messages to peer go on while it
// is open.
func (c *Client) routeP2P(peer string, sb *sbConn) {
	st := c.p2pApps()
	st.routeMu.Lock()
	st.route[peer] = sb
	st.routeMu.Unlock()
}

// FetchEmoticon fetches the image of a custom emoticon over P2P from the
// contact who defined it (the sender of the message that uses it), and
// returns it once its SHA-1 matches the SHA1D. Images over
// Config.MaxPictureSize are refused.
func (c *Client) FetchEmoticon(ctx context.Context, email string, e Emoticon) ([]byte, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if _, err := checkEmail(email); err != nil {
		return nil, fmt.Errorf("fetch emoticon: %w", err)
	}
	obj, err := p2p.ParseMSNObject(e.MSNObject)
	if err != nil {
		return nil, fmt.Errorf("fetch emoticon %q of %s: %w", e.Shortcut, email, err)
	}
	if _, err := c.connected(); err != nil {
		return nil, fmt.Errorf("fetch emoticon %q of %s: %w", e.Shortcut, email, err)
	}
	data, err := c.p2pApps().objects.Fetch(ctx, email, obj, 0)
	if err != nil {
		return nil, fmt.Errorf("fetch emoticon %q: %w", e.Shortcut, err)
	}
	return data, nil
}
