package rsi

import (
	"errors"
	"fmt"
	"mime"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
)

// MaxMailData bounds a Mail-Data value or <MD> document.
const MaxMailData = 1 << 20

// TypeOfflineMessage is the <T> of an offline message in Mail-Data.
const TypeOfflineMessage = 11

// MailData is a parsed Mail-Data value.
type MailData struct {
	// TooLarge is set for "Mail-Data: too-large" (more than 25 messages):
	// the list must be fetched with GetMetadata.
	TooLarge bool
	// Messages are the offline messages listed, oldest first when their
	// times are known.
	Messages []Metadata
	// Skipped counts entries that were not offline messages or were
	// malformed (no id, no valid sender).
	Skipped int
}

// Metadata describes one waiting offline message.
type Metadata struct {
	ID       string    // message id, as the server gave it
	From     string    // sender email, lower-cased
	FromName string    // sender friendly name, decoded; may be empty
	Received time.Time // zero when the list did not say (live notifications)
	Size     int       // size of the GetMessage text in bytes, 0 if unknown
	Read     bool
}

// ErrMalformed wraps every parse error of this package.
var ErrMalformed = errors.New("rsi: malformed data")

type mdDoc struct {
	Messages []mdEntry `xml:"M"`
}

type mdEntry struct {
	T  string `xml:"T"`
	RT string `xml:"RT"`
	RS string `xml:"RS"`
	SZ string `xml:"SZ"`
	E  string `xml:"E"`
	I  string `xml:"I"`
	N  string `xml:"N"`
}

// ParseMailData parses the value of a Mail-Data header: "too-large" or an
// <MD> document.
func ParseMailData(value string) (*MailData, error) {
	value = strings.TrimSpace(value)
	if strings.EqualFold(value, "too-large") {
		return &MailData{TooLarge: true}, nil
	}
	if value == "" {
		return nil, fmt.Errorf("%w: empty Mail-Data", ErrMalformed)
	}
	md, skipped, err := parseMD([]byte(value))
	if err != nil {
		return nil, err
	}
	return &MailData{Messages: md, Skipped: skipped}, nil
}

// ParseMetadata parses an <MD> document (GetMetadata) into the offline
// messages it lists, skipping malformed entries.
func ParseMetadata(data []byte) ([]Metadata, error) {
	md, _, err := parseMD(data)
	return md, err
}

func parseMD(data []byte) ([]Metadata, int, error) {
	if len(data) > MaxMailData {
		return nil, 0, fmt.Errorf("%w: mail data of %d bytes", ErrMalformed, len(data))
	}
	var doc mdDoc
	if err := xmlsafe.Unmarshal(data, &doc); err != nil {
		return nil, 0, fmt.Errorf("%w: mail data: %w", ErrMalformed, err)
	}
	out := make([]Metadata, 0, len(doc.Messages))
	skipped := 0
	for _, e := range doc.Messages {
		m, ok := e.metadata()
		if !ok {
			skipped++
			continue
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Received.Before(out[j].Received) })
	return out, skipped, nil
}

func (e mdEntry) metadata() (Metadata, bool) {
	if t := strings.TrimSpace(e.T); t != "" && t != strconv.Itoa(TypeOfflineMessage) {
		return Metadata{}, false
	}
	id := strings.TrimSpace(e.I)
	from, err := CheckEmail(e.E)
	if !ValidID(id) || err != nil {
		return Metadata{}, false
	}
	m := Metadata{ID: id, From: from, FromName: oneLine(DecodeWords(e.N)), Read: strings.TrimSpace(e.RS) == "1"}
	if rt := strings.TrimSpace(e.RT); rt != "" {
		if t, err := time.Parse(time.RFC3339, rt); err == nil {
			m.Received = t.UTC()
		}
	}
	if sz, err := strconv.Atoi(strings.TrimSpace(e.SZ)); err == nil && sz > 0 {
		m.Size = sz
	}
	return m, true
}

var idRe = regexp.MustCompile(`^[A-Za-z0-9{}._-]{1,100}$`)

// ValidID reports whether id is a plausible message id (a GUID, possibly in
// braces): ids are stored and sent back, so anything else is refused.
func ValidID(id string) bool { return idRe.MatchString(id) }

// CheckEmail lower-cases an address and refuses anything that is not one.
func CheckEmail(s string) (string, error) {
	email := strings.ToLower(strings.TrimSpace(s))
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || len(email) > 254 || strings.ContainsAny(email, " \t\r\n\x00%<>\"'&;,()[]:\\") {
		return "", fmt.Errorf("%w: invalid email %q", ErrMalformed, s)
	}
	return email, nil
}

// wordDecoder decodes RFC 2047 words in every charset the charset package
// knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

var (
	encodedWordRe = regexp.MustCompile(`=\?[^?\s]+\?[bBqQ]\?[^?]*\?=`)
	looseWordRe   = regexp.MustCompile(`=\?[^?]+\?[bBqQ]\?[^?]*\?=`)
)

// DecodeWords decodes RFC 2047 encoded words ("=?utf-8?B?Qm9i?="). Escargot
// puts a space before "?=" in live notifications; that is tolerated. Text
// that cannot be decoded is returned as it was, made valid UTF-8.
func DecodeWords(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if dec, err := wordDecoder.DecodeHeader(s); err == nil && !strings.Contains(dec, "=?") {
		return cleanText(dec)
	}
	// Tolerate whitespace inside encoded words.
	fixed := looseWordRe.ReplaceAllStringFunc(s, func(w string) string {
		return strings.Join(strings.Fields(w), "")
	})
	fixed = encodedWordRe.ReplaceAllStringFunc(fixed, func(w string) string {
		if dec, err := wordDecoder.Decode(w); err == nil {
			return dec
		}
		return w
	})
	return cleanText(fixed)
}

// cleanText makes s valid UTF-8 without control characters other than
// tab and line breaks.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' {
			return r
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// oneLine collapses all whitespace (line breaks included) to single spaces:
// names are shown on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
