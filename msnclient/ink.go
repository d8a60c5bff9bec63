package msnclient

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// Content types of handwritten (ink) messages.
const (
	// InkGIF is ink drawn as a GIF image (what WLM and Pidgin show).
	InkGIF = "image/gif"
	// InkISF is ink in Microsoft's Ink Serialized Format (strokes, not an
	// image).
	InkISF = "application/x-ms-ink"
)

// inkSessionID is the P2P session id WLM sends one-to-one ink on: a bare
// data message with no MSNSLP call before it (libpurple, aMSN).
const inkSessionID = 64

// MaxInkSize bounds the decoded data of one ink message. A drawing from
// WLM's ink pad is a few KiB; a switchboard message cannot carry much more
// than 64 KiB even chunked.
const MaxInkSize = 256 << 10

// maxP2PInk bounds a P2P ink message before decoding: UTF-16 doubles the
// base64 text, which is 4/3 of the data.
const maxP2PInk = 2*(MaxInkSize*4/3+8) + 512

// Errors of ink messages (Ink.Err wraps one).
var (
	ErrBadInk      = errors.New("msn: malformed ink message")
	ErrInkTooLarge = errors.New("msn: ink message over the size limit")
)

// Ink is a handwritten message. Data holds the decoded drawing (a GIF for
// InkGIF, ISF strokes for InkISF); when it could not be decoded Err is set
// and Data is nil.
type Ink struct {
	ConversationEvent
	From        string
	ContentType string // InkGIF or InkISF
	Data        []byte
	Err         error
}

// isInkType reports whether a switchboard content type is an ink message.
func isInkType(ct string) bool { return ct == InkGIF || ct == InkISF }

// inkEvent decodes the body of an ink MSG (group conversations, or
// clients that do not use P2P for it).
func inkEvent(from, ct string, body []byte) *Ink {
	data, err := DecodeInk(body)
	return &Ink{From: from, ContentType: ct, Data: data, Err: err}
}

// DecodeInk decodes the body of an ink message: "base64:" and the data in
// base64 (line breaks and a trailing NUL tolerated). It fails with
// ErrBadInk or ErrInkTooLarge.
func DecodeInk(body []byte) ([]byte, error) {
	body = bytes.TrimRight(body, "\x00\r\n\t ")
	body = bytes.TrimLeft(body, "\r\n\t ")
	const prefix = "base64:"
	if len(body) < len(prefix) || !strings.EqualFold(string(body[:len(prefix)]), prefix) {
		return nil, fmt.Errorf("%w: no base64: prefix", ErrBadInk)
	}
	enc := body[len(prefix):]
	if len(enc) > 2*base64.StdEncoding.EncodedLen(MaxInkSize) { // room for line breaks
		return nil, fmt.Errorf("%w: %d bytes of base64, limit %d bytes of data", ErrInkTooLarge, len(enc), MaxInkSize)
	}
	clean := make([]byte, 0, len(enc))
	for _, b := range enc {
		switch b {
		case '\r', '\n', ' ', '\t':
		default:
			clean = append(clean, b)
		}
	}
	enc = bytes.TrimRight(clean, "=")
	data := make([]byte, base64.RawStdEncoding.DecodedLen(len(enc)))
	n, err := base64.RawStdEncoding.Decode(data, enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInk, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no data", ErrBadInk)
	}
	if n > MaxInkSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInkTooLarge, n, MaxInkSize)
	}
	return data[:n], nil
}

// decodeP2PInk decodes the data of a P2P ink message: UTF-16LE text made
// of MIME headers ("Content-Type: image/gif"), a blank line, a NUL, then
// the "base64:..." body and a final NUL. It returns the content type and
// the decoded drawing.
func decodeP2PInk(data []byte) (string, []byte, error) {
	if len(data)%2 != 0 {
		return "", nil, fmt.Errorf("%w: odd length %d for UTF-16 text", ErrBadInk, len(data))
	}
	units := make([]uint16, len(data)/2)
	for i := range units {
		units[i] = uint16(data[2*i]) | uint16(data[2*i+1])<<8
	}
	// Headers end at the first NUL, the body at the next.
	end := func(u []uint16) int {
		for i, c := range u {
			if c == 0 {
				return i
			}
		}
		return len(u)
	}
	h := end(units)
	if h == len(units) {
		return "", nil, fmt.Errorf("%w: no NUL after the headers", ErrBadInk)
	}
	head := parseMessage([]byte(string(utf16.Decode(units[:h]))))
	ct := head.ContentType()
	if !isInkType(ct) {
		return "", nil, fmt.Errorf("%w: content type %q", ErrBadInk, truncateString(ct, 64))
	}
	rest := units[h+1:]
	body := []byte(string(utf16.Decode(rest[:end(rest)])))
	ink, err := DecodeInk(body)
	return ct, ink, err
}

// truncateString cuts s to at most n bytes for messages.
func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
