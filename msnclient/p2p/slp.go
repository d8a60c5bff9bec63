package p2p

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MSNSLP content types.
const (
	SLPSessionReq   = "application/x-msnmsgr-sessionreqbody"
	SLPSessionClose = "application/x-msnmsgr-sessionclosebody"
	SLPTransReq     = "application/x-msnmsgr-transreqbody"
	SLPTransResp    = "application/x-msnmsgr-transrespbody"
)

// maxSLPHeaders bounds the header lines of one MSNSLP message.
const maxSLPHeaders = 64

// ErrBadSLP is wrapped by every MSNSLP parse error.
var ErrBadSLP = errors.New("p2p: malformed MSNSLP message")

// SLPHeader is one "Name: value" line.
type SLPHeader struct {
	Name, Value string
}

// SLPMessage is an MSNSLP request (INVITE, BYE, ACK) or response
// (MSNSLP/1.0 200 OK). Body is the text after the empty line, without the
// trailing NUL.
type SLPMessage struct {
	Method     string // request method; "" for a response
	URI        string // request target, "MSNMSGR:email"
	StatusCode int    // response status, e.g. 200
	Reason     string // response reason, e.g. "OK"
	Headers    []SLPHeader
	Body       string
}

// IsResponse reports whether m is a response.
func (m *SLPMessage) IsResponse() bool { return m.Method == "" }

// Get returns the first value of a header (case-insensitive), or "".
func (m *SLPMessage) Get(name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Set replaces or adds a header.
func (m *SLPMessage) Set(name, value string) {
	for i, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			m.Headers[i].Value = value
			return
		}
	}
	m.Headers = append(m.Headers, SLPHeader{name, value})
}

// ContentType returns the Content-Type header, lower-cased.
func (m *SLPMessage) ContentType() string { return strings.ToLower(m.Get("Content-Type")) }

// CallID returns the Call-ID header.
func (m *SLPMessage) CallID() string { return strings.TrimSpace(m.Get("Call-ID")) }

// Branch returns the branch GUID of the Via header, "" when none.
func (m *SLPMessage) Branch() string {
	via := m.Get("Via")
	i := strings.Index(strings.ToLower(via), "branch=")
	if i < 0 {
		return ""
	}
	b := via[i+len("branch="):]
	if j := strings.IndexAny(b, "; "); j >= 0 {
		b = b[:j]
	}
	return b
}

// From returns the email of the From header ("<msnmsgr:email>").
func (m *SLPMessage) From() string { return slpAddress(m.Get("From")) }

// To returns the email of the To header.
func (m *SLPMessage) To() string { return slpAddress(m.Get("To")) }

func slpAddress(v string) string {
	v = strings.Trim(strings.TrimSpace(v), "<>")
	if i := strings.IndexByte(v, ':'); i >= 0 && strings.EqualFold(v[:i], "msnmsgr") {
		v = v[i+1:]
	}
	return splitEndpoint(v)
}

// BodyFields parses a "Key: value" body (sessionreqbody, transreqbody).
func (m *SLPMessage) BodyFields() map[string]string {
	out := make(map[string]string)
	for _, line := range strings.Split(m.Body, "\n") {
		name, value, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if !ok || len(out) >= maxSLPHeaders {
			continue
		}
		out[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(value)
	}
	return out
}

// ParseSLP parses a reassembled MSNSLP message. Text is cut at the first
// NUL; the body is Content-Length bytes (fewer if the message is shorter)
// without its trailing NUL.
func ParseSLP(b []byte) (*SLPMessage, error) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrBadSLP)
	}
	head, body, ok := bytes.Cut(b, []byte("\r\n\r\n"))
	if !ok {
		return nil, fmt.Errorf("%w: no end of headers", ErrBadSLP)
	}
	lines := strings.Split(string(head), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], "\r")
	}
	m := &SLPMessage{}
	start := strings.Fields(lines[0])
	switch {
	case len(start) >= 2 && start[0] == "MSNSLP/1.0":
		code, err := strconv.Atoi(start[1])
		if err != nil || code < 100 || code > 999 {
			return nil, fmt.Errorf("%w: bad status line %q", ErrBadSLP, lines[0])
		}
		m.StatusCode = code
		m.Reason = strings.Join(start[2:], " ")
	case len(start) == 3 && start[2] == "MSNSLP/1.0" && isToken(start[0]):
		m.Method, m.URI = start[0], start[1]
	default:
		return nil, fmt.Errorf("%w: bad start line %q", ErrBadSLP, truncate(lines[0], 64))
	}
	for _, line := range lines[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" {
			continue
		}
		if len(m.Headers) >= maxSLPHeaders {
			return nil, fmt.Errorf("%w: too many headers", ErrBadSLP)
		}
		m.Headers = append(m.Headers, SLPHeader{strings.TrimSpace(cleanLine(name)), strings.TrimSpace(cleanLine(value))})
	}
	if cl := m.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: bad Content-Length %q", ErrBadSLP, truncate(cl, 32))
		}
		if n < len(body) {
			body = body[:n]
		}
	}
	m.Body = string(body)
	if m.CallID() == "" {
		return nil, fmt.Errorf("%w: no Call-ID", ErrBadSLP)
	}
	return m, nil
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return s != ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Marshal returns the wire form: start line, headers with Content-Length
// set to the body plus its trailing NUL, the body and the NUL.
func (m *SLPMessage) Marshal() []byte {
	var b bytes.Buffer
	if m.Method != "" {
		fmt.Fprintf(&b, "%s %s MSNSLP/1.0\r\n", m.Method, m.URI)
	} else {
		fmt.Fprintf(&b, "MSNSLP/1.0 %d %s\r\n", m.StatusCode, m.Reason)
	}
	m.Set("Content-Length", strconv.Itoa(len(m.Body)+1))
	for _, h := range m.Headers {
		b.WriteString(cleanLine(h.Name) + ": " + cleanLine(h.Value) + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(m.Body)
	b.WriteByte(0)
	return b.Bytes()
}

func cleanLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return -1
		}
		return r
	}, s)
}

// newSLPRequest builds a request from -> to with the headers real clients
// send, in their order.
func newSLPRequest(method, from, to, branch, callID string, cseq int, contentType, body string) *SLPMessage {
	return &SLPMessage{
		Method: method,
		URI:    "MSNMSGR:" + to,
		Headers: []SLPHeader{
			{"To", "<msnmsgr:" + to + ">"},
			{"From", "<msnmsgr:" + from + ">"},
			{"Via", "MSNSLP/1.0/TLP ;branch=" + branch},
			{"CSeq", strconv.Itoa(cseq) + " "},
			{"Call-ID", callID},
			{"Max-Forwards", "0"},
			{"Content-Type", contentType},
		},
		Body: body,
	}
}

// newSLPResponse builds a response to req from us (req's To) to its
// sender, with req's branch and Call-ID.
func newSLPResponse(req *SLPMessage, code int, reason, contentType, body string) *SLPMessage {
	cseq := 1
	if f := strings.Fields(req.Get("CSeq")); len(f) > 0 {
		if n, err := strconv.Atoi(f[0]); err == nil {
			cseq = n + 1
		}
	}
	return &SLPMessage{
		StatusCode: code,
		Reason:     reason,
		Headers: []SLPHeader{
			{"To", "<msnmsgr:" + req.From() + ">"},
			{"From", "<msnmsgr:" + req.To() + ">"},
			{"Via", "MSNSLP/1.0/TLP ;branch=" + req.Branch()},
			{"CSeq", strconv.Itoa(cseq) + " "},
			{"Call-ID", req.CallID()},
			{"Max-Forwards", "0"},
			{"Content-Type", contentType},
		},
		Body: body,
	}
}
