package rsi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

// Limits of one offline message.
const (
	// MaxMessage bounds the RFC 822 text of one offline message. Real ones
	// are under 2 KiB; the MSN client refused to send longer.
	MaxMessage = 64 << 10
	// maxParts bounds the parts of a multipart message looked at.
	maxParts = 16
)

// Message is one decoded offline message.
type Message struct {
	From     string    // sender email, lower-cased
	FromName string    // sender friendly name (RFC 2047 decoded), may be empty
	Time     time.Time // when it was sent (Date, else X-OriginalArrivalTime); zero if unknown
	Text     string    // the text, UTF-8, LF line breaks
	RunID    string    // X-OIM-Run-Id without braces, upper-cased; "" if absent
	Sequence int       // X-OIM-Sequence-Num, 0 if absent
}

// ErrBadMessage wraps the errors of ParseMessage: the message cannot be
// shown and must be kept on the server.
var ErrBadMessage = errors.New("rsi: undecodable offline message")

// ErrUnknownCharset is wrapped when a message names a charset we cannot
// decode.
var ErrUnknownCharset = errors.New("unknown charset")

// ParseMessage decodes the RFC 822 text GetMessage returns: headers (RFC
// 2047 names), a text/plain body (possibly inside a multipart one), base64,
// quoted-printable or 7/8-bit, in any charset the charset package knows.
func ParseMessage(raw []byte) (*Message, error) {
	if len(raw) > MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadMessage, len(raw), MaxMessage)
	}
	// Some servers send LF line ends; net/mail wants either consistently.
	msg, err := mail.ReadMessage(bytes.NewReader(normalizeHeaderEnd(raw)))
	if err != nil {
		return nil, fmt.Errorf("%w: headers: %w", ErrBadMessage, err)
	}
	m := &Message{}
	m.From, m.FromName, err = parseFrom(msg.Header.Get("From"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	m.Time = messageTime(msg.Header)
	m.RunID = strings.ToUpper(strings.Trim(strings.TrimSpace(msg.Header.Get("X-OIM-Run-Id")), "{}"))
	if n, err := strconv.Atoi(strings.TrimSpace(msg.Header.Get("X-OIM-Sequence-Num"))); err == nil && n > 0 {
		m.Sequence = n
	}
	text, err := decodeBody(headerOf(msg.Header), msg.Body, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	m.Text = text
	return m, nil
}

// normalizeHeaderEnd makes sure the header block ends with a blank line
// (a message with headers only has none).
func normalizeHeaderEnd(raw []byte) []byte {
	if bytes.Contains(raw, []byte("\n\n")) || bytes.Contains(raw, []byte("\r\n\r\n")) {
		return raw
	}
	return append(bytes.TrimRight(raw, "\r\n"), "\r\n\r\n"...)
}

// partHeader is the part of a MIME header the body decoder needs.
type partHeader interface{ Get(key string) string }

func headerOf(h mail.Header) partHeader { return h }

// parseFrom returns the sender's email and decoded name.
func parseFrom(from string) (string, string, error) {
	from = strings.TrimSpace(from)
	if from == "" {
		return "", "", errors.New("no From header")
	}
	parser := mail.AddressParser{WordDecoder: wordDecoder}
	if addr, err := parser.Parse(from); err == nil {
		email, err := CheckEmail(addr.Address)
		if err != nil {
			return "", "", err
		}
		return email, oneLine(cleanText(addr.Name)), nil
	}
	// Tolerate what net/mail refuses: "name <email>" with odd characters
	// in the name, or a bare email.
	name, rest, ok := strings.Cut(from, "<")
	if !ok {
		email, err := CheckEmail(from)
		return email, "", err
	}
	email, _, _ := strings.Cut(rest, ">")
	addr, err := CheckEmail(email)
	if err != nil {
		return "", "", err
	}
	return addr, oneLine(DecodeWords(strings.Trim(strings.TrimSpace(name), `"`))), nil
}

// messageTime reads the send time from Date, else X-OriginalArrivalTime.
func messageTime(h mail.Header) time.Time {
	if t, err := mail.ParseDate(h.Get("Date")); err == nil {
		return t.UTC()
	}
	arrival := h.Get("X-OriginalArrivalTime")
	if i := strings.Index(arrival, "("); i > 0 {
		arrival = arrival[:i]
	}
	arrival = strings.TrimSpace(arrival)
	for _, layout := range []string{"02 Jan 2006 15:04:05.0000", "2 Jan 2006 15:04:05.0000", "02 Jan 2006 15:04:05"} {
		if t, err := time.Parse(layout, arrival); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// decodeBody returns the text of a body with the given header.
func decodeBody(h partHeader, body io.Reader, depth int) (string, error) {
	ct := h.Get("Content-Type")
	mediaType, params := "text/plain", map[string]string{}
	if strings.TrimSpace(ct) != "" {
		var err error
		mediaType, params, err = mime.ParseMediaType(ct)
		if err != nil {
			return "", fmt.Errorf("content type %q: %w", ct, err)
		}
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		if depth > 2 {
			return "", errors.New("multipart nested too deep")
		}
		return decodeMultipart(body, params["boundary"], depth)
	case mediaType != "text/plain":
		return "", fmt.Errorf("content type %q is not text", mediaType)
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxMessage+1))
	if err != nil {
		return "", fmt.Errorf("read body: %w", err)
	}
	data, err = decodeTransfer(h.Get("Content-Transfer-Encoding"), data)
	if err != nil {
		return "", err
	}
	text, err := toUTF8(params["charset"], data)
	if err != nil {
		return "", err
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	return cleanText(text), nil
}

// decodeMultipart returns the text of the first text/plain part.
func decodeMultipart(body io.Reader, boundary string, depth int) (string, error) {
	if boundary == "" {
		return "", errors.New("multipart without boundary")
	}
	r := multipart.NewReader(body, boundary)
	for i := 0; i < maxParts; i++ {
		p, err := r.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("multipart: %w", err)
		}
		ct := p.Header.Get("Content-Type")
		mt, _, _ := mime.ParseMediaType(ct)
		if ct != "" && mt != "text/plain" && !strings.HasPrefix(mt, "multipart/") {
			continue
		}
		return decodeBody(p.Header, p, depth+1)
	}
	return "", errors.New("multipart message without a text part")
}

// decodeTransfer undoes a Content-Transfer-Encoding.
func decodeTransfer(cte string, data []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, data)
		enc := base64.StdEncoding
		if len(clean)%4 != 0 {
			enc = base64.RawStdEncoding
			clean = bytes.TrimRight(clean, "=")
		}
		out := make([]byte, enc.DecodedLen(len(clean)))
		n, err := enc.Decode(out, clean)
		if err != nil {
			return nil, fmt.Errorf("base64 body: %w", err)
		}
		return out[:n], nil
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(data)))
		if err != nil {
			return nil, fmt.Errorf("quoted-printable body: %w", err)
		}
		return out, nil
	case "", "7bit", "8bit", "binary":
		return data, nil
	default:
		return nil, fmt.Errorf("unknown transfer encoding %q", cte)
	}
}

// toUTF8 converts data from a charset to UTF-8. UTF-8 and ASCII are only
// made valid; unknown charsets are an error (the message is kept).
func toUTF8(label string, data []byte) (string, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		if utf8.Valid(data) {
			return string(data), nil
		}
		return strings.ToValidUTF8(string(data), "\uFFFD"), nil
	}
	r, err := charsetReader(label, bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("charset %q: %w", label, err)
	}
	return string(out), nil
}

// charsetReader decodes any charset of the WHATWG encoding list.
func charsetReader(label string, input io.Reader) (io.Reader, error) {
	enc, name := charset.Lookup(strings.TrimSpace(label))
	if enc == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownCharset, label)
	}
	if name == "utf-8" {
		return input, nil
	}
	return enc.NewDecoder().Reader(input), nil
}
