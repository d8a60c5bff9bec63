package msnclient

import (
	"bytes"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
	"strings"
	"unicode/utf8"
)

// Content types of switchboard messages.
const (
	ctText     = "text/plain"
	ctControl  = "text/x-msmsgscontrol"
	ctDatacast = "text/x-msnmsgr-datacast"
)

// mimeHeader is one "Name: value" header line of a switchboard message.
type mimeHeader struct {
	Name  string
	Value string
}

// mimeMessage is a parsed switchboard MSG payload: MIME-like headers and a
// body. Header names are matched case-insensitively.
type mimeMessage struct {
	Headers []mimeHeader
	Body    []byte
}

// parseMessage parses a MSG payload. It never fails: a payload without a
// blank line is all headers, lines without a colon are skipped, header values
// are made valid UTF-8 and the body is kept as received.
func parseMessage(payload []byte) *mimeMessage {
	head, body := splitHeaderBody(payload)
	m := &mimeMessage{Body: body}
	for len(head) > 0 {
		var line []byte
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			line, head = head, nil
		}
		line = bytes.TrimRight(line, "\r")
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := strings.TrimSpace(string(line[:colon]))
		if name == "" {
			continue
		}
		value := strings.TrimSpace(string(line[colon+1:]))
		if !utf8.ValidString(value) {
			value = strings.ToValidUTF8(value, "\uFFFD")
		}
		m.Headers = append(m.Headers, mimeHeader{Name: name, Value: value})
	}
	return m
}

// splitHeaderBody splits at the first empty line (CRLF CRLF, or bare LF LF
// from sloppy clients).
func splitHeaderBody(p []byte) (head, body []byte) {
	crlf := bytes.Index(p, []byte("\r\n\r\n"))
	lf := bytes.Index(p, []byte("\n\n"))
	switch {
	case crlf >= 0 && (lf < 0 || crlf <= lf):
		return p[:crlf], p[crlf+4:]
	case lf >= 0:
		return p[:lf], p[lf+2:]
	}
	return p, nil
}

// Get returns the first value of a header, or "".
func (m *mimeMessage) Get(name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// ContentType returns the lower-cased media type without parameters;
// a missing Content-Type counts as text/plain, as MSN clients treat it.
func (m *mimeMessage) ContentType() string {
	ct := m.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.ToLower(strings.TrimSpace(ct))
	if ct == "" {
		return ctText
	}
	return ct
}

// Text returns the body as valid UTF-8 with CRLF line breaks turned into LF.
func (m *mimeMessage) Text() string {
	s := string(m.Body)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// bodyFields parses a "Key: value" body such as a datacast's.
func (m *mimeMessage) bodyFields() *mimeMessage {
	return parseMessage(append(bytes.TrimLeft(m.Body, "\r\n"), "\r\n\r\n"...))
}

// appendHeader appends one header line; the value is cleaned so that it
// cannot end the header early or inject lines.
func appendHeader(buf []byte, name, value string) []byte {
	buf = append(buf, name...)
	buf = append(buf, ": "...)
	buf = append(buf, cleanHeaderValue(value)...)
	return append(buf, "\r\n"...)
}

func cleanHeaderValue(v string) string {
	if strings.ContainsAny(v, "\r\n\x00") || !utf8.ValidString(v) {
		return strings.TrimSpace(msnp.CleanText(v))
	}
	return v
}

// textHeader is the fixed beginning of every text message we send.
const textHeader = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"

// buildTextHeader returns the headers (blank line included) of a text message.
func buildTextHeader(f Format) []byte {
	buf := make([]byte, 0, len(textHeader)+80)
	buf = append(buf, textHeader...)
	buf = appendHeader(buf, "X-MMS-IM-Format", formatHeader(f))
	return append(buf, "\r\n"...)
}

// buildTyping returns a typing notification payload.
func buildTyping(email string) []byte {
	buf := []byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\n")
	buf = appendHeader(buf, "TypingUser", email)
	return append(buf, "\r\n\r\n"...)
}

// nudgePayload is a nudge (datacast ID 1).
const nudgePayload = "MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n\r\n"

// normalizeText makes outgoing text valid UTF-8 with CRLF line breaks and no
// NUL bytes. Line breaks are allowed in a body: the payload is length-framed.
func normalizeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}
